import AgentCore
import AgentHarness
import AKBase
import AKProtocol
@testable import ControllerCore
import Foundation
import ReceiverCore
import Retention
import XCTest

/// The controller's side of retention, in-process: a scripted agent, a real receiver directory with a policy.
final class PruneRunnerTests: XCTestCase {
    var dir = ""
    var nas: String { dir + "/nas" }
    let keepOne = RetentionPolicy(keepLast: 1, minAge: RetentionDuration(), minKeep: 1)

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "akbackup-prune-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: nas, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func sessions(db: FakeDatabase = FakeDatabase(), policy: RetentionPolicy) -> HostSessions {
        let context = Harness.context(db: db, stateDir: dir + "/agent-state", clock: Date())
        let store = BackupStore(directory: nas, requireMount: "", trustedKeys: [Harness.key.publicKey], retention: policy)
        return HostSessions(config: ControllerConfig(), connector: InProcessConnector(agent: context, store: store))
    }

    /// Older signed backups on the NAS, `days` days back.
    @discardableResult
    func plant(days: [Int]) throws -> [String] {
        try days.map { day in
            let name = ArtifactName.make(at: Date().addingTimeInterval(Double(-day) * 86_400))
            let bytes: [UInt8] = [1, 2, 3]
            try Data(bytes).write(to: URL(fileURLWithPath: nas + "/" + name))
            try JSONEncoder().encode(try Harness.manifest(for: bytes, name: name)).write(to: URL(fileURLWithPath: nas + "/" + BackupStore.manifestName(for: name)))
            return name
        }
    }

    func artifacts() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: nas)) ?? []).filter(ArtifactName.isValid).sorted() }

    func testABackupPrunesOnlyOnceItIsStoredAndNoPruneSkipsIt() throws {
        let old = try plant(days: [3, 2])
        let db = FakeDatabase()
        db.fail(.dump, "could not connect to server")
        let failed = sessions(db: db, policy: keepOne)
        XCTAssertThrowsError(try BackupRunner(sessions: failed).run())
        failed.close()
        XCTAssertEqual(artifacts(), old.sorted(), "a failed backup prunes nothing")

        let skipped = sessions(policy: keepOne)
        let kept = try BackupRunner(sessions: skipped, prune: false).run()
        skipped.close()
        XCTAssertNil(kept.prune)
        XCTAssertEqual(artifacts(), (old + [kept.name]).sorted(), "--no-prune")

        let s = sessions(policy: keepOne)
        let summary = try BackupRunner(sessions: s).run()
        s.close()
        XCTAssertEqual(summary.prune?.removed, 3)
        XCTAssertEqual(summary.prune?.kept, 1)
        XCTAssertNil(summary.pruneFailure)
        XCTAssertEqual(artifacts(), [summary.name])
        XCTAssertEqual(Pruner.summaryLine(summary.prune!), "pruned 3 backup(s) (\(ByteFormat.human(6 + kept.size)) freed), kept 1; \(ByteFormat.human(summary.prune!.freeBytes!)) free on the NAS (policy: keep_last 1; min_age 0h, min_keep 1)")
    }

    /// The prune after a stored backup fails: the run fails (exit 1) and says the backup is stored;
    /// the end event still names the artifact.
    func testAFailedPruneAfterAStoredBackupFailsTheRun() throws {
        let old = try plant(days: [5])
        // A directory where the prune must rename the old artifact to: the rename fails.
        try FileManager.default.createDirectory(atPath: nas + "/" + BackupStore.pruningName(for: old[0]) + "/x", withIntermediateDirectories: true)
        let out = Lines(), err = Lines()
        let s = sessions(policy: keepOne)
        let code = ScheduledRun(operation: "backup", logFormat: .json, notifier: nil, writeLine: { out.append($0) }, writeError: { err.append($0) }).run {
            defer { s.close() }
            let summary = try BackupRunner(sessions: s).run()
            return JobResult(exit: summary.pruneFailure == nil ? .ok : .failed, artifact: summary.name, bytes: summary.size,
                             output: "stored", failure: summary.pruneFailure, pruned: summary.prune?.removed)
        }
        XCTAssertEqual(code, ExitStatus.failed.rawValue)
        let end = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.all[1].utf8)) as? [String: Any])
        XCTAssertEqual(end["outcome"] as? String, "failed")
        XCTAssertNotNil(end["artifact"] as? String)
        XCTAssertNil(end["pruned"])
        XCTAssertTrue((end["error"] as? String)?.contains("but the prune after it failed: nas: prune removed 0 of 1 backups, then failed") == true, "\(end)")
        XCTAssertTrue(err.text.hasPrefix("error: stored authentik-db-") && err.text.contains("\nhint: "), err.text)
        XCTAssertEqual(artifacts().count, 2, "the new backup is stored; the old one could not be removed")
    }

    func testTheEndEventCountsWhatWasPruned() throws {
        try plant(days: [4, 3, 2])
        let out = Lines()
        let s = sessions(policy: keepOne)
        _ = ScheduledRun(operation: "backup", logFormat: .json, notifier: nil, writeLine: { out.append($0) }, writeError: { _ in }).run {
            defer { s.close() }
            let summary = try BackupRunner(sessions: s).run()
            return JobResult(artifact: summary.name, bytes: summary.size, output: "stored", pruned: summary.prune?.removed)
        }
        XCTAssertTrue(out.all[1].hasSuffix(#","pruned":3}"#), out.all[1])
    }

    func testPruneTableDryRunThenRealRunAndPins() throws {
        let names = try plant(days: [4, 3, 2, 1])
        let s = sessions(policy: RetentionPolicy(keepLast: 1, minAge: RetentionDuration(), minKeep: 0))
        defer { s.close() }
        XCTAssertEqual(try Pruner.pin(sessions: s, name: names[1], reason: "audit", pinned: true).detail, "pinned \(names[1]): audit")
        let dry = try Pruner.run(sessions: s, dryRun: true)
        XCTAssertEqual(artifacts().count, 4, "a dry run removes nothing")
        let text = Pruner.render(dry)
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasPrefix("NAME") && lines[0].hasSuffix("ACTION   REASONS"), lines[0])
        XCTAssertEqual(lines[1], "\(names[3])  keep     last 1")
        XCTAssertEqual(lines[2], "\(names[2])  remove   -")
        XCTAssertEqual(lines[3], "\(names[1])  keep     pinned: audit")
        XCTAssertEqual(lines[5], "policy: keep_last 1; min_age 0h, min_keep 0")
        XCTAssertEqual(lines[6], "kept by: last 1, pinned 1")
        XCTAssertTrue(lines[7].hasPrefix("dry run: would remove 2 of 4 backup(s) (6 B), keep 2 (6 B)"), lines[7])
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(renderJSON(dry).utf8)) as? [String: Any])
        XCTAssertEqual((json["decisions"] as? [Any])?.count, 4)
        XCTAssertEqual(json["dryRun"] as? Bool, true)

        let real = try Pruner.run(sessions: s, dryRun: false)
        XCTAssertEqual(real.decisions.map(\.keep), dry.decisions.map(\.keep), "the real run decides as the dry run did")
        XCTAssertTrue(Pruner.render(real).contains("\(names[2])  removed  -"))
        XCTAssertEqual(artifacts(), [names[1], names[3]].sorted())
        let listed = try Catalog.list(sessions: s)
        XCTAssertTrue(Catalog.renderList(listed).contains("yes: audit"), Catalog.renderList(listed))
        XCTAssertEqual(try Pruner.pin(sessions: s, name: names[1], reason: nil, pinned: false).detail, "unpinned \(names[1])")
    }

    func testStatusShowsThePolicyWhatEachRuleKeepsAndWhatTheNextPruneWouldRemove() throws {
        let db = FakeDatabase()
        let old = try plant(days: [9, 8])
        let s1 = sessions(db: db, policy: keepOne)
        _ = try BackupRunner(sessions: s1, prune: false).run()
        s1.close()
        let s2 = sessions(db: db, policy: keepOne)
        let report = try Status.run(sessions: s2)
        s2.close()
        let r = try XCTUnwrap(report.retention)
        XCTAssertEqual(r.policy, "keep_last 1; min_age 0h, min_keep 1")
        XCTAssertEqual(r.wouldRemove, old.reversed())
        XCTAssertEqual(r.keptBy.map { "\($0.rule) \($0.kept)" }, ["last 1", "newest verified 1", "min_keep 1"])
        let text = StatusFormat.text(report)
        XCTAssertTrue(text.contains("retention          keep_last 1; min_age 0h, min_keep 1\n  kept by          last 1, newest verified 1, min_keep 1\n"), text)
        XCTAssertTrue(text.contains("next prune         removes 2 backup(s), 6 B: \(old[1]), \(old[0])\n"), text)
        let prom = StatusFormat.prometheus(report)
        for line in ["akbackup_prune_would_remove{host=\"nas\"} 2\n", "akbackup_prune_would_free_bytes{host=\"nas\"} 6\n",
                     "akbackup_retention_policy{host=\"nas\"} 1\n", "akbackup_retention_kept{host=\"nas\",rule=\"newest verified\"} 1\n"] {
            XCTAssertTrue(prom.contains(line), prom)
        }
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(renderJSON(report).utf8)) as? [String: Any])
        XCTAssertEqual((json["retention"] as? [String: Any])?["wouldRemove"] as? [String], old.reversed())
        XCTAssertEqual(artifacts().count, 3, "status only asks for a dry run")

        let s3 = sessions(db: db, policy: RetentionPolicy())
        let none = try Status.run(sessions: s3)
        s3.close()
        XCTAssertEqual(none.retention?.configured, false)
        XCTAssertTrue(none.notes.contains("the NAS has no retention policy: nothing is ever deleted"), "\(none.notes)")
        XCTAssertTrue(StatusFormat.prometheus(none).contains("akbackup_retention_policy{host=\"nas\"} 0\n"))
    }
}
