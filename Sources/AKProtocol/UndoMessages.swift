import Foundation

/// Messages about the databases akbackup leaves in the live cluster on infra-core: undo points of
/// past restores, restores that were rolled back or undone, leftovers of interrupted ones
/// (PROTOCOL.md §13). The agent keeps or drops them by a policy in its own config; the controller can
/// ask it to apply that policy now, but can never name a database to drop this way.
///
///   controller → agent: undo.prune → undo.prune.result | error
///   (the same report, as a dry run without the lock, travels in probe.result's `agent.undo`)

/// The agent's policy for its databases (agent config, PROTOCOL.md §13.1).
public struct UndoPolicy: Codable, Equatable, Sendable {
    /// The newest this many pre-restore databases are always kept (1 … 100): `restore --undo` needs the newest.
    public var keepNewest: Int
    /// Other pre-restore databases are dropped once older than this many days (0 … 3650; 0: at the next prune).
    public var maxAgeDays: Int
    /// Failed (rolled back) and undone databases are dropped once older than this many days (0 … 3650).
    public var failedMaxAgeDays: Int
    /// doctor and status warn when akbackup's databases hold more than this percent of the volume of
    /// PostgreSQL's data directory (0 … 100; 0: whenever there is one).
    public var warnPercent: Int

    public static let keepNewestRange = 1...100
    public static let maxAgeDaysRange = 0...3650
    public static let warnPercentRange = 0...100

    public init(keepNewest: Int, maxAgeDays: Int, failedMaxAgeDays: Int, warnPercent: Int) {
        self.keepNewest = keepNewest
        self.maxAgeDays = maxAgeDays
        self.failedMaxAgeDays = failedMaxAgeDays
        self.warnPercent = warnPercent
    }

    public func validate(_ checks: FieldChecks, _ prefix: String) throws {
        try checks.range(keepNewest, Self.keepNewestRange, prefix + "keepNewest")
        try checks.range(maxAgeDays, Self.maxAgeDaysRange, prefix + "maxAgeDays")
        try checks.range(failedMaxAgeDays, Self.maxAgeDaysRange, prefix + "failedMaxAgeDays")
        try checks.range(warnPercent, Self.warnPercentRange, prefix + "warnPercent")
    }

    /// One line for people: "keep the newest 1; other undo points after 7 days; failed and undone after 1 day".
    public var summary: String {
        func days(_ n: Int) -> String { n == 0 ? "at once" : (n == 1 ? "after 1 day" : "after \(n) days") }
        return "keep the newest \(keepNewest); other undo points \(days(maxAgeDays)); failed and undone \(days(failedMaxAgeDays))"
    }
}

/// What a database of akbackup's is, from its name's prefix (`AgentDatabases` on the agent).
public enum UndoKind: String, Codable, Sendable, CaseIterable {
    /// `authentik_pre_restore_<stamp>`: the live database before a swap restore; `restore --undo` puts the newest back.
    case preRestore = "pre-restore"
    /// `authentik_failed_<stamp>`: a restored database that never became healthy (rolled back).
    case failed
    /// `authentik_undone_<stamp>`: the database an undo replaced.
    case undone
    /// `authentik_restore_<stamp>`: the staging database of a restore (a leftover unless one is running).
    case staging
    /// `authentik_restoretest_<stamp>`: the scratch database of a restore test (likewise).
    case scratch
}

public enum UndoAction: String, Codable, Sendable {
    case keep, drop
}

/// One database and the policy's decision about it.
public struct UndoDatabase: Codable, Equatable, Sendable {
    public var name: String
    public var kind: UndoKind
    /// The UTC time in its name (RFC 3339); absent when the name's stamp is not a valid time.
    public var stamp: String?
    public var sizeBytes: Int64
    public var action: UndoAction
    /// Why, in words ("older than 7 days (undo_max_age_days)").
    public var reason: String
    /// After a prune that was not a dry run, for `drop` only: whether the drop succeeded.
    public var dropped: Bool?
    /// Why the drop failed (with `dropped: false`).
    public var error: String?

    public init(name: String, kind: UndoKind, stamp: String?, sizeBytes: Int64, action: UndoAction, reason: String,
                dropped: Bool? = nil, error: String? = nil) {
        self.name = name
        self.kind = kind
        self.stamp = stamp
        self.sizeBytes = sizeBytes
        self.action = action
        self.reason = reason
        self.dropped = dropped
        self.error = error
    }
}

/// The agent's databases, its policy's decisions and the room they take.
public struct UndoReport: Codable, Equatable, Sendable {
    /// The agent's clock when it decided (RFC 3339 UTC): ages are from it, not the controller's.
    public var checkedAt: String
    public var policy: UndoPolicy
    /// By name.
    public var databases: [UndoDatabase]
    /// Size and free space of the file system holding PostgreSQL's data directory; absent when unknown.
    public var volumeBytes: Int64?
    public var volumeFreeBytes: Int64?

    public init(checkedAt: String, policy: UndoPolicy, databases: [UndoDatabase], volumeBytes: Int64?, volumeFreeBytes: Int64?) {
        self.checkedAt = checkedAt
        self.policy = policy
        self.databases = databases
        self.volumeBytes = volumeBytes
        self.volumeFreeBytes = volumeFreeBytes
    }

    public func validate(_ checks: FieldChecks, _ prefix: String) throws {
        try policy.validate(checks, prefix + "policy.")
        for d in databases { try checks.size(d.sizeBytes, prefix + "databases.sizeBytes") }
        if let v = volumeBytes { try checks.size(v, prefix + "volumeBytes") }
        if let v = volumeFreeBytes { try checks.size(v, prefix + "volumeFreeBytes") }
    }

    /// What the databases still there hold (after a prune: without the ones dropped). Each size is at
    /// most 2^50 and there are at most 10,000, so the sum is kept in range by saturating.
    public var keptBytes: Int64 { sum(databases.filter { $0.dropped != true }) }
    public var droppedBytes: Int64 { sum(databases.filter { $0.dropped == true }) }

    private func sum(_ list: [UndoDatabase]) -> Int64 {
        list.reduce(Int64(0)) { total, d in
            let (s, overflow) = total.addingReportingOverflow(d.sizeBytes)
            return overflow ? .max : s
        }
    }

    /// The share of the data volume they hold, in percent; nil when the volume's size is unknown.
    public var percentOfVolume: Double? {
        guard let v = volumeBytes, v > 0 else { return nil }
        return Double(keptBytes) / Double(v) * 100
    }

    /// doctor's and status's warning when they hold more than the policy's share; nil when they do not
    /// (or when the volume's size is unknown: then nothing can be judged).
    public func warning(host: String) -> String? {
        guard let percent = percentOfVolume, percent > Double(policy.warnPercent), let volume = volumeBytes else { return nil }
        return String(format: "akbackup's databases on %@ hold %@, %.0f%% of the database volume (%@; warning above %d%%, undo_warn_percent)",
                      host, ByteFormat.human(keptBytes), percent, ByteFormat.human(volume), policy.warnPercent)
    }

    /// The hint that goes with `warning`.
    public static let warningHint = "`akbackup prune` drops what the agent's policy allows (--dry-run shows it first); "
        + "`akbackup drop-database NAME` drops one; or shorten undo_max_age_days / failed_max_age_days in /etc/akbackup/agent.toml"
}

/// Asks the agent to apply its own undo policy now (`akbackup prune`). It carries no names: the agent
/// decides what to drop from its config alone.
public struct UndoPruneRequest: RequestBound {
    public static let type = "undo.prune"
    public var id: UInt64
    /// Decide and report, drop nothing.
    public var dryRun: Bool
    public init(id: UInt64, dryRun: Bool) {
        self.id = id
        self.dryRun = dryRun
    }
}

/// What the agent decided and, unless it was a dry run, what it dropped.
public struct UndoPruneResult: RequestBound {
    public static let type = "undo.prune.result"
    public var id: UInt64
    public var dryRun: Bool
    public var report: UndoReport
    public init(id: UInt64, dryRun: Bool, report: UndoReport) {
        self.id = id
        self.dryRun = dryRun
        self.report = report
    }
    public func validate() throws { try report.validate(FieldChecks(Self.type), "report.") }
}
