import Foundation
import XCTest

/// `akbackup backup` against the lab, including how it fails: a cut NAS link, a killed agent or
/// controller, pg_dump failing, a full NAS, a second backup while one runs. Each failure must leave
/// no final file and no partial file behind, keep earlier backups, release the lock, and never
/// show the database password. Fault tests use the lab's `nas-small` alias (the receiver on the
/// 64 MiB tmpfs, upload_idle_timeout 10 s) so they never touch the files other tests look at.
final class BackupE2ETests: XCTestCase {
    typealias F = BackupFixture

    override func setUpWithError() throws {
        try Lab.require()
        removeWhatThisTestStores()
        guard Lab.binariesInstalled else {
            let message = "binaries not installed: deploy/package && deploy/lab/lab install"
            if Lab.isCI { throw LabError(message) }
            throw XCTSkip(message)
        }
        try F.emptySmall()
    }

    override func tearDownWithError() throws {
        F.restoreLink()
        try? F.emptySmall()
    }

    // MARK: happy path

    func testBackupStoresArtifactAndManifestThatListAndVerifyShow() throws {
        let r = try F.backup(["--json"])
        XCTAssertTrue(r.ok, "\(r)")
        let summary = try RestoreFixture.json(r.stdout)
        let name = try XCTUnwrap(summary["name"] as? String, "\(r.stdout)")
        XCTAssertNotNil(name.range(of: #"^authentik-db-\d{4}-\d{2}-\d{2}T\d{6}Z\.sql\.gz$"#, options: .regularExpression), name)
        for key in ["size", "sha256", "uncompressedSize", "seconds", "tables", "rows"] { XCTAssertNotNil(summary[key], "summary lacks \(key)") }

        let file = "\(Lab.nasBackupDir)/\(name)", manifestPath = "\(Lab.nasBackupDir)/\(name.dropLast(7)).json"
        for path in [file, manifestPath] {
            let attrs = try FileManager.default.attributesOfItem(atPath: path)
            XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o600, "\(path) mode")
            XCTAssertEqual(attrs[.ownerAccountName] as? String, Lab.nasUser, "\(path) owner")
        }
        let manifest = try RestoreFixture.json(String(decoding: try Data(contentsOf: URL(fileURLWithPath: manifestPath)), as: UTF8.self))
        let sha = try Lab.run(["sha256sum", file]).stdout.prefix(64)
        XCTAssertEqual(manifest["sha256"] as? String, String(sha))
        XCTAssertEqual(summary["sha256"] as? String, String(sha))
        XCTAssertEqual((manifest["size"] as? NSNumber)?.int64Value, (try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value)
        XCTAssertEqual(manifest["name"] as? String, name)
        XCTAssertTrue(try Lab.run(["gunzip", "-t", file]).ok, "gunzip -t \(file)")

        let list = try Lab.runAsOperator([RestoreFixture.akbackup, "list"])
        XCTAssertTrue(list.ok && list.stdout.contains(name), "\(list)")
        let listJSON = try Lab.runAsOperator([RestoreFixture.akbackup, "list", "--json"])
        XCTAssertTrue(listJSON.ok && listJSON.stdout.contains(name), "\(listJSON)")
        let verify = try Lab.runAsOperator([RestoreFixture.akbackup, "verify", name])
        XCTAssertTrue(verify.ok, "\(verify)")
        XCTAssertTrue(verify.stdout.hasPrefix("OK") && verify.stdout.contains("hash matches the manifest"), verify.stdout)
    }

    /// Names are per second. A scale-1 backup can take less than a second, and two in the same
    /// second used to collide ("already exists on the NAS"): the agent now waits into the next second.
    func testBackToBackBackupsAllSucceedWithIncreasingNames() throws {
        var names: [String] = []
        for _ in 0..<5 { names.append(try F.smallBackup()) }
        XCTAssertEqual(names, names.sorted(), "names must increase")
        XCTAssertEqual(Set(names).count, names.count, "\(names)")
    }

    // MARK: failures mid-backup

    func testNASLinkCutMidTransferFailsCleanlyAndTheNextBackupWorks() throws {
        let earlier = try F.smallBackup()
        let earlierHash = try F.sha256(of: "\(F.smallDir)/\(earlier)")
        try F.shapeNASLink()
        // Its timeouts: idle_timeout 10 s while reading, keepalive 2 s × 3 (ssh config) while a write waits.
        let controller = try F.startBackup(config: F.configFile(receiver: "nas-small", idleTimeout: 10, serverAliveInterval: 2))
        let partial = try F.waitForPartial()
        let started = Date()
        XCTAssertTrue(try Lab.run(["ip", "link", "set", F.nasVeth, "down"]).ok)
        defer { F.restoreLink() }
        let result = try controller.wait(timeout: 90)
        let failedAfter = Date().timeIntervalSince(started)
        XCTAssertNotEqual(result.status, 0, "the backup succeeded over a cut link: \(result)")
        XCTAssertLessThan(failedAfter, 30, "the controller took \(Int(failedAfter))s to give up (idle_timeout 10, keepalive 2 × 3)")
        XCTAssertTrue(result.stderr.hasPrefix("error: nas-small: ") && result.stderr.contains("\nhint: "), "unclear message: \(result.stderr)")
        F.restoreLink()

        let final = String(partial.dropLast(".partial".count))
        try Lab.waitUntil("the partial file \(partial) is removed", timeout: 60, interval: 0.5) {
            !FileManager.default.fileExists(atPath: "\(F.smallDir)/\(partial)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(F.smallDir)/\(final)"), "a final file appeared for the failed backup")
        XCTAssertEqual(try F.sha256(of: "\(F.smallDir)/\(earlier)"), earlierHash, "the earlier backup changed")
        try F.waitForAgentLockFree()
        let next = try F.smallBackup()
        XCTAssertEqual(F.partials(), [], "partial files left: \(F.partials())")
        XCTAssertTrue(try Lab.runAsOperator([RestoreFixture.akbackup, "verify", "--config", F.configFile(receiver: "nas-small"), next]).ok)
    }

    func testAgentKilledMidDumpLeavesNothingAndReleasesTheLock() throws {
        let earlier = try F.smallBackup()
        let controller = try F.startBackup(config: F.configFile(receiver: "nas-small"))
        let holder = try F.lockHolderPID()
        let dumpClient = try F.pauseDump(agent: holder)   // the agent is now mid-dump, for as long as we like
        defer { kill(dumpClient, SIGKILL) }
        let partial = try F.waitForPartial()
        XCTAssertTrue(try Lab.run(["kill", "-KILL", String(holder)]).ok, "kill the agent (pid \(holder))")
        kill(dumpClient, SIGKILL)
        let result = try controller.wait(timeout: 60)
        XCTAssertNotEqual(result.status, 0, "\(result)")
        XCTAssertTrue(result.stderr.hasPrefix("error: infra-core: ") && result.stderr.contains("\nhint: "),
                      "the error should name the agent's host: \(result.stderr)")
        try Lab.waitUntil("the partial file is removed", timeout: 60, interval: 0.5) { F.partials().isEmpty }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(F.smallDir)/\(partial.dropLast(8))"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(F.smallDir)/\(earlier)"))
        try F.waitForAgentLockFree()
        _ = try F.smallBackup()
    }

    /// A remote program that dies mid-operation is a remote failure (exit 4), not an unreachable host (3).
    func testReceiverKilledMidUploadIsExitCode4AndTheNextBackupCleansUp() throws {
        let earlier = try F.smallBackup()
        let controller = try F.startBackup(config: F.configFile(receiver: "nas-small"))
        let holder = try F.lockHolderPID()
        let dumpClient = try F.pauseDump(agent: holder)   // the upload stays open for as long as we like
        defer { kill(dumpClient, SIGKILL) }
        let partial = try F.waitForPartial()
        let receiver = try F.processHolding("\(F.smallDir)/\(partial)", named: "akbackup-receiver")
        XCTAssertEqual(kill(receiver, SIGKILL), 0, "kill the receiver (pid \(receiver))")
        kill(dumpClient, SIGCONT)
        let result = try controller.wait(timeout: 120)
        XCTAssertEqual(result.status, 4, "\(result)")
        XCTAssertTrue(result.stderr.hasPrefix("error: nas-small: ") && result.stderr.contains("\nhint: "), "unclear message: \(result.stderr)")
        try F.waitForAgentLockFree()
        let next = try F.smallBackup()
        XCTAssertEqual(F.partials(), [], "the next session removed the killed receiver's partial file")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(F.smallDir)/\(partial.dropLast(8))"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(F.smallDir)/\(earlier)"))
        XCTAssertTrue(try Lab.runAsOperator([RestoreFixture.akbackup, "verify", "--config", F.configFile(receiver: "nas-small"), next]).ok)
    }

    func testControllerKilledMidTransferLeavesNothingAndReleasesTheLock() throws {
        try F.shapeNASLink()
        let controller = try F.startBackup(config: F.configFile(receiver: "nas-small"))
        let partial = try F.waitForPartial(nonEmpty: true)
        try controller.killControllerWhenThere()
        _ = try controller.wait(timeout: 30)
        F.restoreLink()
        // The receiver sees end of input and removes its partial file; the agent's writes fail and it exits.
        try Lab.waitUntil("the partial file is removed", timeout: 60, interval: 0.5) { F.partials().isEmpty }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(F.smallDir)/\(partial.dropLast(8))"))
        try F.waitForAgentLockFree()
        _ = try F.smallBackup()
    }

    // MARK: pg_dump failing

    func testWrongDatabaseShowsPostgresErrorAndWritesNothing() throws {
        let before = F.smallFiles()
        let r = try Lab.runAsOperator([RestoreFixture.akbackup, "backup", "--config",
                                       F.configFile(agent: "infra-wrongdb", receiver: "nas-small")], timeout: 120)
        XCTAssertEqual(r.status, 4, "\(r)")
        XCTAssertTrue(r.stderr.contains(#"database "authentik_no_such_db" does not exist"#), "postgres's error is not shown: \(r.stderr)")
        XCTAssertEqual(F.smallFiles(), before, "something was written to the NAS")
    }

    func testPostgresStoppedShowsTheErrorAndWritesNothing() throws {
        let before = F.smallFiles()
        let stop = try Lab.runAsAgentInStack(["docker", "compose", "stop", "authentik-postgres"])
        defer {
            _ = try? Lab.runAsAgentInStack(["docker", "compose", "start", "authentik-postgres"])
            try? Lab.waitUntil("authentik-postgres healthy again", timeout: 90) { try Lab.containerHealth("authentik-postgres") == "healthy" }
        }
        XCTAssertTrue(stop.ok, "\(stop)")
        let r = try Lab.runAsOperator([RestoreFixture.akbackup, "backup", "--config", F.configFile(receiver: "nas-small")], timeout: 120)
        XCTAssertEqual(r.status, 4, "\(r)")
        XCTAssertTrue(r.stderr.contains("authentik-postgres") && r.stderr.lowercased().contains("not running"),
                      "docker's error is not shown: \(r.stderr)")
        XCTAssertEqual(F.smallFiles(), before, "something was written to the NAS")
    }

    // MARK: NAS full

    func testNASDiskFullFailsNamingFreeSpaceAndLeavesNothing() throws {
        _ = try F.fillSmall(leaving: 256 * 1024)
        let before = F.smallFiles()
        let r = try Lab.runAsOperator([RestoreFixture.akbackup, "backup", "--config", F.configFile(receiver: "nas-small")], timeout: 120)
        XCTAssertNotEqual(r.status, 0, "\(r)")
        XCTAssertTrue(r.stderr.contains("ran out of space") && r.stderr.contains("free"), "no clear disk-full message: \(r.stderr)")
        try Lab.waitUntil("no partial file on the full NAS", timeout: 30, interval: 0.5) { F.partials().isEmpty }
        XCTAssertEqual(F.smallFiles(), before, "something was left on the full NAS")
        try F.waitForAgentLockFree()
    }

    // MARK: the secret

    func testDatabasePasswordAppearsInNoCommandLineOutputLogOrManifest() throws {
        let password = try F.databasePassword()
        XCTAssertGreaterThanOrEqual(password.count, 8)
        try F.shapeNASLink()
        let controller = try F.startBackup(config: F.configFile(receiver: "nas-small"), extra: ["--json"])
        var scans = 0
        var leaks: [String] = []
        while controller.isRunning {
            leaks += F.commandLinesContaining(password)
            scans += 1
        }
        F.restoreLink()
        let result = try controller.wait(timeout: 10)
        XCTAssertTrue(result.ok, "\(result)")
        XCTAssertGreaterThan(scans, 5, "the backup was too short to scan process command lines")
        XCTAssertEqual(leaks, [], "the password is in a command line")
        XCTAssertFalse(result.stdout.contains(password) || result.stderr.contains(password), "the password is in the controller's output")
        let name = try XCTUnwrap(try RestoreFixture.json(result.stdout)["name"] as? String)
        let manifest = try String(contentsOfFile: "\(F.smallDir)/\(name.dropLast(7)).json", encoding: .utf8)
        XCTAssertFalse(manifest.contains(password), "the password is in the manifest")
        let dump = try Lab.run(["gzip", "-dc", "\(F.smallDir)/\(name)"], timeout: 120)
        XCTAssertTrue(dump.ok)
        XCTAssertFalse(dump.stdout.contains(password), "the password is in the dump")
        // A failing run shows the agent's stderr: no password there either.
        let failing = try Lab.runAsOperator([RestoreFixture.akbackup, "backup", "--config",
                                             F.configFile(agent: "infra-wrongdb", receiver: "nas-small")])
        XCTAssertFalse(failing.ok)
        XCTAssertFalse(failing.stdout.contains(password) || failing.stderr.contains(password), "the password is in an error")
        for log in (try? FileManager.default.contentsOfDirectory(atPath: F.labLogDir)) ?? [] {
            let text = (try? String(contentsOfFile: "\(F.labLogDir)/\(log)", encoding: .utf8)) ?? ""
            XCTAssertFalse(text.contains(password), "the password is in lab log \(log)")
        }
    }

    // MARK: one operation at a time

    func testSecondBackupIsRefusedWithTheHolderAndAKilledAgentsLockDoesNotBlock() throws {
        let first = try F.startBackup(config: F.configFile(receiver: "nas-small"))
        let holder = try F.lockHolderPID()
        let dumpClient = try F.pauseDump(agent: holder)
        defer { kill(dumpClient, SIGKILL) }
        let second = try Lab.runAsOperator([RestoreFixture.akbackup, "backup", "--config", F.configFile(receiver: "nas-small")], timeout: 60)
        XCTAssertEqual(second.status, 4, "\(second)")
        XCTAssertTrue(second.stderr.contains("busy") && second.stderr.contains("pid \(holder)") && second.stderr.contains("since "),
                      "the refusal should say who holds the lock and since when: \(second.stderr)")

        // kill -9: the holder record stays in the file, the lock itself goes with the process.
        XCTAssertTrue(try Lab.run(["kill", "-KILL", String(holder)]).ok)
        kill(dumpClient, SIGKILL)
        XCTAssertNotEqual(try first.wait(timeout: 60).status, 0)
        try Lab.waitUntil("the partial file is removed", timeout: 60, interval: 0.5) { F.partials().isEmpty }
        _ = try F.smallBackup()
    }

    // MARK: interoperability with the runbook

    func testDumpRestoresWithTheRunbooksManualStepsToTheSameContent() throws {
        let r = try F.backup(["--json"])
        XCTAssertTrue(r.ok, "\(r)")
        let name = try XCTUnwrap(try RestoreFixture.json(r.stdout)["name"] as? String)
        let scratch = "akbackup_e2e_scratch_\(getpid())"
        let admin = ["docker", "exec", "authentik-postgres", "psql", "-X", "-q", "-U", "authentik", "-d", "postgres", "-c"]
        defer { _ = try? Lab.run(admin + ["DROP DATABASE IF EXISTS \(scratch) WITH (FORCE)"]) }
        XCTAssertTrue(try Lab.run(admin + ["DROP DATABASE IF EXISTS \(scratch) WITH (FORCE)"]).ok)
        XCTAssertTrue(try Lab.run(admin + ["CREATE DATABASE \(scratch) OWNER authentik"]).ok)
        // The runbook's manual restore, verbatim but for the database name.
        let script = "set -o pipefail; gunzip -c \"$1\" | docker exec -i -e PGPASSWORD authentik-postgres psql -U authentik -d \"$2\" -v ON_ERROR_STOP=1 >/dev/null"
        var env = ProcessInfo.processInfo.environment
        env["PGPASSWORD"] = try F.databasePassword()
        let replay = try Lab.run(["bash", "-c", script, "_", "\(Lab.nasBackupDir)/\(name)", scratch], environment: env, timeout: 600)
        XCTAssertTrue(replay.ok, "\(replay)")
        let live = try RestoreFixture.liveContent()
        let restored = try RestoreFixture.liveContent(database: scratch)
        XCTAssertGreaterThan(live.filter { $0.hasPrefix("table ") }.count, 10)
        XCTAssertEqual(restored, live, "the replayed dump differs from the live database")
    }

    func testRunbookManualDumpIsListedWithoutManifestAndVerifies() throws {
        // An old stamp: never "latest" for anyone else's test. (2001-… are the restore tests' crafted files.)
        let p = Int(getpid())
        let name = String(format: "authentik-db-2002-01-01T%02d%02d%02dZ.sql.gz", p % 24, p / 24 % 60, p / 1440 % 60)
        let path = "\(Lab.nasBackupDir)/\(name)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        // The runbook's step 1 (with PGPASSWORD from the environment, so this test never shows it in argv).
        let script = "set -o pipefail; docker exec -e PGPASSWORD authentik-postgres pg_dump -U authentik authentik | gzip > \"$1\""
        var env = ProcessInfo.processInfo.environment
        env["PGPASSWORD"] = try F.databasePassword()
        let dump = try Lab.run(["bash", "-c", script, "_", path], environment: env, timeout: 600)
        XCTAssertTrue(dump.ok, "\(dump)")
        XCTAssertTrue(try Lab.run(["chown", "\(Lab.nasUser):\(Lab.nasUser)", path]).ok)
        XCTAssertTrue(try Lab.run(["chmod", "600", path]).ok)

        let list = try Lab.runAsOperator([RestoreFixture.akbackup, "list"])
        XCTAssertTrue(list.ok, "\(list)")
        let row = list.stdout.split(separator: "\n").first { $0.hasPrefix(name) }
        XCTAssertTrue(row?.contains("no manifest") == true, "not listed as 'no manifest': \(list.stdout)")
        let verify = try Lab.runAsOperator([RestoreFixture.akbackup, "verify", name])
        XCTAssertTrue(verify.ok, "\(verify)")
        XCTAssertTrue(verify.stdout.hasPrefix("OK") && verify.stdout.contains("no manifest"), verify.stdout)
    }
}

/// Helpers for the backup tests.
enum BackupFixture {
    static let smallDir = Lab.smallDir + "/authentik"
    static let nasVeth = "akv-nas"
    static let infraVeth = "akv-infra"
    static let labLogDir = "/var/lib/akbackup-lab/log"
    static let lockFile = "/var/lib/akbackup-agent/operation.lock"

    /// `akbackup backup ARGS` as the operator.
    static func backup(_ args: [String] = [], timeout: TimeInterval = 300) throws -> CommandResult {
        try Lab.runAsOperator([RestoreFixture.akbackup, "backup"] + args, timeout: timeout)
    }

    /// A successful backup onto the tmpfs (alias nas-small); returns its name.
    static func smallBackup() throws -> String {
        let r = try backup(["--json", "--config", configFile(receiver: "nas-small")])
        guard r.ok, let name = try RestoreFixture.json(r.stdout)["name"] as? String else { throw LabError("backup to nas-small failed: \(r)") }
        return name
    }

    /// A controller config readable by the operator.
    /// With `serverAliveInterval`, an ssh config that sets it (× 3) and then includes the operator's own.
    static func configFile(agent: String = "infra-core", receiver: String = "nas", idleTimeout: Int = 30,
                           serverAliveInterval: Int? = nil) throws -> String {
        let dir = "/tmp/akbackup-e2e-configs"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let path = "\(dir)/\(agent)-\(receiver)-\(idleTimeout)-\(serverAliveInterval ?? 0).toml"
        var text = "[agent]\nhost = \"\(agent)\"\n[receiver]\nhost = \"\(receiver)\"\n[ssh]\nidle_timeout = \(idleTimeout)\n"
        if let interval = serverAliveInterval {
            let sshConfig = "\(dir)/ssh_config-alive-\(interval)"
            try "Host *\n    ServerAliveInterval \(interval)\n    ServerAliveCountMax 3\nInclude \(Lab.operatorHome)/.ssh/config\n"
                .write(toFile: sshConfig, atomically: true, encoding: .utf8)
            _ = try Lab.run(["chmod", "644", sshConfig])
            text += "config_file = \"\(sshConfig)\"\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        _ = try Lab.run(["chmod", "644", path])
        return path
    }

    static func smallFiles() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: smallDir)) ?? []).sorted()
    }

    static func partials() -> [String] { smallFiles().filter { $0.hasSuffix(".partial") } }

    /// Empties the tmpfs (the receiver's directory and any filler).
    static func emptySmall() throws {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: Lab.smallDir)) ?? [] {
            try FileManager.default.removeItem(atPath: "\(Lab.smallDir)/\(entry)")
        }
    }

    /// Fills the tmpfs until `leaving` bytes are free; returns the filler's path.
    static func fillSmall(leaving: Int64) throws -> String {
        try FileManager.default.createDirectory(atPath: smallDir, withIntermediateDirectories: true)
        _ = try Lab.run(["chown", "\(Lab.nasUser):\(Lab.nasUser)", smallDir])
        let attrs = try FileManager.default.attributesOfFileSystem(forPath: Lab.smallDir)
        let free = (attrs[.systemFreeSize] as? NSNumber)?.int64Value ?? 0
        let filler = "\(Lab.smallDir)/filler"
        let r = try Lab.run(["fallocate", "-l", String(max(0, free - leaving)), filler])
        guard r.ok else { throw LabError("cannot fill \(Lab.smallDir): \(r)") }
        return filler
    }

    /// Slows controller→NAS traffic to ~250 KB/s so a scale-1 backup streams for seconds.
    static func shapeNASLink() throws {
        let r = try Lab.run(["tc", "qdisc", "replace", "dev", nasVeth, "root", "tbf", "rate", "2mbit", "burst", "32kbit", "latency", "400ms"])
        guard r.ok else { throw LabError("cannot shape \(nasVeth): \(r)") }
    }

    /// Slows traffic into a host to ~1 MB/s, so an artifact streams for a while.
    static func shapeLink(_ veth: String) {
        _ = try? Lab.run(["tc", "qdisc", "replace", "dev", veth, "root", "tbf", "rate", "8mbit", "burst", "64kbit", "latency", "400ms"])
    }

    /// Links up, no shaping: how the lab was.
    static func restoreLink() {
        for veth in [nasVeth, infraVeth] {
            _ = try? Lab.run(["ip", "link", "set", veth, "up"])
            if let show = try? Lab.run(["tc", "qdisc", "show", "dev", veth]), show.stdout.contains("tbf") {
                _ = try? Lab.run(["tc", "qdisc", "del", "dev", veth, "root"])
            }
        }
    }

    /// The partial file of the running upload on the tmpfs.
    static func waitForPartial(nonEmpty: Bool = false, timeout: TimeInterval = 60) throws -> String {
        var found: String?
        try Lab.waitUntil("a partial file in \(smallDir)", timeout: timeout, interval: 0.05) {
            guard let p = partials().first else { return false }
            if nonEmpty {
                let size = (try? FileManager.default.attributesOfItem(atPath: "\(smallDir)/\(p)")[.size] as? NSNumber)?.intValue ?? 0
                guard size > 0 else { return false }
            }
            found = p
            return true
        }
        return found!
    }

    /// The pid the agent's lock file names (the agent that holds it now).
    static func lockHolderPID() throws -> Int32 {
        var pid: Int32 = 0
        try Lab.waitUntil("the agent's lock names its holder", timeout: 30, interval: 0.005) {
            guard let data = FileManager.default.contents(atPath: lockFile), !data.isEmpty,
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let p = (object["pid"] as? NSNumber)?.int32Value else { return false }
            pid = p
            return true
        }
        return pid
    }

    /// Stops (SIGSTOP) the `docker exec … pg_dump` client the agent `agent` runs, so the backup stays
    /// mid-dump; returns its pid (SIGKILL it when done).
    static func pauseDump(agent: Int32) throws -> Int32 {
        var client: Int32 = 0
        try Lab.waitUntil("the agent's pg_dump client", timeout: 30, interval: 0.005) {
            for pid in Background.descendants(of: agent) {
                guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
                let argv = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                if argv.contains("pg_dump") && argv.contains("-U") {
                    kill(pid, SIGSTOP)
                    client = pid
                    return true
                }
            }
            return false
        }
        return client
    }

    static func waitForAgentLockFree() throws {
        try Lab.waitUntil("the agent's lock is free", timeout: 60, interval: 0.2) { try RestoreFixture.agentLockIsFree() }
    }

    static func sha256(of path: String) throws -> String {
        String(try Lab.run(["sha256sum", path]).stdout.prefix(64))
    }

    static func databasePassword() throws -> String {
        let text = try String(contentsOfFile: "\(Lab.stackDir)/.env", encoding: .utf8)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("AUTHENTIK_DB_PASSWORD=") }) else {
            throw LabError("no AUTHENTIK_DB_PASSWORD in \(Lab.stackDir)/.env")
        }
        return String(line.dropFirst("AUTHENTIK_DB_PASSWORD=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\"' "))
    }

    /// "pid: command line" of every process whose argv contains `secret`.
    static func commandLinesContaining(_ secret: String) -> [String] {
        let needle = Array(secret.utf8)
        var hits: [String] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where entry.allSatisfy(\.isNumber) {
            guard let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), data.count >= needle.count else { continue }
            let bytes = [UInt8](data)
            if (0...(bytes.count - needle.count)).contains(where: { bytes[$0..<($0 + needle.count)].elementsEqual(needle) }) {
                hits.append("\(entry): " + String(decoding: bytes.map { $0 == 0 ? 32 : $0 }, as: UTF8.self))
            }
        }
        return hits
    }

    /// Starts `akbackup backup` as the operator, output captured in files.
    /// The pid of the process called `named` that has `path` open.
    static func processHolding(_ path: String, named: String) throws -> Int32 {
        var found: Int32 = 0
        try Lab.waitUntil("\(named) holding \(path)", timeout: 30, interval: 0.01) {
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard let pid = Int32(entry),
                      ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) ?? "").hasSuffix("/" + named),
                      let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { continue }
                if fds.contains(where: { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)"))?.hasSuffix("/" + (path as NSString).lastPathComponent) == true }) {
                    found = pid
                    return true
                }
            }
            return false
        }
        return found
    }

    static func startBackup(config: String, extra: [String] = []) throws -> Background {
        try Background(Lab.asUser(Lab.operatorUser, home: Lab.operatorHome) + [RestoreFixture.akbackup, "backup", "--config", config] + extra)
    }
}

/// A program running in the background with its output in files.
final class Background {
    let process = Process()
    let argv: [String]
    private let outURL: URL, errURL: URL

    init(_ argv: [String]) throws {
        self.argv = argv
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("akbackup-bg-\(UUID().uuidString)")
        outURL = base.appendingPathExtension("out")
        errURL = base.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
    }

    deinit {
        if process.isRunning { killController(); process.terminate() }
        try? FileManager.default.removeItem(at: outURL)
        try? FileManager.default.removeItem(at: errURL)
    }

    var isRunning: Bool { process.isRunning }

    func wait(timeout: TimeInterval) throws -> CommandResult {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                killController()
                throw LabError("timed out after \(Int(timeout))s: \(argv.joined(separator: " "))")
            }
            usleep(20_000)
        }
        return CommandResult(argv: argv, status: process.terminationStatus,
                             stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                             stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }

    /// SIGKILL to the akbackup process under this one (runuser forks, so it is a descendant, not the child).
    @discardableResult
    func killController() -> Bool {
        var killed = false
        for pid in Background.descendants(of: process.processIdentifier) {
            let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) ?? ""
            if exe.hasSuffix("/akbackup") { kill(pid, SIGKILL); killed = true }
        }
        return killed
    }

    func killControllerWhenThere() throws {
        try Lab.waitUntil("the controller process is there", timeout: 10, interval: 0.05) { killController() }
    }

    static func descendants(of root: Int32) -> [Int32] {
        var parent: [Int32: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = Int32(fields[1]) { parent[pid] = ppid }
        }
        return parent.keys.filter { pid in
            var p = pid
            while let up = parent[p], up > 1 {
                if up == root { return true }
                p = up
            }
            return false
        }
    }
}
