@testable import AgentCore
import AgentHarness
import AKProtocol
import XCTest

/// The swap window's whole decision table, against scripted fakes of the database server and the
/// app services: every step failing, health never coming, the shield up before anything stops.
final class SwapWindowTests: XCTestCase {
    let live = "authentik", candidate = "authentik_restore_20270115080000", pre = "authentik_pre_restore_20270115080000"
    let failed = "authentik_failed_20270115080000"

    struct Run {
        var result: SwapWindow.Result
        var steps: [RestoreStep]
        var db: FakeDatabase
        var app: FakeApp
    }

    func swap(_ configure: (FakeDatabase, FakeApp) -> Void) -> Run {
        let db = FakeDatabase()
        db.state.update { $0.databases[candidate] = FakeDatabase.Model(rowCounts: ["public.x": 1]) }
        let app = FakeApp()
        configure(db, app)
        let context = Harness.context(db: db, app: app)
        var steps = StepLog()
        var guardApp = AppGuard(app: app, log: { _ in })
        let result = SwapWindow(context: context, db: db).swapIn(candidate: candidate, keepLiveAs: pre, failedName: failed,
                                                                 healthTimeout: 1, steps: &steps, appGuard: &guardApp)
        guardApp.restoreIfNeeded()
        return Run(result: result, steps: steps.steps, db: db, app: app)
    }

    func testHealthyCandidateIsRestoredAndTheOldDatabaseKept() {
        let r = swap { _, _ in }
        XCTAssertEqual(r.result.outcome, .restored)
        XCTAssertEqual(r.db.databases[live]?.rowCounts, ["public.x": 1], "the candidate is live")
        XCTAssertEqual(r.db.databases[pre], FakeDatabase.sample, "the old live database is the undo point")
        XCTAssertEqual(r.app.calls, ["stop", "start", "health"])
        XCTAssertFalse(r.app.state.read { $0.stoppedWithoutShield }, "the services stopped before the signal shield was up")
        XCTAssertNotNil(r.result.downtime)
        XCTAssertTrue(r.app.running)
    }

    func testStopFailingLeavesLiveUntouchedAndServicesStarted() {
        let r = swap { _, app in app.state.update { $0.stopFails = true } }
        XCTAssertEqual(r.result.outcome, .failed)
        XCTAssertTrue(r.result.message.contains("could not stop"), r.result.message)
        XCTAssertFalse(r.db.calls.contains { $0.hasPrefix("rename") })
        XCTAssertEqual(r.db.databases[live], FakeDatabase.sample)
        XCTAssertTrue(r.app.calls.contains("start"))
    }

    func testRenamingLiveFailingStartsTheServicesAndTouchesNothing() {
        let r = swap { db, _ in db.fail(.rename(live, pre)) }
        XCTAssertEqual(r.result.outcome, .failed)
        XCTAssertEqual(r.db.databases[live], FakeDatabase.sample)
        XCTAssertNotNil(r.db.databases[candidate], "the candidate stays for the caller to drop")
        XCTAssertTrue(r.app.running)
    }

    func testRenamingTheCandidateFailingPutsLiveBack() {
        let r = swap { db, _ in db.fail(.rename(candidate, live)) }
        XCTAssertEqual(r.result.outcome, .failed)
        XCTAssertTrue(r.result.message.contains("previous database is live again"), r.result.message)
        XCTAssertEqual(r.db.databases[live], FakeDatabase.sample)
        XCTAssertTrue(r.app.running)
    }

    func testRenamingTheCandidateAndBackFailingSaysWhatToDoByHand() {
        let r = swap { db, _ in
            db.fail(.rename(candidate, live))
            db.fail(.rename(pre, live))
        }
        XCTAssertEqual(r.result.outcome, .failed)
        XCTAssertTrue(r.result.message.contains("by hand"), r.result.message)
        XCTAssertNotNil(r.db.databases[pre], "the old database still exists under its undo name")
        XCTAssertTrue(r.app.running, "the services are never left stopped")
    }

    func testUnhealthyCandidateIsRolledBack() {
        let r = swap { _, app in app.state.update { $0.health = [false, true] } }
        XCTAssertEqual(r.result.outcome, .rolledBack)
        XCTAssertEqual(r.db.databases[live], FakeDatabase.sample, "the previous database is live again")
        XCTAssertEqual(r.db.databases[failed]?.rowCounts, ["public.x": 1], "the candidate is kept as the failed one")
        XCTAssertNil(r.db.databases[pre])
        XCTAssertEqual(r.app.calls, ["stop", "start", "health", "stop", "start", "health"])
    }

    func testServicesNotStartingIsTreatedAsUnhealthyAndRolledBack() {
        let r = swap { _, app in app.state.update { $0.startFailures = 1 } }
        XCTAssertEqual(r.result.outcome, .rolledBack)
        XCTAssertEqual(r.db.databases[live], FakeDatabase.sample)
        XCTAssertTrue(r.app.running)
    }

    func testHealthNeverComingEndsFailedNamingWhatIsLive() {
        let r = swap { _, app in app.state.update { $0.health = [false, false] } }
        XCTAssertEqual(r.result.outcome, .failed)
        XCTAssertEqual(r.db.databases[live], FakeDatabase.sample, "the renames of the rollback happened")
        XCTAssertTrue(r.result.message.contains("rollback is incomplete"), r.result.message)
        XCTAssertTrue(r.app.running, "the services are never left stopped")
    }

    func testRollbackRenameFailingSaysTheRestoredOneIsLive() {
        let r = swap { db, app in
            app.state.update { $0.health = [false, true] }
            db.fail(.rename(live, failed))
        }
        XCTAssertEqual(r.result.outcome, .failed)
        XCTAssertTrue(r.result.message.contains("the restored one"), r.result.message)
        XCTAssertEqual(r.db.databases[live]?.rowCounts, ["public.x": 1])
        XCTAssertNotNil(r.db.databases[pre])
        XCTAssertTrue(r.app.running)
    }

    func testRollbackRenameBackFailingNamesTheUndoDatabase() {
        let r = swap { db, app in
            app.state.update { $0.health = [false, true] }
            db.fail(.rename(pre, live))
        }
        XCTAssertEqual(r.result.outcome, .failed)
        XCTAssertTrue(r.result.message.contains(pre), r.result.message)
        XCTAssertNil(r.db.databases[live], "live was moved away and not replaced: the message says where it is")
        XCTAssertTrue(r.app.running)
    }

    func testEveryStepIsTimedInTheLog() {
        let r = swap { _, app in app.state.update { $0.health = [false, true] } }
        XCTAssertEqual(r.steps.map(\.name), ["stop services", "rename \(live) to \(pre)", "rename \(candidate) to \(live)", "start services",
                                             "wait for health", "stop services (rollback)", "rename \(live) to \(failed)",
                                             "rename \(pre) back to \(live)", "start services (rollback)", "wait for health (rollback)"])
        XCTAssertEqual(r.steps.map(\.ok), [true, true, true, true, false, true, true, true, true, true])
    }
}
