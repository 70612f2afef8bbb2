import AKBase
import AKProtocol
import Foundation
import ProtocolSession

/// A whole prune plan, as the NAS decided it with its own policy (all pages of `prune.result`).
public struct PruneReport: Encodable, Sendable {
    public var dryRun: Bool
    public var policy: RetentionPolicyInfo
    public var total: Int
    public var kept: Int
    public var removed: Int
    public var bytesFreed: Int64
    public var bytesKept: Int64
    public var keptBy: [RetentionRuleCount]
    /// Newest first.
    public var decisions: [PruneDecision]
    public var freeBytes: Int64?

    public var removals: [PruneDecision] { decisions.filter { !$0.keep } }
}

/// What the prune after a backup did, for its output and its end event.
public struct PruneSummary: Encodable, Equatable, Sendable {
    public var removed: Int
    public var kept: Int
    public var bytesFreed: Int64
    public var freeBytes: Int64?
    public var policy: String
    public var configured: Bool

    public init(_ r: PruneReport) {
        (removed, kept, bytesFreed, freeBytes, policy, configured) = (r.removed, r.kept, r.bytesFreed, r.freeBytes, r.policy.text, r.policy.configured)
    }
}

/// `akbackup prune`, `pin`, `unpin`, and the prune after a backup. The controller only asks: the
/// NAS applies the policy in its own config and no request names anything to delete.
public enum Pruner {
    /// Asks for a prune (or a dry run) and gathers every page of its plan. Pages after the first come
    /// from the plan the first request made (§14.3): they never remove anything.
    public static func run(session: ClientSession, dryRun: Bool) throws -> PruneReport {
        let first = try session.call(PruneRequest(id: session.makeID(), dryRun: dryRun), expecting: PruneResult.self)
        var decisions = first.decisions
        while decisions.count < first.total {
            let page = try session.call(PruneRequest(id: session.makeID(), dryRun: dryRun, offset: decisions.count), expecting: PruneResult.self)
            if page.decisions.isEmpty { break }
            decisions += page.decisions
        }
        return PruneReport(dryRun: dryRun, policy: first.policy, total: first.total, kept: first.kept, removed: first.removed,
                           bytesFreed: first.bytesFreed, bytesKept: first.bytesKept, keptBy: first.keptBy, decisions: decisions,
                           freeBytes: first.freeBytes)
    }

    public static func run(sessions: HostSessions, dryRun: Bool) throws -> PruneReport {
        try run(session: sessions.receiver(), dryRun: dryRun)
    }

    /// Pins (with a reason) or unpins a backup on the NAS.
    public static func pin(sessions: HostSessions, name: String, reason: String?, pinned: Bool) throws -> Done {
        let session = try sessions.receiver()
        return try session.call(PinRequest(id: session.makeID(), name: name, pinned: pinned, reason: reason,
                                           requestedBy: RequestedBy(user: NSUserName(), host: ProcessInfo.processInfo.hostName)),
                                expecting: Done.self)
    }

    /// The reason a pin carries when none is given.
    public static func defaultReason() -> String { "pinned by \(NSUserName()) on \(Timestamp.now())" }

    /// The table (name, keep/remove, reasons) and the summary.
    public static func render(_ r: PruneReport) -> String {
        var out = ""
        if r.decisions.isEmpty {
            out += "no backups on the NAS\n"
        } else {
            let width = max(4, r.decisions.map(\.name.count).max() ?? 0)
            let keep = r.dryRun ? "keep" : "kept"
            let remove = r.dryRun ? "remove" : "removed"
            out += "NAME".padding(toLength: width, withPad: " ", startingAt: 0) + "  " + "ACTION".padding(toLength: 7, withPad: " ", startingAt: 0) + "  REASONS\n"
            for d in r.decisions {
                out += d.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                    + (d.keep ? keep : remove).padding(toLength: 7, withPad: " ", startingAt: 0) + "  "
                    + (d.reasons.isEmpty ? "-" : d.reasons.joined(separator: ", ")) + "\n"
            }
        }
        out += "policy: \(r.policy.text)\n"
        if !r.keptBy.isEmpty { out += "kept by: " + keptBy(r.keptBy) + "\n" }
        out += summaryLine(r) + "\n"
        return out
    }

    static func keptBy(_ counts: [RetentionRuleCount]) -> String { counts.map { "\($0.rule) \($0.kept)" }.joined(separator: ", ") }

    /// "would remove 3 of 17 backups (120.0 MiB), keep 14 (1.2 GiB)" or, after a real prune, "removed …".
    public static func summaryLine(_ r: PruneReport) -> String {
        var line = r.dryRun
            ? "dry run: would remove \(r.removed) of \(r.total) backup(s) (\(ByteFormat.human(r.bytesFreed))), keep \(r.kept) (\(ByteFormat.human(r.bytesKept)))"
            : "pruned \(r.removed) of \(r.total) backup(s) (\(ByteFormat.human(r.bytesFreed)) freed), kept \(r.kept) (\(ByteFormat.human(r.bytesKept)))"
        if let free = r.freeBytes { line += "; \(ByteFormat.human(free)) free on the NAS" }
        if !r.policy.configured { line += "; the NAS has no retention policy, so nothing is ever deleted" }
        return line
    }

    /// One line for the output of `akbackup backup`.
    public static func summaryLine(_ s: PruneSummary) -> String {
        var line = "pruned \(s.removed) backup(s) (\(ByteFormat.human(s.bytesFreed)) freed), kept \(s.kept)"
        if let free = s.freeBytes { line += "; \(ByteFormat.human(free)) free on the NAS" }
        line += s.configured ? " (policy: \(s.policy))" : "; the NAS has no retention policy, so nothing is ever deleted"
        return line
    }
}
