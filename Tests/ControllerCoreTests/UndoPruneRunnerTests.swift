import AgentCore
import AgentHarness
import AKBase
import AKProtocol
@testable import ControllerCore
import Foundation
import ReceiverCore
import XCTest

/// The controller's half of the undo policy, in-process against a scripted infra-core: what the
/// prune command will call (`UndoPrune.run`) and what `status` shows from the agent's facts.
final class UndoPruneRunnerTests: XCTestCase {
    var dir = ""
    // The harness's clock is 2027-01-15T08:00:00Z when given that date.
    let clock = Date(timeIntervalSince1970: 1_800_000_000)
    let old = "authentik_pre_restore_20270101000000", newest = "authentik_pre_restore_20270114000000"
    let failed = "authentik_failed_20270113000000"

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "akbackup-undo-runner-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/nas", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func cluster() -> FakeDatabase {
        let db = FakeDatabase()
        db.state.update { s in
            for name in [self.old, self.newest, self.failed, "keycloak"] { s.databases[name] = FakeDatabase.Model() }
            s.sizes = [self.old: 2 << 30, self.newest: 2 << 30, self.failed: 1 << 30]
            s.volumeBytes = 8 << 30
        }
        return db
    }

    func sessions(_ db: FakeDatabase) -> HostSessions {
        let context = Harness.context(db: db, stateDir: dir + "/agent-state", clock: clock)
        let store = BackupStore(directory: dir + "/nas", requireMount: "", trustedKeys: [Harness.key.publicKey])
        return HostSessions(config: ControllerConfig(), connector: InProcessConnector(agent: context, store: store))
    }

    func drops(_ db: FakeDatabase) -> [String] { db.calls.filter { $0.hasPrefix("drop ") }.map { String($0.dropFirst(5)) } }

    func testADryRunShowsTheTableAndDropsNothing() throws {
        let db = cluster()
        let s = sessions(db)
        defer { s.close() }
        let summary = try UndoPrune.run(sessions: s, dryRun: true)
        XCTAssertEqual(drops(db), [])
        XCTAssertTrue(summary.dryRun)
        XCTAssertTrue(summary.ok)
        XCTAssertEqual(summary.host, "infra-core")
        let text = UndoPrune.renderText(summary)
        XCTAssertTrue(text.hasPrefix("infra-core: akbackup's databases in the live cluster (policy: keep the newest 1; other undo points after 7 days; failed and undone after 1 day)\n"), text)
        let lines = text.split(separator: "\n").map(String.init)
        let oldLine = try XCTUnwrap(lines.first { $0.contains(old) })
        XCTAssertTrue(oldLine.contains("pre-restore") && oldLine.contains("2.0 GiB") && oldLine.contains("14.3 d") && oldLine.contains("would drop")
                      && oldLine.contains("older than 7 days (undo_max_age_days)"), oldLine)
        XCTAssertTrue(try XCTUnwrap(lines.first { $0.contains(newest) }).contains("keep"), text)
        XCTAssertFalse(text.contains("keycloak"), "foreign databases are not akbackup's business")
        XCTAssertTrue(text.contains("dry run: would drop 2 (3.0 GiB); 3 left (5.0 GiB, 62% of the database volume of 8.0 GiB)\n"), text)
        XCTAssertTrue(text.contains("warning: akbackup's databases on infra-core hold 5.0 GiB, 62% of the database volume"), text)
        XCTAssertTrue(text.contains("hint: `akbackup prune`"), text)
    }

    func testAPruneDropsAndItsJSONSaysWhat() throws {
        let db = cluster()
        let s = sessions(db)
        defer { s.close() }
        let summary = try UndoPrune.run(sessions: s, dryRun: false)
        XCTAssertEqual(Set(drops(db)), [old, failed])
        XCTAssertTrue(summary.ok)
        XCTAssertNil(summary.warning, "2 GiB of 8 is under the share")
        let text = UndoPrune.renderText(summary)
        XCTAssertTrue(text.contains("dropped 2 (3.0 GiB); 1 left (2.0 GiB, 25% of the database volume of 8.0 GiB)\n"), text)
        XCTAssertTrue(try XCTUnwrap(text.split(separator: "\n").first { $0.contains(old) }).contains("dropped"), text)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(renderJSON(summary).utf8)) as? [String: Any])
        XCTAssertEqual(json["dryRun"] as? Bool, false)
        XCTAssertEqual(json["ok"] as? Bool, true)
        let databases = try XCTUnwrap((json["report"] as? [String: Any])?["databases"] as? [[String: Any]])
        let entry = try XCTUnwrap(databases.first { $0["name"] as? String == old })
        XCTAssertEqual(entry["kind"] as? String, "pre-restore")
        XCTAssertEqual(entry["action"] as? String, "drop")
        XCTAssertEqual(entry["dropped"] as? Bool, true)
        XCTAssertEqual(entry["stamp"] as? String, "2027-01-01T00:00:00Z")
        XCTAssertEqual((entry["sizeBytes"] as? NSNumber)?.int64Value, 2 << 30)
    }

    func testAFailedDropMakesThePruneNotOK() throws {
        let db = cluster()
        db.fail(.drop(failed), "permission denied")
        let s = sessions(db)
        defer { s.close() }
        let summary = try UndoPrune.run(sessions: s, dryRun: false)
        XCTAssertFalse(summary.ok)
        let text = UndoPrune.renderText(summary)
        let line = try XCTUnwrap(text.split(separator: "\n").first { $0.contains(failed) })
        XCTAssertTrue(line.contains("FAILED") && line.contains("could not drop: PostgreSQL: permission denied"), String(line))
        XCTAssertTrue(text.contains("dropped 1 (2.0 GiB); could not drop 1; 2 left"), text)
    }

    func testNothingToDropSaysSo() throws {
        let s = sessions(FakeDatabase())
        defer { s.close() }
        let summary = try UndoPrune.run(sessions: s, dryRun: false)
        XCTAssertEqual(summary.report.databases, [])
        XCTAssertTrue(UndoPrune.renderText(summary).hasSuffix("\n  none\n"), UndoPrune.renderText(summary))
    }

    /// status reads the undo databases from the agent's facts (no other request) and warns, without
    /// failing, when they hold more than the agent's share of the volume.
    func testStatusListsThemAndWarnsOverTheShare() throws {
        let db = cluster()
        let s2 = sessions(db)
        defer { s2.close() }
        let status = try Status.run(sessions: s2)
        let undo = try XCTUnwrap(status.undoDatabases)
        XCTAssertEqual(undo.host, "infra-core")
        XCTAssertEqual(undo.databases.map(\.name), [failed, old, newest])
        XCTAssertEqual(undo.totalBytes, 5 << 30)
        XCTAssertEqual(undo.warnPercent, 50)
        XCTAssertEqual(drops(db), [], "status changes nothing")
        let warning = try XCTUnwrap(status.warnings.first { $0.contains("akbackup's databases on infra-core") })
        XCTAssertTrue(warning.contains("62%"), warning)
        XCTAssertFalse(status.problems.contains { $0.contains("akbackup's databases") }, "space is a warning, never a failed status")

        let text = StatusFormat.text(status)
        XCTAssertTrue(text.contains("undo databases     3 on infra-core, 5.0 GiB (62% of the database volume)\n"), text)
        XCTAssertTrue(text.contains("                   \(old) 2.0 GiB (the next prune drops it)\n"), text)
        XCTAssertTrue(text.contains("                   \(newest) 2.0 GiB\n"), text)
        let prom = StatusFormat.prometheus(status)
        XCTAssertTrue(prom.contains("akbackup_undo_databases{host=\"infra-core\"} 3\n"), prom)
        XCTAssertTrue(prom.contains("akbackup_undo_databases_bytes{host=\"infra-core\"} \(5 << 30)\n"), prom)
        XCTAssertTrue(prom.contains("akbackup_undo_databases_volume_ratio{host=\"infra-core\"} 0.625\n"), prom)
        XCTAssertEqual(StatusFormat.nagios(status).state, .critical, "no backup on record: CRITICAL whatever else")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(renderJSON(status).utf8)) as? [String: Any])
        XCTAssertNotNil(json["undoDatabases"] as? [String: Any])
    }
}
