@testable import AgentCore
import AgentHarness
import AKBase
import AKProtocol
import Compression
import Foundation
import ProtocolSession
import XCTest

/// The agent's undo policy against the scripted database server: after every successful restore,
/// restore test and undo, and on request (`undo.prune`), over an in-process session.
final class UndoPruneTests: XCTestCase {
    // The harness's clock: 2027-01-15T08:00:00Z.
    let oldUndoPoint = "authentik_pre_restore_20270101000000"      // 14 days: over undo_max_age_days
    let youngUndoPoint = "authentik_pre_restore_20270114000000"    // 1 day, and the newest before a restore
    let oldFailed = "authentik_failed_20270113000000"              // 2 days: over failed_max_age_days
    let youngUndone = "authentik_undone_20270115050000"            // 3 hours
    let badStamp = "authentik_failed_20271399000000"               // month 13: never dropped
    let foreign = ["keycloak", "authentik_custom", "authentik_preprod"]
    var requestedBy: RequestedBy { RequestedBy(user: "alice", host: "laptop") }

    /// A cluster holding the live database, akbackup's leftovers of past days and foreign databases.
    func cluster() -> FakeDatabase {
        let db = FakeDatabase()
        db.state.update { s in
            for name in [oldUndoPoint, youngUndoPoint, oldFailed, youngUndone, badStamp] + foreign { s.databases[name] = FakeDatabase.Model() }
            s.artifactModel = FakeDatabase.sample
        }
        return db
    }

    func drops(_ db: FakeDatabase) -> [String] { db.calls.filter { $0.hasPrefix("drop ") }.map { String($0.dropFirst(5)) } }

    /// A restore over an in-process session; returns its receipt.
    func restore(mode: RestoreMode, db: FakeDatabase, app: FakeApp = FakeApp(), log: Monitor<[String]> = Monitor([]),
                 configure: (inout AgentConfig) -> Void = { _ in }) throws -> Receipt {
        let agent = try InProcessAgent(context: Harness.context(db: db, app: app, log: log, configure: configure))
        let bytes = Gzip.member(FakeDatabase.dump(rows: 3))
        let manifest = try Harness.manifest(for: bytes)
        let id = agent.client.makeID()
        try agent.client.send(RestoreRequest(id: id, mode: mode, artifact: manifest.name, size: manifest.size, sha256: manifest.sha256,
                                             manifest: manifest, trustUnsigned: false, force: false, healthTimeout: 5, requestedBy: requestedBy))
        _ = try agent.client.expect(RestoreReady.self, id: id)
        try agent.client.send(DataHeader(id: id, stream: "artifact"))
        try agent.client.sendChunk(bytes)
        try agent.client.endData()
        return try agent.client.expect(RestoreResult.self, id: id).receipt
    }

    func prune(dryRun: Bool, db: FakeDatabase, stateDir: String? = nil,
               configure: (inout AgentConfig) -> Void = { _ in }) throws -> UndoPruneResult {
        let agent = try InProcessAgent(context: Harness.context(db: db, stateDir: stateDir, configure: configure))
        return try agent.client.call(UndoPruneRequest(id: agent.client.makeID(), dryRun: dryRun), expecting: UndoPruneResult.self)
    }

    // MARK: after an operation

    func testAfterASuccessfulSwapRestoreThePolicyDropsWhatIsOldAndKeepsTheRest() throws {
        let db = cluster()
        let receipt = try restore(mode: .swap, db: db)
        XCTAssertEqual(receipt.outcome, .restored, receipt.message)
        let newUndoPoint = try XCTUnwrap(receipt.undoPoint)
        XCTAssertEqual(Set(drops(db)), [oldUndoPoint, oldFailed], "\(db.calls)")
        let left = Set(db.databases.keys)
        for kept in [newUndoPoint, youngUndoPoint, youngUndone, badStamp, "authentik", "postgres"] + foreign {
            XCTAssertTrue(left.contains(kept), "\(kept) must stay: \(left.sorted())")
        }
        // The receipt is the evidence: each drop and the policy's summary are steps, after the outcome's.
        let names = receipt.steps.map(\.name)
        XCTAssertEqual(Array(names.suffix(3)).sorted(), ["apply the undo policy", "drop \(oldFailed)", "drop \(oldUndoPoint)"].sorted())
        XCTAssertEqual(names.last, "apply the undo policy")
        let summary = try XCTUnwrap(receipt.steps.last)
        XCTAssertTrue(summary.ok)
        XCTAssertTrue(summary.detail?.contains("dropped 2") == true, summary.detail ?? "")
        XCTAssertTrue(summary.detail?.contains("never dropped, their stamps do not parse: \(badStamp)") == true, summary.detail ?? "")
        XCTAssertTrue(receipt.steps.first { $0.name == "drop \(oldUndoPoint)" }?.detail?.contains("undo_max_age_days") == true)
        XCTAssertEqual(receipt.signatureStatus(trusting: [Harness.key.publicKey]), .trusted, "the steps are signed with the rest")
    }

    func testADropThatFailsIsAWarningStepNotAFailedRestore() throws {
        let db = cluster()
        db.fail(.drop(oldUndoPoint), "database is being accessed by other users")
        let log = Monitor<[String]>([])
        let receipt = try restore(mode: .swap, db: db, log: log)
        XCTAssertEqual(receipt.outcome, .restored, "the restore itself succeeded: \(receipt.message)")
        XCTAssertTrue(receipt.succeeded)
        XCTAssertNotNil(db.databases[oldUndoPoint], "still there")
        XCTAssertNil(db.databases[oldFailed], "the other drop still happened")
        let step = try XCTUnwrap(receipt.steps.first { $0.name == "drop \(oldUndoPoint)" })
        XCTAssertFalse(step.ok)
        XCTAssertTrue(step.detail?.contains("being accessed by other users") == true, step.detail ?? "")
        let summary = try XCTUnwrap(receipt.steps.last)
        XCTAssertEqual(summary.name, "apply the undo policy")
        XCTAssertFalse(summary.ok)
        XCTAssertTrue(summary.detail?.contains("the operation is unaffected") == true, summary.detail ?? "")
        XCTAssertTrue(log.read { $0 }.contains { $0.hasPrefix("warning: undo policy: could not drop \(oldUndoPoint)") }, "\(log.read { $0 })")
    }

    func testAListingThatFailsIsAWarningStepNotAFailedRestore() throws {
        let db = cluster()
        db.fail(.query("SELECT pg_database_size(datname) || '|' || datname"), "connection reset")
        let receipt = try restore(mode: .test, db: db)
        XCTAssertEqual(receipt.outcome, .tested, receipt.message)
        XCTAssertEqual(drops(db).filter { !$0.hasPrefix("authentik_restoretest_") }, [], "nothing of the policy was dropped")
        let summary = try XCTUnwrap(receipt.steps.last)
        XCTAssertEqual(summary.name, "apply the undo policy")
        XCTAssertFalse(summary.ok)
        XCTAssertTrue(summary.detail?.contains("nothing was dropped") == true, summary.detail ?? "")
    }

    func testARestoreTestAppliesThePolicyToo() throws {
        let db = cluster()
        let receipt = try restore(mode: .test, db: db)
        XCTAssertEqual(receipt.outcome, .tested, receipt.message)
        XCTAssertEqual(Set(drops(db).filter { !$0.hasPrefix("authentik_restoretest_") }), [oldUndoPoint, oldFailed])
        XCTAssertNotNil(db.databases[youngUndoPoint], "the newest undo point stays")
    }

    func testARestoreThatFailsOrRollsBackDropsNothingOld() throws {
        let failing = cluster()
        failing.state.update { $0.artifactModel.rowCounts["public.authentik_core_user"] = 2 }
        let failed = try restore(mode: .swap, db: failing)
        XCTAssertEqual(failed.outcome, .failed)
        XCTAssertEqual(drops(failing).filter { !$0.hasPrefix("authentik_restore_") }, [], "\(failing.calls)")
        XCTAssertFalse(failed.steps.contains { $0.name == "apply the undo policy" })

        let unhealthy = cluster(), app = FakeApp()
        app.state.update { $0.health = [false, true] }
        let rolledBack = try restore(mode: .swap, db: unhealthy, app: app)
        XCTAssertEqual(rolledBack.outcome, .rolledBack)
        XCTAssertEqual(drops(unhealthy), [], "a rollback is no time to drop anything: \(unhealthy.calls)")
    }

    /// 0 days would drop every undo point at once; the one this restore made, and the one it promises
    /// `restore --undo` will put back, stays.
    func testTheUndoPointARestoreJustMadeSurvivesZeroDays() throws {
        let db = cluster()
        let receipt = try restore(mode: .swap, db: db) { $0.undoMaxAgeDays = 0; $0.failedMaxAgeDays = 0 }
        XCTAssertEqual(receipt.outcome, .restored)
        let undoPoint = try XCTUnwrap(receipt.undoPoint)
        XCTAssertNotNil(db.databases[undoPoint])
        XCTAssertEqual(Set(drops(db)), [oldUndoPoint, youngUndoPoint, oldFailed, youngUndone])
        XCTAssertNotNil(db.databases[badStamp])
    }

    func testAfterAnUndoThePolicyRunsAndTheDatabaseItKeptStays() throws {
        let db = cluster()
        let agent = try InProcessAgent(context: Harness.context(db: db) { $0.failedMaxAgeDays = 0 })
        let receipt = try agent.client.call(UndoRequest(id: agent.client.makeID(), healthTimeout: 5, requestedBy: requestedBy),
                                            expecting: RestoreResult.self).receipt
        XCTAssertEqual(receipt.outcome, .undone, receipt.message)
        let undone = try XCTUnwrap(receipt.undoPoint)
        XCTAssertTrue(undone.hasPrefix("authentik_undone_"))
        XCTAssertNotNil(db.databases[undone], "made by this undo: kept even at failed_max_age_days = 0")
        XCTAssertNil(db.databases[youngUndone], "an older undone one goes at 0 days")
        // The undo took the newest pre-restore database; the older one is now the newest and stays.
        XCTAssertNil(db.databases[youngUndoPoint])
        XCTAssertNotNil(db.databases[oldUndoPoint], "now the newest undo point: `restore --undo` goes one further back")
        XCTAssertEqual(receipt.steps.last?.name, "apply the undo policy")
    }

    // MARK: on request

    func testADryRunDecidesButDropsNothing() throws {
        let db = cluster()
        let result = try prune(dryRun: true, db: db)
        XCTAssertTrue(result.dryRun)
        XCTAssertEqual(drops(db), [], "\(db.calls)")
        let byName = Dictionary(uniqueKeysWithValues: result.report.databases.map { ($0.name, $0) })
        XCTAssertEqual(Set(byName.keys), [oldUndoPoint, youngUndoPoint, oldFailed, youngUndone, badStamp],
                       "akbackup's databases only: neither the live one nor foreign ones")
        XCTAssertEqual(byName[oldUndoPoint]?.action, .drop)
        XCTAssertEqual(byName[oldFailed]?.action, .drop)
        XCTAssertEqual(byName[youngUndoPoint]?.action, .keep)
        XCTAssertEqual(byName[badStamp]?.action, .keep)
        XCTAssertTrue(byName[badStamp]?.reason.contains("not a UTC time") == true)
        XCTAssertTrue(result.report.databases.allSatisfy { $0.dropped == nil })
        XCTAssertEqual(result.report.policy, AgentConfig().undoPolicy)
        XCTAssertEqual(result.report.checkedAt, "2027-01-15T08:00:00Z")
    }

    func testAPruneDropsWhatThePolicySaysAndReportsIt() throws {
        let db = cluster()
        db.state.update { s in
            s.sizes[self.oldUndoPoint] = 3 << 30
            s.sizes[self.oldFailed] = 1 << 30
            s.volumeBytes = 100 << 30
            s.freeBytes = 40 << 30
        }
        let result = try prune(dryRun: false, db: db)
        XCTAssertFalse(result.dryRun)
        XCTAssertEqual(Set(drops(db)), [oldUndoPoint, oldFailed])
        XCTAssertEqual(result.report.databases.filter { $0.dropped == true }.map(\.name).sorted(), [oldFailed, oldUndoPoint])
        XCTAssertEqual(result.report.droppedBytes, 4 << 30)
        XCTAssertEqual(result.report.volumeBytes, 100 << 30)
        XCTAssertEqual(result.report.volumeFreeBytes, 40 << 30)
        XCTAssertEqual(result.report.databases.first { $0.name == oldUndoPoint }?.sizeBytes, 3 << 30, "pg_database_size of each")
        for name in ["authentik", "postgres"] + foreign { XCTAssertNotNil(db.databases[name], name) }
        // Nothing is left to drop: a second prune drops nothing.
        let again = try prune(dryRun: false, db: db)
        XCTAssertFalse(again.report.databases.contains { $0.action == .drop })
    }

    func testAPruneWhoseDropFailsSaysSoPerDatabase() throws {
        let db = cluster()
        db.fail(.drop(oldFailed), "permission denied")
        let result = try prune(dryRun: false, db: db)
        let failed = try XCTUnwrap(result.report.databases.first { $0.name == oldFailed })
        XCTAssertEqual(failed.dropped, false)
        XCTAssertTrue(failed.error?.contains("permission denied") == true, failed.error ?? "")
        XCTAssertEqual(result.report.databases.first { $0.name == oldUndoPoint }?.dropped, true)
    }

    func testAPruneWaitsForNoOneAndRefusesWhileAnotherOperationRuns() throws {
        let dir = NSTemporaryDirectory() + "akbackup-undo-lock-" + UUID().uuidString
        let lock = try OperationLock.acquire(stateDir: dir, host: "infra-core", operation: "restore", controller: "laptop")
        defer { lock.release() }
        let db = cluster()
        XCTAssertThrowsError(try prune(dryRun: true, db: db, stateDir: dir)) { error in
            let e = error as? RemoteError
            XCTAssertEqual(e?.code, .busy, "\(error)")
            XCTAssertTrue(e?.message.contains("restore") == true, "\(error)")
        }
        XCTAssertEqual(drops(db), [])
    }

    func testAPruneThatCannotListSaysNothingWasDropped() throws {
        let db = cluster()
        db.fail(.query("SELECT pg_database_size(datname) || '|' || datname"), "connection refused")
        XCTAssertThrowsError(try prune(dryRun: false, db: db)) { error in
            let e = error as? RemoteError
            XCTAssertEqual(e?.code, .failed, "\(error)")
            XCTAssertTrue(e?.message.contains("connection refused") == true, "\(error)")
            XCTAssertTrue(e?.hint.contains("nothing was dropped") == true, "\(error)")
        }
        XCTAssertEqual(drops(db), [])
    }

    /// Leftovers of an interrupted restore are dropped under the lock; without it (doctor) they are only reported.
    func testLeftoversAreDroppedOnlyUnderTheLock() throws {
        let db = cluster()
        db.state.update { $0.databases["authentik_restore_20270115070000"] = FakeDatabase.Model() }
        let probe = AgentProbe(context: Harness.context(db: db))
        XCTAssertEqual(probe.undoReport()?.databases.first { $0.name == "authentik_restore_20270115070000" }?.action, .keep)
        XCTAssertEqual(drops(db), [], "doctor's dry run drops nothing")
        _ = try prune(dryRun: false, db: db)
        XCTAssertNil(db.databases["authentik_restore_20270115070000"])
    }

    // MARK: doctor and status's facts

    func testTheProbeCarriesTheReportWithoutDroppingAnything() throws {
        let db = cluster()
        db.state.update { s in
            s.sizes = [self.oldUndoPoint: 40 << 30, self.youngUndoPoint: 30 << 30]
            s.volumeBytes = 100 << 30
        }
        let agent = try InProcessAgent(context: Harness.context(db: db))
        let undo = try XCTUnwrap(try agent.client.probe().agent?.undo, "the facts carry the report: status needs no other request")
        XCTAssertEqual(undo.databases.map(\.name), [oldFailed, badStamp, oldUndoPoint, youngUndoPoint, youngUndone])
        XCTAssertEqual(undo.databases.first { $0.name == oldUndoPoint }?.action, .drop, "what the next prune would do")
        XCTAssertEqual(drops(db), [], "a probe never drops")
        XCTAssertEqual(undo.volumeBytes, 100 << 30)
        XCTAssertGreaterThan(undo.percentOfVolume ?? 0, 70)
        XCTAssertNotNil(undo.warning(host: "infra-core"))

        let down = FakeDatabase()
        down.fail(.query("pg_database"), "could not connect to server")
        XCTAssertNil(AgentProbe(context: Harness.context(db: down)).undoReport(), "no report rather than a wrong one")
    }

    func testDoctorListsEachDatabaseAndWarnsOverTheShare() throws {
        let db = cluster()
        db.state.update { s in
            s.sizes = [self.oldUndoPoint: 40 << 30, self.youngUndoPoint: 30 << 30]
            s.volumeBytes = 100 << 30
        }
        let context = Harness.context(db: db)
        let report = try XCTUnwrap(AgentProbe(context: context).undoReport())
        let checks = UndoChecks.checks(report, host: "infra-core", now: context.clock())
        XCTAssertEqual(checks.count, 6)
        let summary = checks[0]
        XCTAssertEqual(summary.name, "akbackup databases")
        XCTAssertTrue(summary.ok, "too much space is a warning, not a failed check")
        XCTAssertEqual(summary.warning, true)
        XCTAssertTrue(summary.detail.contains("70.0 GiB"), summary.detail)
        XCTAssertTrue(summary.hint?.contains("akbackup prune") == true)
        let line = try XCTUnwrap(checks.first { $0.detail.hasPrefix(oldUndoPoint) })
        XCTAssertEqual(line.name, "pre-restore")
        XCTAssertTrue(line.detail == "\(oldUndoPoint) (40.0 GiB, 14.3 days old): the next prune drops it: older than 7 days (undo_max_age_days)",
                      line.detail)
        XCTAssertTrue(checks.contains { $0.detail.hasPrefix(badStamp) && $0.detail.contains("never dropped automatically") })

        db.state.update { $0.volumeBytes = 1 << 40 }
        let calm = UndoChecks.checks(try XCTUnwrap(AgentProbe(context: context).undoReport()), host: "infra-core", now: context.clock())
        XCTAssertNil(calm[0].warning)
        XCTAssertTrue(calm[0].detail.contains("7% of the database volume"), calm[0].detail)
        XCTAssertEqual(UndoChecks.checks(try XCTUnwrap(AgentProbe(context: Harness.context()).undoReport()), host: "infra-core", now: context.clock()),
                       [], "nothing to say when there is none")
    }
}
