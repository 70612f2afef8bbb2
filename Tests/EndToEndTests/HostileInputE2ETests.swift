import Foundation
import XCTest

/// Artifacts crafted by someone who can write to the NAS (or holds the operator's key): none of them
/// may run anything, change the live database, create anything in the container, or leave anything
/// new on the NAS but a failed receipt.
final class HostileInputE2ETests: XCTestCase {
    let akbackup = Lab.controllerBinary

    override func setUpWithError() throws {
        try Lab.require()
        removeWhatThisTestStores()
        try RestoreFixture.dropAkbackupDatabases()
        _ = try Lab.run(["docker", "exec", "authentik-postgres", "sh", "-c", "rm -f /tmp/akbackup-marker-*"])
    }

    override func tearDownWithError() throws {
        guard Lab.whyNotUp() == nil else { return }
        try RestoreFixture.dropAkbackupDatabases()
        try RestoreFixture.removeCraftedArtifacts()
        _ = try? Lab.psql("DROP TABLE IF EXISTS public.akbackup_escaped;")
    }

    /// Statements an attacker slips into a dump, each with what would prove it ran.
    static let payloads: [(label: String, sql: String)] = [
        ("psql meta-command", "\\! touch /tmp/akbackup-marker-shell\n"),
        ("meta-command mid-line", "SELECT 1 \\! touch /tmp/akbackup-marker-midline\n"),
        ("reconnect", "\\c postgres\nCREATE TABLE public.akbackup_escaped (x int);\n"),
        ("commit", "COMMIT;\nCREATE TABLE public.akbackup_escaped (x int);\n"),
        ("commit, odd spelling", "  Commit\t;\nCREATE TABLE public.akbackup_escaped (x int);\n"),
        ("end", "END;\nCREATE TABLE public.akbackup_escaped (x int);\n"),
        ("rollback then work", "ROLLBACK;\nCREATE TABLE public.akbackup_escaped (x int);\n"),
        ("abort", "ABORT;\n"),
        ("prepare transaction", "PREPARE TRANSACTION 'akbackup';\n"),
        ("copy to program", "COPY (SELECT 1) TO PROGRAM 'touch /tmp/akbackup-marker-program';\n"),
        ("copy from program", "COPY public.authentik_core_user FROM PROGRAM 'touch /tmp/akbackup-marker-from';\n"),
        ("alter system", "ALTER SYSTEM SET log_min_messages = 'panic';\n"),
        ("role", "CREATE ROLE akbackup_evil SUPERUSER LOGIN;\n"),
        ("set role", "SET ROLE postgres;\n"),
        ("untrusted language", "CREATE FUNCTION public.akbackup_evil() RETURNS int LANGUAGE c AS '/tmp/x', 'y';\n"),
        ("do block", "DO $$BEGIN PERFORM pg_catalog.pg_sleep(0); END$$;\n"),
        ("hidden in a dollar quote", "SELECT $a$ $b$; COMMIT; CREATE TABLE public.akbackup_escaped (x int); $a$;\n"),
    ]

    func markers() throws -> String {
        try Lab.run(["docker", "exec", "authentik-postgres", "sh", "-c", "ls /tmp/akbackup-marker-* 2>/dev/null || true"]).stdout
    }

    func escapedTableExists() throws -> Bool {
        try Lab.psql("SELECT to_regclass('public.akbackup_escaped') IS NOT NULL;").stdout.hasPrefix("t")
    }

    func testCraftedArtifactsAreRefusedAndNeverReachPsql() throws {
        let source = try RestoreFixture.freshBackup()
        let before = try RestoreFixture.liveContent()
        let serverStarted = try RestoreFixture.startedAt("authentik-server")
        for (i, payload) in Self.payloads.enumerated() {
            let stamp = String(format: "2001-02-%02dT000000Z", i + 1)
            let crafted = try RestoreFixture.craft(from: source, stamp: stamp) { gz in
                let text = String(decoding: try RestoreFixture.gunzip(gz), as: UTF8.self)
                // Right after pg_dump's SET preamble: before any real statement.
                let at = text.range(of: "SET statement_timeout = 0;\n")!.upperBound
                return try RestoreFixture.gzip(Array((String(text[..<at]) + payload.sql + String(text[at...])).utf8))
            }
            let artifactsBefore = Set(RestoreFixture.artifacts())
            // A forged manifest that carries the crafted file's true hash: no agent signed it.
            for command in [["restore-test", crafted], ["restore", crafted, "--yes"]] {
                let r = try Lab.runAsOperator([akbackup] + command, timeout: 300)
                XCTAssertNotEqual(r.status, 0, "\(payload.label): \(r.description)")
                XCTAssertTrue(r.stderr.contains("no agent signature"), "\(payload.label): refused before anything: \(r.stderr)")
            }
            // Even when the operator says to trust it, the replay filter refuses it before anything is created,
            // stopped or dropped, and before psql sees a byte of it.
            let lenient = try RestoreFixture.lenientConfig()
            for command in [["restore-test", crafted, "--trust-unsigned"], ["restore", crafted, "--yes", "--trust-unsigned", "--config", lenient],
                            ["restore", crafted, "--yes", "--trust-unsigned", "--replace", "--config", lenient]] {
                let r = try Lab.runAsOperator([akbackup] + command, timeout: 300)
                XCTAssertNotEqual(r.status, 0, "\(payload.label): \(r.description)")
                XCTAssertTrue(r.stderr.contains("refused before psql saw any of it"), "\(payload.label): \(r.stderr)")
            }
            // Without its administrator's leave, infra-core puts no unsigned content into live at all.
            let gated = try Lab.runAsOperator([akbackup, "restore", crafted, "--yes", "--trust-unsigned"], timeout: 300)
            XCTAssertNotEqual(gated.status, 0)
            XCTAssertTrue(gated.stderr.contains("allow_unsigned_restores"), "\(payload.label): \(gated.stderr)")
            XCTAssertEqual(try markers(), "", "\(payload.label): something ran in the container")
            XCTAssertFalse(try escapedTableExists(), "\(payload.label): a statement escaped the transaction")
            XCTAssertEqual(try RestoreFixture.akbackupDatabases(), [], "\(payload.label)")
            XCTAssertEqual(Set(RestoreFixture.artifacts()), artifactsBefore, "\(payload.label): nothing new on the NAS")
        }
        XCTAssertEqual(try RestoreFixture.liveContent(), before)
        XCTAssertEqual(try RestoreFixture.startedAt("authentik-server"), serverStarted, "the services never restarted")
        let roles = try Lab.psql("SELECT count(*) FROM pg_roles WHERE rolname = 'akbackup_evil';")
        XCTAssertEqual(roles.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "0")
    }

    func testAFutureDatedPlantedBackupNeverBecomesLatest() throws {
        let real = try RestoreFixture.freshBackup()
        let planted = try RestoreFixture.craft(from: real, stamp: "2099-01-01T000000Z") { $0 }
        let verify = try Lab.runAsOperator([akbackup, "verify", "--json"])
        XCTAssertEqual(try RestoreFixture.json(verify.stdout)["name"] as? String, real, "latest is the newest signed backup, not \(planted)")
        let r = try Lab.runAsOperator([akbackup, "restore-test", planted], timeout: 300)
        XCTAssertNotEqual(r.status, 0, r.description)
        XCTAssertEqual(try RestoreFixture.akbackupDatabases(), [])
    }

    func testAnOversizedManifestCountsAsNone() throws {
        let real = try RestoreFixture.freshBackup()
        let big = try RestoreFixture.craft(from: real, stamp: "2001-03-01T000000Z") { $0 }
        let manifest = "\(Lab.nasBackupDir)/\(big.dropLast(7)).json"
        var object = try RestoreFixture.json(try String(contentsOfFile: manifest, encoding: .utf8))
        object["padding"] = String(repeating: "x", count: 2 << 20)
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: manifest))
        let list = try Lab.runAsOperator([akbackup, "list"])
        XCTAssertTrue(list.ok, list.description)
        XCTAssertTrue(list.stdout.split(separator: "\n").first { $0.hasPrefix(big) }?.contains("no manifest") == true, list.stdout)
        let r = try Lab.runAsOperator([akbackup, "restore-test", big], timeout: 300)
        XCTAssertNotEqual(r.status, 0, r.description)
        XCTAssertTrue(r.stderr.contains("no agent signature"), r.description)
    }
}
