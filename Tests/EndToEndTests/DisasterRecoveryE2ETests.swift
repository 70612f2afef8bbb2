import Foundation
import XCTest

/// The runbook's reason to exist: infra-core is rebuilt from nothing — a fresh database volume with an
/// empty `authentik` database and a freshly installed agent with a new signing key — and the newest
/// backup, signed by the old key, must come back once the operator trusts that key on the new host.
final class DisasterRecoveryE2ETests: XCTestCase {
    let akbackup = Lab.controllerBinary
    let state = "/var/lib/akbackup-agent"
    let saved = "/var/lib/akbackup-lab/dr-saved"

    override func setUpWithError() throws {
        try Lab.require()
        removeWhatThisTestStores()
        try RestoreFixture.dropAkbackupDatabases()
    }

    func testRebuiltInfraCoreRestoresTheOldKeysBackupOnceTheOperatorTrustsIt() throws {
        let artifact = try RestoreFixture.freshBackup()
        let atBackup = try RestoreFixture.liveContent()
        let oldKey = try String(contentsOfFile: "\(state)/signing.pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let config = "/etc/akbackup/agent.toml"
        let configBefore = try Data(contentsOf: URL(fileURLWithPath: config))

        // Whatever happens, infra-core gets its real key and config back, and the lab its sample data.
        try FileManager.default.createDirectory(atPath: saved, withIntermediateDirectories: true)
        for f in ["signing.key", "signing.pub"] {
            try? FileManager.default.removeItem(atPath: "\(saved)/\(f)")
            try FileManager.default.moveItem(atPath: "\(state)/\(f)", toPath: "\(saved)/\(f)")
        }
        var recovered = false
        defer {
            for f in ["signing.key", "signing.pub"] {
                try? FileManager.default.removeItem(atPath: "\(state)/\(f)")
                try? FileManager.default.moveItem(atPath: "\(saved)/\(f)", toPath: "\(state)/\(f)")
            }
            try? configBefore.write(to: URL(fileURLWithPath: config))
            try? RestoreFixture.dropAkbackupDatabases()
            if !recovered { _ = try? Lab.run([Lab.sampleDataScript, "--scale", "1"], timeout: 600) }
        }

        // The rebuild: a new agent key (what the package's postinst makes, as root on infra-core)...
        let newKey = try Lab.run(["ip", "netns", "exec", Lab.infraNamespace, Lab.agentBinary, "key", "--init", "--group", "akbackup"])
        XCTAssertTrue(newKey.ok, newKey.description)
        XCTAssertNotEqual(newKey.stdout.trimmingCharacters(in: .whitespacesAndNewlines), oldKey)
        // ...and a fresh database volume: an empty authentik database.
        for step in [["docker", "compose", "rm", "--stop", "--force", "authentik-postgres"],
                     ["docker", "volume", "rm", "caddy-auth_database"],
                     ["docker", "compose", "up", "-d"]] {
            let r = try Lab.runAsAgentInStack(step, timeout: 180)
            XCTAssertTrue(r.ok, r.description)
        }
        try Lab.waitUntil("the new, empty database is up", timeout: 120) { try Lab.containerHealth("authentik-postgres") == "healthy" }
        XCTAssertEqual(try Lab.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public';").stdout.trimmingCharacters(in: .whitespacesAndNewlines), "0")

        // The newest backup is signed by the old key: refused, with the exact command to run.
        let refused = try Lab.runAsOperator([akbackup, "restore", "latest", "--yes"], timeout: 300)
        XCTAssertNotEqual(refused.status, 0, refused.description)
        XCTAssertTrue(refused.stderr.contains("akbackup-agent trust-key \(oldKey)"), refused.description)

        // The operator does exactly that on infra-core...
        let trust = try Lab.run(["ip", "netns", "exec", Lab.infraNamespace, Lab.agentBinary, "trust-key", oldKey])
        XCTAssertTrue(trust.ok, trust.description)
        // ...and the backup comes back; Authentik is healthy with the backed-up content.
        let r = try Lab.runAsOperator([akbackup, "restore", "latest", "--yes", "--json"], timeout: 600)
        XCTAssertEqual(r.status, 0, r.description)
        let receipt = try RestoreFixture.jsonObject(in: r)
        XCTAssertEqual(receipt["artifact"] as? String, artifact)
        XCTAssertEqual(receipt["outcome"] as? String, "restored")
        XCTAssertEqual(try RestoreFixture.liveContent(), atBackup)
        XCTAssertEqual(try Lab.httpStatusFromInfra("http://\(Lab.containerIP("authentik-server")):9000/-/health/ready/"), 200)
        recovered = true
    }
}
