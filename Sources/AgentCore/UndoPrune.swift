import AKBase
import AKProtocol
import Foundation
import ProtocolSession

/// The undo policy's decisions: which of akbackup's databases in the live cluster to keep and which
/// to drop. Pure (no I/O, `now` given), so every rule is a row of a table test
/// (Tests/AgentCoreTests/UndoPlannerTests.swift); `UndoPruning` lists, drops and reports around it.
///
/// Rules, in order (PROTOCOL.md §13.2):
/// 1. Only names in akbackup's family (`AgentDatabases.classify`) that are not the live database are
///    decided at all; every other database is not in the answer and is never touched.
/// 2. A name whose stamp is not a real UTC time is kept and reported: only a name akbackup writes is
///    proven to be akbackup's, and its age could not be told anyway.
/// 3. What the calling operation just made (`protected`) is kept: its receipt names it.
/// 4. A stamp in the future is kept: its age cannot be told (the clock was changed?).
/// 5. pre-restore: the newest `keepNewest` are kept (the newest is what `restore --undo` puts back),
///    the others are dropped once older than `maxAgeDays` days.
/// 6. failed and undone: dropped once older than `failedMaxAgeDays` days.
/// 7. staging and scratch: leftovers of an interrupted restore, dropped only when the caller holds the
///    operation lock (`exclusive`): otherwise a restore may be using them right now.
/// "Older than N days" is strictly more than N × 86,400 seconds since the stamp.
public enum UndoPlanner {
    public static func plan(_ databases: [DatabaseInfo], live: String, policy: UndoPolicy, now: Date,
                            exclusive: Bool, protected: Set<String> = []) -> [UndoDatabase] {
        struct Candidate {
            var info: DatabaseInfo
            var kind: UndoKind
            var date: Date?
        }
        var seen = Set<String>()
        let candidates: [Candidate] = databases.sorted { $0.name < $1.name }.compactMap { info in
            guard info.name != live, seen.insert(info.name).inserted, let (kind, stamp) = AgentDatabases.classify(info.name) else { return nil }
            return Candidate(info: info, kind: kind, date: AgentDatabases.date(ofStamp: stamp))
        }
        // The newest pre-restore databases by their stamps; a future stamp counts too (it is kept anyway).
        let newest = Set(candidates.filter { $0.kind == .preRestore && $0.date != nil }
            .sorted { ($0.date!, $0.info.name) > ($1.date!, $1.info.name) }
            .prefix(policy.keepNewest).map(\.info.name))
        let absoluteNewest = candidates.filter { $0.kind == .preRestore && $0.date != nil }.max { ($0.date!, $0.info.name) < ($1.date!, $1.info.name) }?.info.name

        return candidates.map { c in
            func decide(_ action: UndoAction, _ reason: String) -> UndoDatabase {
                UndoDatabase(name: c.info.name, kind: c.kind, stamp: c.date.map(Timestamp.string), sizeBytes: c.info.sizeBytes,
                             action: action, reason: reason)
            }
            guard let date = c.date else {
                return decide(.keep, "its name's stamp is not a UTC time akbackup writes: never dropped automatically; check it by hand")
            }
            if protected.contains(c.info.name) { return decide(.keep, "made by this operation (its receipt names it)") }
            let age = now.timeIntervalSince(date)
            if age < 0 { return decide(.keep, "its stamp is in the future (was the clock changed?): never dropped automatically") }
            switch c.kind {
            case .preRestore:
                if c.info.name == absoluteNewest { return decide(.keep, "the newest undo point: `akbackup restore --undo` puts it back") }
                if newest.contains(c.info.name) { return decide(.keep, "one of the \(policy.keepNewest) newest undo points (undo_keep_newest)") }
                return byAge(age, limit: policy.maxAgeDays, key: "undo_max_age_days", decide)
            case .failed, .undone:
                return byAge(age, limit: policy.failedMaxAgeDays, key: "failed_max_age_days", decide)
            case .staging, .scratch:
                return exclusive
                    ? decide(.drop, "a leftover of an interrupted restore (none is running now)")
                    : decide(.keep, "a restore running now uses it, or it is a leftover the next restore or prune drops")
            }
        }
    }

    private static func byAge(_ age: TimeInterval, limit days: Int, key: String,
                              _ decide: (UndoAction, String) -> UndoDatabase) -> UndoDatabase {
        let limit = "\(days) day\(days == 1 ? "" : "s") (\(key))"
        // The age itself is not in the reason: every report shows it beside the reason already.
        return age > TimeInterval(days) * 86400 ? decide(.drop, "older than \(limit)") : decide(.keep, "not older than \(limit) yet")
    }

    /// "40 minutes", "5 hours", "3.2 days".
    public static func describeAge(_ seconds: TimeInterval) -> String {
        if seconds < 3600 { return "\(Int(seconds / 60)) minute\(Int(seconds / 60) == 1 ? "" : "s")" }
        if seconds < 86400 { return "\(Int(seconds / 3600)) hour\(Int(seconds / 3600) == 1 ? "" : "s")" }
        return String(format: "%.1f days", seconds / 86400)
    }
}

/// The undo policy applied to the real cluster: list akbackup's databases with their sizes, plan,
/// drop (unless a dry run), measure the data volume. A drop that fails is reported in its
/// decision (and as a failed step), never thrown: the operation around it has already succeeded.
struct UndoPruning {
    let context: AgentContext
    let db: DatabaseServer

    /// Throws only when the databases cannot be listed (then nothing was dropped).
    func run(dryRun: Bool, exclusive: Bool, protected: Set<String> = [], steps: inout StepLog) throws -> UndoReport {
        let now = context.clock()
        let live = db.liveDatabase
        var decisions = UndoPlanner.plan(try db.undoCandidates(), live: live, policy: context.config.undoPolicy, now: now,
                                         exclusive: exclusive, protected: protected)
        if !dryRun {
            for i in decisions.indices where decisions[i].action == .drop {
                let d = decisions[i]
                // The planner only drops names akbackup writes; proven again here, next to the DROP, as
                // drop-database does: neither the live database nor any other may ever reach it.
                guard AgentDatabases.isOwn(d.name), d.name != live, d.name != context.config.database else {
                    decisions[i].dropped = false
                    decisions[i].error = "not a name akbackup makes: refused"
                    continue
                }
                let start = Date()
                do {
                    try db.dropDatabase(d.name)
                    decisions[i].dropped = true
                    steps.record("drop \(d.name)", ok: true, detail: d.reason, since: start)
                    context.log("undo policy: dropped \(d.name) (\(ByteFormat.human(d.sizeBytes))): \(d.reason)")
                    removeFileTrees(of: d.name, steps: &steps)
                } catch {
                    decisions[i].dropped = false
                    decisions[i].error = describe(error)
                    steps.record("drop \(d.name)", ok: false, detail: "\(describe(error)); it is kept (\(d.reason))", since: start)
                    context.log("warning: undo policy: could not drop \(d.name): \(describe(error))")
                }
            }
        }
        // Measured after the drops: the free space the operator has now.
        let volume = db.dataVolume()
        return UndoReport(checkedAt: Timestamp.string(now), policy: context.config.undoPolicy, databases: decisions,
                          volumeBytes: volume?.totalBytes, volumeFreeBytes: volume?.freeBytes)
    }

    /// Authentik's files put aside with a database (§15.3) go with it: `.NAME.akbackup-previous-S`
    /// with authentik_pre_restore_S, `failed-S` with authentik_failed_S, `undone-S` with authentik_undone_S.
    func removeFileTrees(of database: String, steps: inout StepLog) {
        let kinds = [("authentik_pre_restore_", "previous"), ("authentik_failed_", "failed"), ("authentik_undone_", "undone")]
        guard let (prefix, kind) = kinds.first(where: { database.hasPrefix($0.0) }) else { return }
        let stamp = String(database.dropFirst(prefix.count))
        guard stamp.count == 14, stamp.allSatisfy(\.isNumber), let mounts = try? context.files.mounts() else { return }
        for tree in FilesRestore.existingAside(kind: kind, stamp: stamp, hostMounts: mounts) {
            let start = Date()
            do {
                try context.files.removeTree(tree)
                steps.record("remove \(tree)", ok: true, detail: "Authentik's files kept with \(database)", since: start)
            } catch {
                steps.record("remove \(tree)", ok: false, detail: describe(error), since: start)
            }
        }
    }

    /// After an operation that succeeded (restore, restore test, undo): applies the policy under that
    /// operation's lock and records it in the receipt's steps. Never throws and never changes the
    /// operation's outcome: a database that could not be dropped is a failed step and a log line.
    func applyAfterSuccess(protected: Set<String>, steps: inout StepLog) {
        let start = Date()
        do {
            let report = try run(dryRun: false, exclusive: true, protected: protected, steps: &steps)
            let dropped = report.databases.filter { $0.dropped == true }
            let failed = report.databases.filter { $0.dropped == false }
            var detail = dropped.isEmpty ? "nothing to drop" : "dropped \(dropped.count) (\(ByteFormat.human(report.droppedBytes)))"
            if !failed.isEmpty { detail += "; could not drop \(failed.map(\.name).joined(separator: ", ")): the operation is unaffected, `akbackup prune` retries" }
            detail += "; \(report.databases.count - dropped.count) kept (\(ByteFormat.human(report.keptBytes)))"
            // Reported here too, not only by doctor: a name akbackup did not write needs a person.
            let unparsable = report.databases.filter { $0.stamp == nil }.map(\.name)
            if !unparsable.isEmpty { detail += "; never dropped, their stamps do not parse: \(unparsable.joined(separator: ", "))" }
            steps.record("apply the undo policy", ok: failed.isEmpty, detail: detail, since: start)
        } catch {
            steps.record("apply the undo policy", ok: false,
                         detail: "could not list akbackup's databases (\(describe(error))); nothing was dropped: the operation is unaffected",
                         since: start)
            context.log("warning: undo policy not applied: \(describe(error))")
        }
    }
}

/// `akbackup prune` on infra-core: the agent applies its own undo policy now (or, with `dryRun`, only
/// says what it would drop). The request names no database; nothing but the agent's config decides.
struct UndoPruneJob {
    let context: AgentContext
    let controller: String

    func run(_ request: UndoPruneRequest, session: ServerSession) throws {
        // The lock even for a dry run: a staging database counts as a leftover only while no restore
        // runs, so the dry run answers exactly what the real run would do.
        let lock = try OperationLock.acquire(stateDir: context.config.stateDir, host: context.hostName, operation: "undo.prune", controller: controller)
        defer { lock.release() }
        let db = try context.database()
        var steps = StepLog()
        let report: UndoReport
        do {
            report = try UndoPruning(context: context, db: db).run(dryRun: request.dryRun, exclusive: true, steps: &steps)
        } catch {
            throw ErrorMessage(id: request.id, code: .failed, message: "could not list akbackup's databases on \(context.hostName): \(describe(error))",
                               hint: "nothing was dropped; check the database server with `akbackup doctor`")
        }
        try session.send(UndoPruneResult(id: request.id, dryRun: request.dryRun, report: report))
    }
}

/// doctor's lines about akbackup's databases, from the policy's dry run: one per database (its size,
/// age and fate), and a summary that warns when they hold more than the policy's share of the volume.
enum UndoChecks {
    static func checks(_ report: UndoReport, host: String, now: Date) -> [Check] {
        guard !report.databases.isEmpty else { return [] }
        var checks: [Check] = []
        let share = report.percentOfVolume.map { String(format: ", %.0f%% of the database volume", $0) } ?? ""
        let warning = report.warning(host: host)
        checks.append(Check(name: "akbackup databases", ok: true,
                            detail: warning ?? "\(report.databases.count), \(ByteFormat.human(report.keptBytes))\(share) (policy: \(report.policy.summary))",
                            hint: warning == nil ? "`akbackup drop-database NAME` drops one now" : UndoReport.warningHint,
                            warning: warning == nil ? nil : true))
        for d in report.databases {
            let age = d.stamp.flatMap(Timestamp.date).map { ", \(UndoPlanner.describeAge(max(0, now.timeIntervalSince($0)))) old" } ?? ""
            let fate = d.action == .keep ? "kept: \(d.reason)" : "the next prune drops it: \(d.reason)"
            checks.append(Check(name: d.kind.rawValue, ok: true, detail: "\(d.name) (\(ByteFormat.human(d.sizeBytes))\(age)): \(fate)"))
        }
        return checks
    }
}
