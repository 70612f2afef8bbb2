import AKProtocol
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The downtime window of a restore: stop the app, rename live away, rename the candidate in,
/// start, wait for health, and roll back if health does not come. Runs to the end even if the
/// controller or the SSH link dies: hang-up and termination signals are ignored from here on.
struct SwapWindow {
    let host: AgentHost
    let password: String
    let log: (String) -> Void

    struct Outcome {
        var outcome: String
        var downtime: Double?
        var message: String
    }

    func swapIn(candidate: String, keepLiveAs: String, failedName: String, healthTimeout: TimeInterval,
                steps: inout StepLog, appGuard: inout AppGuard) -> Outcome {
        SignalShield.engage()
        let live = host.config.database
        log("swap window opens: \(candidate) replaces \(live)")
        do {
            try steps.run("stop services") { try appGuard.stop() }
        } catch {
            return Outcome(outcome: "failed", downtime: appGuard.downtime(),
                           message: "could not stop the services (\(describe(error))); the live database was not touched")
        }
        do {
            try steps.run("rename \(live) to \(keepLiveAs)") { try host.renameDatabase(live, to: keepLiveAs, password: password) }
        } catch {
            _ = steps.runQuietly("start services") { try appGuard.start() }
            return Outcome(outcome: "failed", downtime: appGuard.downtime(),
                           message: "could not rename the live database (\(describe(error))); it was not touched")
        }
        do {
            try steps.run("rename \(candidate) to \(live)") { try host.renameDatabase(candidate, to: live, password: password) }
        } catch {
            let back = steps.runQuietly("rename \(keepLiveAs) back to \(live)") { try host.renameDatabase(keepLiveAs, to: live, password: password) }
            _ = steps.runQuietly("start services") { try appGuard.start() }
            return Outcome(outcome: "failed", downtime: appGuard.downtime(),
                           message: back ? "could not rename \(candidate) (\(describe(error))); the previous database is live again"
                                         : "could not rename \(candidate) and could not put \(keepLiveAs) back: rename it to \(live) by hand")
        }
        let started = steps.runQuietly("start services") { try appGuard.start() }
        let waitStart = Date()
        let health = started ? host.waitHealthy(timeout: healthTimeout) : (ok: false, detail: "the services did not start")
        steps.record("wait for health", ok: health.ok, detail: health.detail, since: waitStart)
        if health.ok {
            appGuard.markHealthy()
            return Outcome(outcome: "restored", downtime: appGuard.downtime(),
                           message: "\(live) restored; the previous database is kept as \(keepLiveAs) (akbackup restore --undo)")
        }

        log("rolling back: \(health.detail)")
        _ = steps.runQuietly("stop services (rollback)") { try appGuard.stop() }
        let movedAway = steps.runQuietly("rename \(live) to \(failedName)") { try host.renameDatabase(live, to: failedName, password: password) }
        let movedBack = movedAway && steps.runQuietly("rename \(keepLiveAs) back to \(live)") {
            try host.renameDatabase(keepLiveAs, to: live, password: password)
        }
        _ = steps.runQuietly("start services (rollback)") { try appGuard.start() }
        let rollbackStart = Date()
        let again = host.waitHealthy(timeout: healthTimeout)
        steps.record("wait for health (rollback)", ok: again.ok, detail: again.detail, since: rollbackStart)
        if again.ok { appGuard.markHealthy() }
        if movedBack && again.ok {
            return Outcome(outcome: "rolled-back", downtime: appGuard.downtime(),
                           message: "the restored database never became healthy (\(health.detail)); rolled back: the previous database is live again, the restored one is kept as \(failedName)")
        }
        return Outcome(outcome: "failed", downtime: appGuard.downtime(),
                       message: "the restored database never became healthy (\(health.detail)) and the rollback is incomplete (\(movedBack ? again.detail : "renames failed")): the previous database is \(movedBack ? live : keepLiveAs)")
    }

    private func describe(_ error: Error) -> String {
        (error as? ErrorMessage)?.message ?? "\(error)"
    }
}
