import AKBase
import AKProtocol
import Foundation
import Retention
#if canImport(Glibc)
import Glibc
#endif

/// The steps of removing one backup, in order. The artifact goes first and the manifest last, so
/// at every point a kill can leave, the backup is either whole (nothing done yet) or no longer an
/// artifact at all: nothing can list, verify or fetch a half-removed backup, and what is left over
/// (`.NAME.pruning`, a manifest or pin without its artifact) is garbage the next prune, the next
/// `list` or the next session removes (`finishInterruptedPrunes`).
public enum PruneStep: String, CaseIterable, Sendable {
    case renameArtifact = "rename NAME to .NAME.pruning"
    case syncRename = "fsync the directory (the rename)"
    case deleteArtifact = "delete .NAME.pruning"
    case deleteFiles = "delete the files member"
    case deleteManifest = "delete the manifest"
    case deletePin = "delete the pin"
    case syncDeletes = "fsync the directory (the deletions)"
}

/// Called before each step of each removal; a test throws from it to stop a prune there, as a kill would.
public typealias PruneHook = @Sendable (_ step: PruneStep, _ name: String) throws -> Void

extension BackupStore {
    /// `.NAME.pruning`: the artifact renamed away, not an artifact name, so nothing lists or serves it.
    public static func pruningName(for artifact: String) -> String { "." + artifact + ".pruning" }

    /// The pin of an artifact, if it has one. Any file by the pin's name pins: one that does not read
    /// as a pin still keeps its backup (a damaged pin must not let retention take what it guards),
    /// and is shown with a reason that says so.
    public func pin(for artifact: String) -> Pin? {
        let p = path(BackupStore.pinName(for: artifact))
        var st = stat()
        guard lstat(p, &st) == 0 else { return nil }
        if let bytes = try? FileIO.readFile(p, limit: 64 * 1024),
           let pin = try? MessageCodec.decodeDocument(Pin.self, from: bytes), pin.name == artifact, (try? pin.validate("pin")) != nil {
            return pin
        }
        return Pin(name: artifact, reason: "(\(BackupStore.pinName(for: artifact)) does not read as a pin)",
                   pinnedAt: Timestamp.string(Date(timeIntervalSince1970: TimeInterval(st.st_mtim.tv_sec))), by: nil)
    }

    // MARK: what retention sees

    /// Every artifact (a regular file whose name is a real instant) with what the policy's floors
    /// need: its size, a trusted signature, its pin, whether the newest passing restore test used it.
    /// With `verify`, backups are re-read newest first until one with a trusted signature verifies
    /// (usually only the newest); a newer one without a trusted signature is verified as well, so
    /// the newest dump made by hand that verifies is known too.
    func retentionInventory(verify: Bool) throws -> [RetentionBackup] {
        let restoreTested = newestRestoreTestedArtifact()
        var backups: [RetentionBackup] = try artifactNames().compactMap { name in
            var st = stat()
            guard lstat(path(name), &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, let date = ArtifactName.date(of: name) else { return nil }
            var files = stat()
            let filesSize = lstat(path(ArtifactName.filesName(for: name)), &files) == 0 ? Int64(files.st_size) : 0
            return RetentionBackup(name: name, date: date, size: Int64(st.st_size) + filesSize,
                                   trusted: manifest(for: name)?.signatureStatus(trusting: trustedKeys) == .trusted,
                                   pin: pin(for: name)?.reason, restoreTested: name == restoreTested)
        }
        guard verify else { return backups }
        var unsignedFound = false
        for i in backups.indices.sorted(by: { backups[$0].date > backups[$1].date }) {
            guard backups[i].trusted || !unsignedFound else { continue }
            let ok = (try? self.verify(backups[i].name, id: 0))?.ok ?? false
            backups[i].verified = ok
            if ok && backups[i].trusted { break }
            if ok { unsignedFound = true }
        }
        return backups
    }

    // MARK: prune

    /// Plans with this receiver's own policy and, unless `dryRun`, removes what the plan removes, one
    /// backup at a time, manifest last (`PruneStep`). A real prune holds the directory lock from the
    /// cleanup of an interrupted prune to its last removal; a dry run changes nothing. Both read the
    /// same state the same way, so on the same state they decide the same. Logs every removal with
    /// the policy under which nothing kept it.
    public func prune(dryRun: Bool, now: Date, id: UInt64, log: (String) -> Void, hook: PruneHook? = nil) throws -> RetentionPlan {
        if dryRun { return retention.plan(backups: try retentionInventory(verify: true), now: now) }
        if let problem = mountProblem() {
            throw ErrorMessage(id: id, code: .ioError, message: "refusing to prune: \(problem) (is the NAS volume mounted?)",
                               hint: "mount the volume, or set require_mount in \(ReceiverConfig.defaultPath) to where the backups really live")
        }
        return try whileHoldingDirectoryLock {
            finishInterruptedPrunes(log: log)
            let plan = retention.plan(backups: try retentionInventory(verify: true), now: now)
            let removals = plan.removals
            if !removals.isEmpty { log("prune: removing \(removals.count) of \(plan.decisions.count) backups (policy: \(retention))") }
            for (done, decision) in removals.enumerated() {
                do {
                    try remove(decision.backup.name, hook: hook)
                } catch let e as FileIOError {
                    throw ErrorMessage(id: id, code: .ioError,
                                       message: "prune removed \(done) of \(removals.count) backups, then failed: \(e.summary)",
                                       hint: "\(e.hint); the next prune finishes what this one left")
                }
                log("pruned \(decision.backup.name) (\(decision.backup.size) bytes): no rule, floor or pin keeps it under \(retention)")
            }
            return plan
        }
    }

    /// Removes one backup, manifest last. Throws FileIOError (or what `hook` throws) and stops there.
    func remove(_ name: String, hook: PruneHook?) throws {
        let artifact = path(name), hidden = path(BackupStore.pruningName(for: name))
        try hook?(.renameArtifact, name)
        guard rename(artifact, hidden) == 0 else { throw FileIOError("rename", path: artifact, code: errno) }
        try hook?(.syncRename, name)
        try FileIO.fsyncDirectory(directory)
        try hook?(.deleteArtifact, name)
        guard unlink(hidden) == 0 else { throw FileIOError("delete", path: hidden, code: errno) }
        try hook?(.deleteFiles, name)
        try unlinkIfPresent(path(ArtifactName.filesName(for: name)))
        try hook?(.deleteManifest, name)
        try unlinkIfPresent(path(BackupStore.manifestName(for: name)))
        try hook?(.deletePin, name)
        try unlinkIfPresent(path(BackupStore.pinName(for: name)))
        try hook?(.syncDeletes, name)
        try FileIO.fsyncDirectory(directory)
    }

    private func unlinkIfPresent(_ p: String) throws {
        guard unlink(p) == 0 || errno == ENOENT else { throw FileIOError("delete", path: p, code: errno) }
    }

    /// Removes what an interrupted prune left: every `.NAME.pruning` (an artifact already renamed
    /// away), and every manifest `<base>.json` and pin `<base>.pin` whose artifact `<base>.sql.gz` no
    /// longer exists. An upload links its artifact before it writes the manifest, so a live upload
    /// never has a manifest without its artifact. Artifacts, `.partial` files and receipts/ are never
    /// touched. Call it holding the directory lock. Returns how many files it removed.
    @discardableResult
    public func finishInterruptedPrunes(log: (String) -> Void) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return 0 }
        var removed = 0
        func artifactGone(_ artifact: String) -> Bool {
            var st = stat()
            return lstat(path(artifact), &st) != 0 && errno == ENOENT
        }
        for name in names {
            let what: String
            if name.hasPrefix("."), name.hasSuffix(".pruning"), ArtifactName.isValid(String(name.dropFirst().dropLast(8))) {
                what = "the rest of an interrupted prune"
            } else if name.hasSuffix(".json"), case let artifact = String(name.dropLast(5)) + ArtifactName.suffix,
                      ArtifactName.isValid(artifact), artifactGone(artifact) {
                what = "a manifest whose artifact is gone"
            } else if name.hasSuffix(".pin"), case let artifact = String(name.dropLast(4)) + ArtifactName.suffix,
                      ArtifactName.isValid(artifact), artifactGone(artifact) {
                what = "a pin whose artifact is gone"
            } else if ArtifactName.isValidFilesName(name), artifactGone(ArtifactName.dumpName(forFiles: name)) {
                what = "a files member whose set is gone"
            } else {
                continue
            }
            var st = stat()
            guard lstat(path(name), &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, unlink(path(name)) == 0 else { continue }
            log("removed \(name): \(what)")
            removed += 1
        }
        if removed > 0 { try? FileIO.fsyncDirectory(directory) }
        return removed
    }

    /// `finishInterruptedPrunes` under the directory lock (at the start of a session, before `list`).
    public func finishInterruptedPrunesLocked(log: (String) -> Void) {
        _ = try? whileHoldingDirectoryLock { finishInterruptedPrunes(log: log) }
    }

    // MARK: the protocol's view

    var retentionInfo: RetentionPolicyInfo {
        let p = retention
        return RetentionPolicyInfo(configured: p.isConfigured, text: p.description, keepLast: p.keepLast, keepHourly: p.keepHourly,
                                   keepDaily: p.keepDaily, keepWeekly: p.keepWeekly, keepMonthly: p.keepMonthly, keepYearly: p.keepYearly,
                                   keepWithin: p.keepWithin?.description, minAge: p.minAge.description, minKeep: p.minKeep)
    }

    /// One page of `plan` from `offset`: at most `limit` decisions, newest first, stopping before
    /// the one that would take the page past half a frame (but always at least one when any is left).
    func pruneResult(_ plan: RetentionPlan, dryRun: Bool, id: UInt64, offset: Int, limit: Int) -> PruneResult {
        var page: [PruneDecision] = []
        var bytes = 0
        let budget = ProtocolLimits.maxFramePayload / 2
        let encoder = MessageCodec.canonicalEncoder()
        for d in plan.decisions.dropFirst(offset) {
            guard page.count < limit else { break }
            let decision = PruneDecision(name: d.backup.name, keep: d.keep, reasons: d.reasons.map(\.text), size: d.backup.size)
            let size = (try? encoder.encode(decision).count) ?? budget
            if !page.isEmpty && bytes + size > budget { break }
            bytes += size
            page.append(decision)
        }
        return PruneResult(id: id, dryRun: dryRun, policy: retentionInfo, total: plan.decisions.count, kept: plan.keptCount,
                           removed: plan.decisions.count - plan.keptCount, bytesFreed: plan.bytesFreed, bytesKept: plan.bytesKept,
                           keptBy: plan.keptBy.map { RetentionRuleCount(rule: $0.rule.rawValue, kept: $0.kept) },
                           offset: min(offset, plan.decisions.count), decisions: page, freeBytes: space()?.free)
    }

    // MARK: pins

    /// Pins (writes `<base>.pin` atomically, replacing an older pin) or unpins (deletes it) a backup.
    func pin(_ request: PinRequest, now: Date, log: (String) -> Void) throws -> Done {
        let id = request.id, name = request.name
        guard ArtifactName.isValid(name) else {
            throw ErrorMessage(id: id, code: .badRequest, message: "\"\(String(name.prefix(100)))\" is not an artifact name",
                               hint: "names look like authentik-db-2026-01-31T020000Z.sql.gz; see `akbackup list`")
        }
        try requireWritable(id: id)
        return try whileHoldingDirectoryLock {
            var st = stat()
            guard lstat(path(name), &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                throw ErrorMessage(id: id, code: .notFound, message: "\(name) does not exist in \(directory)",
                                   hint: "see `akbackup list` for the backups there are")
            }
            let pinPath = path(BackupStore.pinName(for: name))
            guard request.pinned else {
                guard unlink(pinPath) == 0 else {
                    if errno == ENOENT { return Done(id: id, detail: "\(name) was not pinned") }
                    let e = FileIOError("delete", path: pinPath, code: errno)
                    throw ErrorMessage(id: id, code: .ioError, message: e.summary, hint: e.hint)
                }
                try? FileIO.fsyncDirectory(directory)
                log("unpinned \(name)")
                return Done(id: id, detail: "unpinned \(name)")
            }
            guard let reason = request.reason else {
                throw ErrorMessage(id: id, code: .badRequest, message: "pinning \(name) needs a reason", hint: "akbackup pin NAME --reason TEXT")
            }
            let pin = Pin(name: name, reason: reason, pinnedAt: Timestamp.string(now), by: request.requestedBy.map { "\($0.user)@\($0.host)" })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            do {
                try FileIO.writeAtomically(pinPath, bytes: [UInt8](try encoder.encode(pin)) + [0x0A], mode: 0o600, replace: true,
                                           temp: pinPath + ".partial")
            } catch let e as FileIOError {
                throw ErrorMessage(id: id, code: e.isNoSpace ? .noSpace : .ioError, message: "cannot pin \(name): \(e.summary)", hint: e.hint)
            }
            log("pinned \(name): \(reason)\(pin.by.map { " (by \($0))" } ?? "")")
            return Done(id: id, detail: "pinned \(name): \(reason)")
        }
    }
}
