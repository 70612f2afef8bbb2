import AKBase
import AKProtocol
import Foundation
import ProtocolSession

/// `akbackup restore --undo`: the newest undo point becomes live again — a pre-restore database
/// (after a swap) through the swap window, or the agent's own undo copy (after a replace) by a
/// drop-and-recreate replay of that file. And the agent's other requests about its databases.
struct UndoJob {
    let context: AgentContext
    let controller: String

    func run(_ request: UndoRequest, session: ServerSession) throws {
        let began = context.clock()
        var steps = StepLog()
        let lock = try OperationLock.acquire(stateDir: context.config.stateDir, host: context.hostName, operation: "undo", controller: controller)
        defer { lock.release() }
        let key = try context.requireSigningKey()
        let db = try context.database()
        let newestDatabase = AgentDatabases.newestPreRestore(try db.ownDatabases().map(\.name))
        let newestCopy = UndoCopy.list(stateDir: context.config.stateDir).first
        let dbStamp = newestDatabase.map { String($0.suffix(14)) } ?? ""
        guard newestDatabase != nil || newestCopy != nil else {
            throw ErrorMessage(id: request.id, code: .notFound, message: "there is no undo point on \(context.hostName) to go back to",
                               hint: "`akbackup doctor` lists akbackup's databases; restore a backup instead")
        }
        let stamp = context.stamp()
        let timeout = TimeInterval(min(request.healthTimeout, context.config.maxHealthTimeout))
        var appGuard = AppGuard(app: context.app, log: context.log)
        defer { appGuard.restoreIfNeeded() }
        var outcome: RestoreOutcome
        var message: String
        var downtime: Double?
        var undoPoint: String?
        if let copy = newestCopy, copy.stamp > dbStamp {
            (outcome, message, downtime) = replayCopy(copy, db: db, stamp: stamp, timeout: timeout, steps: &steps, appGuard: &appGuard)
        } else {
            let pre = newestDatabase!
            let keep = AgentDatabases.undone(stamp)
            // The files that restore replaced (§15.3) come back in the same window, when it kept any.
            let files = FilesRestore.undo(restoreStamp: dbStamp, stamp: stamp, hostMounts: (try? context.files.mounts()) ?? [], files: context.files)
            let swap = SwapWindow(context: context, db: db)
                .swapIn(candidate: pre, keepLiveAs: keep, failedName: AgentDatabases.failed(stamp),
                        healthTimeout: timeout, steps: &steps, appGuard: &appGuard, files: files)
            outcome = swap.outcome == .restored ? .undone : swap.outcome
            message = swap.outcome == .restored ? "\(pre) is live again; the replaced database is kept as \(keep)" : swap.message
            if let files, swap.outcome == .restored {
                message += "; Authentik's files of before that restore are back, the replaced ones kept as " + files.previousPaths.joined(separator: ", ")
            }
            downtime = swap.downtime
            if swap.outcome == .restored { undoPoint = keep }
        }
        if outcome.succeeded {
            // As after a restore (RestoreJob): the database this undo kept is protected until the next prune.
            UndoPruning(context: context, db: db).applyAfterSuccess(protected: Set([undoPoint].compactMap { $0 }), steps: &steps)
        }
        var receipt = Receipt(operation: "undo", artifact: nil, sha256: nil, artifactSigned: nil,
                              operatorName: request.requestedBy.user, controllerHost: request.requestedBy.host, agentHost: context.hostName,
                              startedAt: Timestamp.string(began), finishedAt: Timestamp.string(context.clock()), steps: steps.steps,
                              validation: nil, downtimeSeconds: downtime, outcome: outcome, message: message, undoPoint: undoPoint)
        try receipt.sign(with: key.privateKey)
        context.log("\(outcome.rawValue): \(message)")
        do { try session.send(RestoreResult(id: request.id, receipt: receipt)) } catch {
            context.log("could not report the result to the controller: \(error)")
        }
    }

    /// Replays the agent's own undo copy over the live database (drop and recreate), services stopped.
    private func replayCopy(_ copy: UndoCopy, db: DatabaseServer, stamp: String, timeout: TimeInterval,
                            steps: inout StepLog, appGuard: inout AppGuard) -> (RestoreOutcome, String, Double?) {
        let path = "\(UndoCopy.directory(stateDir: context.config.stateDir))/\(copy.file)"
        let live = db.liveDatabase
        let spool: Spool
        do {
            spool = try steps.run("check undo copy \(copy.file)") {
                let s = try Spool.open(existing: path)
                guard s.size == copy.size, try s.rehash() == copy.sha256 else {
                    throw ErrorMessage(id: nil, code: .failed, message: "the undo copy \(copy.file) changed since it was made", hint: "restore a backup instead")
                }
                try Replayer.check(s)
                return s
            }
        } catch {
            return (.failed, "the undo copy cannot be used (\(describe(error))); nothing was changed", nil)
        }
        context.shield()
        do {
            try steps.run("stop services") { try appGuard.stop() }
            try steps.run("drop and recreate \(live)") {
                try db.dropDatabase(live)
                try db.createDatabase(live)
            }
        } catch {
            _ = steps.runQuietly("start services") { try appGuard.start() }
            return (.failed, "could not prepare \(live) for the undo copy (\(describe(error)))", appGuard.downtime())
        }
        let restrict = Replayer.supportsRestrict(psqlVersion: db.toolVersion("psql"))
        let failure = steps.replay("replay \(copy.file) into \(live)") {
            Replayer(db: db, log: context.log).replay(spool, into: live, restrict: restrict, progress: { _ in }, shouldStop: { false })
        }
        let health = appGuard.startAndWaitHealthy(timeout: timeout, steps: &steps)
        if failure == nil && health.ok {
            return (.undone, "\(live) is back as it was before the replace (from \(copy.file))", appGuard.downtime())
        }
        return (.failed, "the undo copy \(copy.file) did not come back: \(failure ?? health.detail); it is kept in \(UndoCopy.directory(stateDir: context.config.stateDir))", appGuard.downtime())
    }
}

/// `akbackup drop-database NAME`: only databases the agent made, never the live one.
struct DropDatabaseJob {
    let context: AgentContext
    let controller: String

    func run(_ request: DropDatabaseRequest, session: ServerSession) throws {
        guard AgentDatabases.isOwn(request.name), request.name != context.config.database else {
            throw ErrorMessage(id: request.id, code: .badRequest, message: "refusing to drop \"\(String(request.name.prefix(100)))\": not a database akbackup made",
                               hint: "`akbackup doctor` lists the databases akbackup made")
        }
        let lock = try OperationLock.acquire(stateDir: context.config.stateDir, host: context.hostName, operation: "drop-database", controller: controller)
        defer { lock.release() }
        let db = try context.database()
        guard try db.databaseExists(request.name) else {
            throw ErrorMessage(id: request.id, code: .notFound, message: "database \(request.name) does not exist", hint: "see `akbackup doctor`")
        }
        try db.dropDatabase(request.name)
        try session.send(Done(id: request.id, detail: "dropped \(request.name)"))
    }
}
