import AgentCore
import AgentHarness
import AKBase
import AKProtocol
@testable import ControllerCore
import Foundation
import ProtocolSession
import ReceiverCore
import Transport
import XCTest

/// The controller's jobs end to end, in-process: a scripted agent host, a real receiver directory.
final class RunnerTests: XCTestCase {
    var dir = ""
    var receipts = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "akbackup-runner-\(UUID().uuidString)"
        receipts = dir + "/local-receipts"
        try FileManager.default.createDirectory(atPath: dir + "/nas", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func sessions(db: FakeDatabase = FakeDatabase(), app: FakeApp = FakeApp(), trusted: [AgentPublicKey] = [Harness.key.publicKey],
                  agentKey: SigningKey? = Harness.key) -> HostSessions {
        let context = Harness.context(db: db, app: app, stateDir: dir + "/agent-state", clock: Date(), signingKey: agentKey)
        let store = BackupStore(directory: dir + "/nas", requireMount: "", trustedKeys: trusted)
        return HostSessions(config: ControllerConfig(), connector: InProcessConnector(agent: context, store: store))
    }

    func testBackupThenRestoreTestThenStatusAllSigned() throws {
        let db = FakeDatabase()
        db.state.update { $0.dumpText = FakeDatabase.dump(rows: 3); $0.artifactModel = FakeDatabase.sample }
        let s1 = sessions(db: db)
        let summary = try BackupRunner(sessions: s1).run()
        s1.close()
        XCTAssertEqual(summary.signedBy, Harness.key.publicKey.fingerprint)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/nas/" + summary.name))

        let s2 = sessions(db: db)
        var options = RestoreOptions()
        options.mode = .test
        let runner = RestoreRunner(sessions: s2, options: options, archive: ReceiptArchive(directory: receipts))
        let plan = try runner.plan()
        XCTAssertEqual(plan.signature, .trusted)
        XCTAssertTrue(plan.render().contains("signed by         \(Harness.key.publicKey.fingerprint)"))
        let receipt = try runner.execute(plan)
        s2.close()
        XCTAssertEqual(receipt.outcome, .tested, receipt.message)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: receipts).count, 1, "kept locally")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/nas/receipts").count, 1, "kept on the NAS")

        let s3 = sessions(db: db)
        let status = try Status.run(sessions: s3)
        s3.close()
        XCTAssertTrue(status.ok, "\(status.problems)")
        XCTAssertEqual(status.lastBackup?.name, summary.name)
        XCTAssertEqual(status.signaturesCheckedBy, "infra-core's agent keys")
        XCTAssertEqual(status.receiverHost, "nas")
        XCTAssertNotNil(status.lastBackup?.durationSeconds, "from the signed manifest's startedAt and finishedAt")
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/nas/" + summary.name.replacingOccurrences(of: ".sql.gz", with: ".json")))) as? [String: Any]
        XCTAssertEqual(status.lastBackup?.finishedAt, manifest?["finishedAt"] as? String)
        XCTAssertEqual(status.lastRestoreTest?.finishedAt, receipt.finishedAt)
        let prom = StatusFormat.prometheus(status)
        XCTAssertTrue(prom.contains("akbackup_last_success_timestamp_seconds{operation=\"restore_test\"} \(Int(Timestamp.date(receipt.finishedAt)!.timeIntervalSince1970))\n"), prom)
        XCTAssertTrue(prom.contains("akbackup_backups{host=\"nas\"} 1\n"), prom)
        XCTAssertEqual(StatusFormat.nagios(status).state, .ok, StatusFormat.nagios(status).line)
    }

    /// `backup --log-format json` around the real job: the end event names what the NAS stored;
    /// a failing dump ends with the remote error, its hint and exit code 4.
    func testScheduledBackupWritesJSONLines() throws {
        let db = FakeDatabase()
        let out = Lines(), err = Lines()
        func scheduled(_ s: HostSessions) -> Int32 {
            ScheduledRun(operation: "backup", logFormat: .json, notifier: nil, writeLine: { out.append($0) }, writeError: { err.append($0) }).run {
                defer { s.close() }
                let summary = try BackupRunner(sessions: s).run()
                return JobResult(artifact: summary.name, bytes: summary.size, output: "stored \(summary.name)")
            }
        }
        XCTAssertEqual(scheduled(sessions(db: db)), 0, err.text)
        let events = try out.all.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual(events.map { $0["event"] as? String }, ["start", "end"])
        let name = try XCTUnwrap(events[1]["artifact"] as? String)
        let stored = try FileManager.default.attributesOfItem(atPath: dir + "/nas/" + name)
        XCTAssertEqual((events[1]["bytes"] as? NSNumber)?.int64Value, (stored[.size] as? NSNumber)?.int64Value)
        XCTAssertEqual(events[1]["outcome"] as? String, "ok")
        XCTAssertNotNil(events[1]["seconds"] as? Double)

        db.fail(.dump, "could not connect to server")
        XCTAssertEqual(scheduled(sessions(db: db)), ExitStatus.remote.rawValue)
        let failed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.all[3].utf8)) as? [String: Any])
        XCTAssertEqual(failed["outcome"] as? String, "failed")
        XCTAssertEqual(failed["exitCode"] as? Int, 4)
        XCTAssertTrue((failed["error"] as? String)?.contains("could not connect to server") == true, "\(failed)")
        XCTAssertNotNil(failed["hint"] as? String)
        XCTAssertEqual(out.all.count, 4, "nothing but events on stdout")
        XCTAssertTrue(err.text.hasPrefix("error: ") && err.text.contains("\nhint: "), err.text)
    }

    func testAForgedReceiptOnTheNASDoesNotMakeTheDrillLookDone() throws {
        let db = FakeDatabase()
        let s1 = sessions(db: db)
        _ = try BackupRunner(sessions: s1).run()
        s1.close()
        // Someone with write access to the NAS drops in a receipt signed by their own key.
        var forged = Receipt(operation: "restore-test", artifact: "x", sha256: nil, artifactSigned: true, operatorName: "mallory",
                             controllerHost: "x", agentHost: "infra-core", startedAt: Timestamp.now(), finishedAt: Timestamp.now(),
                             steps: [], validation: nil, downtimeSeconds: nil, outcome: .tested, message: "forged")
        try forged.sign(with: Harness.otherKey.privateKey)
        try FileManager.default.createDirectory(atPath: dir + "/nas/receipts", withIntermediateDirectories: true)
        try JSONEncoder().encode(forged).write(to: URL(fileURLWithPath: dir + "/nas/receipts/restore-test-forged.json"))
        let s2 = sessions(db: db)
        let status = try Status.run(sessions: s2)
        s2.close()
        XCTAssertFalse(status.ok)
        XCTAssertNil(status.lastRestoreTest)
        XCTAssertTrue(status.problems.contains { $0.contains("no successful restore test") }, "\(status.problems)")
    }

    func testAnUntrustedBackupIsRefusedInThePlanWithTheKeyToTrust() throws {
        let db = FakeDatabase()
        // The NAS trusts the other key; the agent signs with it (an agent rebuilt with a new key would be the reverse).
        let s1 = sessions(db: db, trusted: [Harness.otherKey.publicKey], agentKey: Harness.otherKey)
        _ = try BackupRunner(sessions: s1).run()
        s1.close()
        let s2 = sessions(db: db, trusted: [Harness.otherKey.publicKey], agentKey: Harness.key)
        var options = RestoreOptions()
        options.mode = .test
        XCTAssertThrowsError(try RestoreRunner(sessions: s2, options: options, archive: ReceiptArchive(directory: receipts)).plan()) { e in
            let h = e as? HintedError
            XCTAssertTrue(h?.summary.contains("does not trust") == true, "\(e)")
            XCTAssertTrue(h?.hint.contains("akbackup-agent trust-key \(Harness.otherKey.publicKey.text)") == true, "\(e)")
        }
        s2.close()
    }

    func testARemoteKilledMidUploadIsExitCode4NotUnreachable() throws {
        // A remote program that ended (exit status known) is a remote failure, a dead link a reachability one.
        let killed = RemoteError(host: "nas", code: .ioError, message: "remote program ended unexpectedly (killed by signal KILL)", hint: "")
        XCTAssertEqual(ExitStatus.of(killed), .remote)
        XCTAssertEqual(ExitStatus.of(TransportError(.io, host: "nas", "link lost", hint: "")), .unreachable)
        XCTAssertEqual(ExitStatus.of(TransportError(.remoteProgram, host: "nas", "not found", hint: "")), .remote)
        XCTAssertEqual(ExitStatus.of(Failure("x", hint: "y")), .failed)
    }

    func testRemoteStringsCannotDriveTheTerminal() {
        XCTAssertEqual(Terminal.safe("ok\u{1B}]0;pwned\u{07}\r\n\tx\u{9B}2J\u{7F}"), "ok\u{FFFD}]0;pwned\u{FFFD}\u{FFFD}\n\tx\u{FFFD}2J\u{FFFD}")
        let e = RemoteError(host: "nas", code: .failed, message: "bad \u{1B}[2Jthing", hint: "h\u{1B}[1A")
        XCTAssertFalse(describeForOperator(e).contains("\u{1B}"))
    }
}
