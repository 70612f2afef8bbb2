import AKBase
import AKProtocol
import Foundation

/// The downtime window of a restore or undo: stop the app, rename live away, rename the candidate
/// in, start, wait for health, and roll back if health does not come. Runs to the end even if the
/// controller or the SSH link dies: the context's shield is engaged before the services stop.
///
/// Its whole decision table is unit-tested with scripted fakes (Tests/AgentCoreTests/SwapWindowTests.swift).
struct SwapWindow {
    let context: AgentContext
    let db: DatabaseServer

    struct Result {
        var outcome: RestoreOutcome
        var downtime: Double?
        var message: String
        /// Authentik's files were renamed (in, or in and back): the prepared trees are no leftovers.
        var filesMoved = false
    }

    /// `files`: Authentik's files, prepared beside the live directories, swapped in with the database
    /// and rolled back with it (§15.3).
    func swapIn(candidate: String, keepLiveAs: String, failedName: String, healthTimeout: TimeInterval,
                steps: inout StepLog, appGuard: inout AppGuard, files: FilesRestore? = nil) -> Result {
        context.shield()
        let live = db.liveDatabase
        context.log("swap window opens: \(candidate) replaces \(live)")
        do {
            try steps.run("stop services") { try appGuard.stop() }
        } catch {
            _ = steps.runQuietly("start services") { try appGuard.start() }
            return Result(outcome: .failed, downtime: appGuard.downtime(),
                          message: "could not stop the services (\(describe(error))); the live database was not touched")
        }
        do {
            try steps.run("rename \(live) to \(keepLiveAs)") { try db.renameDatabase(live, to: keepLiveAs) }
        } catch {
            _ = steps.runQuietly("start services") { try appGuard.start() }
            return Result(outcome: .failed, downtime: appGuard.downtime(),
                          message: "could not rename the live database (\(describe(error))); it was not touched")
        }
        do {
            try steps.run("rename \(candidate) to \(live)") { try db.renameDatabase(candidate, to: live) }
        } catch {
            let back = steps.runQuietly("rename \(keepLiveAs) back to \(live)") { try db.renameDatabase(keepLiveAs, to: live) }
            _ = steps.runQuietly("start services") { try appGuard.start() }
            return Result(outcome: .failed, downtime: appGuard.downtime(),
                          message: back ? "could not rename \(candidate) (\(describe(error))); the previous database is live again"
                                        : "could not rename \(candidate) and could not put \(keepLiveAs) back: rename it to \(live) by hand")
        }
        if let files {
            do {
                try steps.run("swap in Authentik's files") { try files.moveIn() }
            } catch {
                // The database goes back too: files and database are restored together or not at all.
                let out = steps.runQuietly("rename \(live) to \(candidate)") { try db.renameDatabase(live, to: candidate) }
                let back = out && steps.runQuietly("rename \(keepLiveAs) back to \(live)") { try db.renameDatabase(keepLiveAs, to: live) }
                _ = steps.runQuietly("start services") { try appGuard.start() }
                return Result(outcome: .failed, downtime: appGuard.downtime(),
                              message: back ? "could not swap in Authentik's files (\(describe(error))); the previous database and files are live again"
                                            : "could not swap in Authentik's files (\(describe(error))) and could not put \(keepLiveAs) back: rename it to \(live) by hand")
            }
        }
        let health = appGuard.startAndWaitHealthy(timeout: healthTimeout, steps: &steps)
        if health.ok {
            return Result(outcome: .restored, downtime: appGuard.downtime(),
                          message: "\(live) restored; the previous database is kept as \(keepLiveAs) (akbackup restore --undo)", filesMoved: files != nil)
        }

        context.log("rolling back: \(health.detail)")
        _ = steps.runQuietly("stop services (rollback)") { try appGuard.stop() }
        let movedAway = steps.runQuietly("rename \(live) to \(failedName)") { try db.renameDatabase(live, to: failedName) }
        let movedBack = movedAway && steps.runQuietly("rename \(keepLiveAs) back to \(live)") {
            try db.renameDatabase(keepLiveAs, to: live)
        }
        if let files {
            _ = steps.runQuietly("put the previous Authentik files back") {
                guard files.moveBack() else { throw Failure("some directories did not move back", hint: "see the .akbackup-previous-* directories") }
            }
        }
        let again = appGuard.startAndWaitHealthy(timeout: healthTimeout, steps: &steps, suffix: " (rollback)")
        if movedBack && again.ok {
            return Result(outcome: .rolledBack, downtime: appGuard.downtime(),
                          message: "the restored database never became healthy (\(health.detail)); rolled back: the previous database\(files == nil ? "" : " and files") is live again, the restored one is kept as \(failedName)",
                          filesMoved: files != nil)
        }
        let whatIsLive = movedBack ? live : (movedAway ? "\(keepLiveAs) (rename it to \(live) by hand)" : "the restored one (\(live)); the previous is \(keepLiveAs)")
        return Result(outcome: .failed, downtime: appGuard.downtime(),
                      message: "the restored database never became healthy (\(health.detail)) and the rollback is incomplete (\(movedBack ? again.detail : "renames failed")): the live database is \(whatIsLive)",
                      filesMoved: files != nil)
    }

    /// `--files-only`: stop, Authentik's files swapped in by rename, start, health; a rollback puts
    /// the previous files back. The database is not touched.
    func swapFilesOnly(_ files: FilesRestore, healthTimeout: TimeInterval, steps: inout StepLog, appGuard: inout AppGuard) -> Result {
        context.shield()
        do {
            try steps.run("stop services") { try appGuard.stop() }
        } catch {
            _ = steps.runQuietly("start services") { try appGuard.start() }
            return Result(outcome: .failed, downtime: appGuard.downtime(), message: "could not stop the services (\(describe(error))); the files were not touched")
        }
        do {
            try steps.run("swap in Authentik's files") { try files.moveIn() }
        } catch {
            _ = steps.runQuietly("start services") { try appGuard.start() }
            return Result(outcome: .failed, downtime: appGuard.downtime(), message: "could not swap in Authentik's files (\(describe(error))); the previous files are live again")
        }
        let health = appGuard.startAndWaitHealthy(timeout: healthTimeout, steps: &steps)
        if health.ok {
            return Result(outcome: .restored, downtime: appGuard.downtime(),
                          message: "Authentik's files restored; the database was not touched; the previous files are kept as \(files.previousPaths.joined(separator: ", "))",
                          filesMoved: true)
        }
        _ = steps.runQuietly("stop services (rollback)") { try appGuard.stop() }
        let back = steps.runQuietly("put the previous Authentik files back") {
            guard files.moveBack() else { throw Failure("some directories did not move back", hint: "see the .akbackup-previous-* directories") }
        }
        let again = appGuard.startAndWaitHealthy(timeout: healthTimeout, steps: &steps, suffix: " (rollback)")
        return Result(outcome: back && again.ok ? .rolledBack : .failed, downtime: appGuard.downtime(),
                      message: "Authentik did not become healthy with the restored files (\(health.detail)); \(back ? "the previous files are live again" : "the rollback is incomplete: see the .akbackup-previous-* directories")",
                      filesMoved: true)
    }
}
