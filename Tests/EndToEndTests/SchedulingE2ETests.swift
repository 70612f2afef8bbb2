import Foundation
import XCTest

/// The systemd units the akbackup package installs, run the way systemd would run them: as the unit's
/// User= (the system user akbackup-runner, with its own key), with only the environment the unit
/// sets (`env -i`: no ssh-agent, no terminal, no operator's variables). The lab has no systemd as
/// PID 1, so the test runs each unit's command line itself; `deploy/test-packages` checks the units
/// with `systemd-analyze verify`.
final class SchedulingE2ETests: XCTestCase {
    static let unitDir = "/lib/systemd/system"

    override func setUpWithError() throws {
        try Lab.require()
        removeWhatThisTestStores()
        try RestoreFixture.dropAkbackupDatabases()
    }

    /// What a service unit says about how to run it.
    struct ServiceUnit {
        var user = "root"
        var environment: [String: String] = [:]
        var workingDirectory: String?
        var execStart: [String] = []

        init(_ name: String) throws {
            let text = try String(contentsOfFile: "\(SchedulingE2ETests.unitDir)/\(name)", encoding: .utf8)
            for raw in text.split(separator: "\n") {
                let line = raw.trimmingCharacters(in: .whitespaces)
                guard !line.hasPrefix("#"), let eq = line.firstIndex(of: "=") else { continue }
                let key = String(line[..<eq]), value = String(line[line.index(after: eq)...])
                switch key {
                case "User": user = value
                case "WorkingDirectory": workingDirectory = value
                case "ExecStart": execStart = value.split(separator: " ").map(String.init)
                case "Environment":
                    for pair in value.split(separator: " ") {
                        let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                        if kv.count == 2 { environment[kv[0]] = kv[1] }
                    }
                default: break
                }
            }
        }
    }

    /// systemd's environment for a system service (its default PATH) plus what the unit sets; as the
    /// unit's user and its groups; stdin /dev/null; nothing inherited.
    func runLikeSystemd(_ unit: ServiceUnit, timeout: TimeInterval) throws -> CommandResult {
        var env = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        env.merge(unit.environment) { $1 }
        var argv = ["env", "-i"]
        if let dir = unit.workingDirectory { argv += ["--chdir=\(dir)"] }
        argv += env.keys.sorted().map { "\($0)=\(env[$0]!)" }
        argv += ["setpriv", "--reuid=\(unit.user)", "--regid=\(unit.user)", "--init-groups", "--"] + unit.execStart
        return try Lab.run(argv, environment: [:], timeout: timeout)
    }

    /// The JSON lines a `--log-format json` run printed.
    func events(_ r: CommandResult) throws -> [[String: Any]] {
        try r.stdout.split(separator: "\n").map { try RestoreFixture.json(String($0)) }
    }

    func testTheDailyBackupUnitRunsAsTheRunnerWithOnlyWhatTheUnitSets() throws {
        let unit = try ServiceUnit("akbackup-backup.service")
        XCTAssertEqual(unit.user, "akbackup-runner")
        XCTAssertEqual(unit.execStart.first, Lab.controllerBinary)
        let before = Set(RestoreFixture.artifacts())
        let r = try runLikeSystemd(unit, timeout: 600)
        XCTAssertEqual(r.status, 0, r.description)
        let lines = try events(r)
        XCTAssertEqual(lines.map { $0["event"] as? String }, ["start", "end"], r.stdout)
        XCTAssertEqual(lines.last?["outcome"] as? String, "ok", r.stdout)
        let artifact = try XCTUnwrap(lines.last?["artifact"] as? String)
        XCTAssertFalse(before.contains(artifact))
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(Lab.nasBackupDir)/\(artifact)"), "the backup is on the NAS")
        XCTAssertGreaterThan(lines.last?["bytes"] as? Int ?? 0, 0)
    }

    func testTheQuarterlyRestoreTestUnitRunsAsTheRunnerAndLeavesASignedReceipt() throws {
        _ = try RestoreFixture.freshBackup()
        let unit = try ServiceUnit("akbackup-restore-test.service")
        XCTAssertEqual(unit.user, "akbackup-runner")
        let receiptsBefore = Set(Lab.regularFiles(in: Lab.nasBackupDir + "/receipts"))
        let r = try runLikeSystemd(unit, timeout: 600)
        XCTAssertEqual(r.status, 0, r.description)
        let lines = try events(r)
        XCTAssertEqual(lines.map { $0["event"] as? String }, ["start", "end"], r.stdout)
        XCTAssertEqual(lines.last?["outcome"] as? String, "ok", r.stdout)
        XCTAssertEqual(Set(Lab.regularFiles(in: Lab.nasBackupDir + "/receipts")).subtracting(receiptsBefore).count, 1, "one new receipt on the NAS")
        XCTAssertEqual(try RestoreFixture.akbackupDatabases(), [], "the scratch database was dropped")
    }

    /// Without the unit's HOME the runner has no key and no aliases: the run fails with one JSON end
    /// line that says why, and exits with the documented code (3: a host could not be reached).
    func testARunThatCannotReachTheHostsEndsWithAnErrorEvent() throws {
        var unit = try ServiceUnit("akbackup-backup.service")
        unit.environment["HOME"] = "/nonexistent"
        unit.workingDirectory = nil
        let r = try runLikeSystemd(unit, timeout: 120)
        XCTAssertEqual(r.status, 3, r.description)
        let end = try XCTUnwrap(try events(r).last)
        XCTAssertEqual(end["outcome"] as? String, "failed")
        XCTAssertEqual(end["exitCode"] as? Int, 3)
        XCTAssertNotNil(end["hint"] as? String)
        XCTAssertTrue(r.stderr.hasPrefix("error: ") && r.stderr.contains("\nhint: "), r.stderr)
    }
}
