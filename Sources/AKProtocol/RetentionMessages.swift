import Foundation

/// Messages of retention (PROTOCOL.md §14). The NAS owns its retention policy: the controller can
/// ask for a prune, but names nothing to delete — no request carries a name that gets removed.
///
///   controller → receiver: prune {dryRun, offset?, limit?} → prune.result (one page of decisions)
///   controller → receiver: pin {name, pinned, reason?, requestedBy?} → done

/// Asks the receiver to apply its own policy (`dryRun`: only say what it would do). The plan is
/// made by the request with `offset` 0 (or absent); a request with `offset` > 0 pages through that
/// same plan, made earlier in the session, and never removes anything itself.
public struct PruneRequest: RequestBound {
    public static let type = "prune"
    public var id: UInt64
    public var dryRun: Bool
    /// Decisions to skip (newest first); absent: 0.
    public var offset: Int?
    /// Most decisions to return (1 … 1000); absent: 1000.
    public var limit: Int?
    public init(id: UInt64, dryRun: Bool, offset: Int? = nil, limit: Int? = nil) {
        self.id = id
        self.dryRun = dryRun
        self.offset = offset
        self.limit = limit
    }
    public func validate() throws {
        try FieldChecks(Self.type).page(offset: offset, limit: limit)
    }
}

/// One backup in a prune plan.
public struct PruneDecision: Codable, Equatable, Sendable {
    public var name: String
    public var keep: Bool
    /// Every rule, floor and pin that keeps it ("daily 2026-11-30", "floor: newest verified"); empty when removed.
    public var reasons: [String]
    public var size: Int64
    public init(name: String, keep: Bool, reasons: [String], size: Int64) {
        self.name = name
        self.keep = keep
        self.reasons = reasons
        self.size = size
    }
}

/// How many backups one rule, floor or pin keeps.
public struct RetentionRuleCount: Codable, Equatable, Sendable {
    /// "last", "hourly", "daily", "weekly", "monthly", "yearly", "within", "newest verified",
    /// "newest verified unsigned", "restore test", "min_age", "min_keep", "future", "pinned", "no policy".
    public var rule: String
    public var kept: Int
    public init(rule: String, kept: Int) {
        self.rule = rule
        self.kept = kept
    }
}

/// The receiver's `[retention]` as it applies it.
public struct RetentionPolicyInfo: Codable, Equatable, Sendable {
    /// False when no keep_* is above 0 and there is no keep_within: nothing is ever removed.
    public var configured: Bool
    /// One line for people: "keep_daily 7, keep_weekly 4; min_age 1d, min_keep 3".
    public var text: String
    public var keepLast: Int
    public var keepHourly: Int
    public var keepDaily: Int
    public var keepWeekly: Int
    public var keepMonthly: Int
    public var keepYearly: Int
    /// A duration (`30d`, `1y2m`), absent when not set.
    public var keepWithin: String?
    public var minAge: String
    public var minKeep: Int
    public init(configured: Bool, text: String, keepLast: Int, keepHourly: Int, keepDaily: Int, keepWeekly: Int, keepMonthly: Int,
                keepYearly: Int, keepWithin: String?, minAge: String, minKeep: Int) {
        self.configured = configured
        self.text = text
        self.keepLast = keepLast
        self.keepHourly = keepHourly
        self.keepDaily = keepDaily
        self.keepWeekly = keepWeekly
        self.keepMonthly = keepMonthly
        self.keepYearly = keepYearly
        self.keepWithin = keepWithin
        self.minAge = minAge
        self.minKeep = minKeep
    }

    func validate(_ c: FieldChecks) throws {
        for (value, field) in [(keepLast, "keepLast"), (keepHourly, "keepHourly"), (keepDaily, "keepDaily"), (keepWeekly, "keepWeekly"),
                               (keepMonthly, "keepMonthly"), (keepYearly, "keepYearly"), (minKeep, "minKeep")] {
            try c.range(value, 0...RetentionLimits.maxCount, "policy.\(field)")
        }
    }
}

public enum RetentionLimits {
    /// The largest keep_* or min_keep a receiver accepts in its config and sends.
    public static let maxCount = 1_000_000
}

/// The answer to `prune`: the whole plan's counts, and one page of its decisions (newest first).
public struct PruneResult: RequestBound {
    public static let type = "prune.result"
    public var id: UInt64
    /// As asked: true when nothing was removed because only a plan was wanted.
    public var dryRun: Bool
    public var policy: RetentionPolicyInfo
    /// Backups in the plan; `kept` + `removed` = `total`.
    public var total: Int
    public var kept: Int
    /// Removed (dry run: would be removed).
    public var removed: Int
    public var bytesFreed: Int64
    public var bytesKept: Int64
    /// How many backups each rule keeps, in the policy's order; rules keeping none are left out.
    public var keptBy: [RetentionRuleCount]
    /// The index of `decisions[0]` in the plan.
    public var offset: Int
    public var decisions: [PruneDecision]
    /// Free bytes on the NAS after the prune.
    public var freeBytes: Int64?

    public init(id: UInt64, dryRun: Bool, policy: RetentionPolicyInfo, total: Int, kept: Int, removed: Int, bytesFreed: Int64,
                bytesKept: Int64, keptBy: [RetentionRuleCount], offset: Int, decisions: [PruneDecision], freeBytes: Int64?) {
        self.id = id
        self.dryRun = dryRun
        self.policy = policy
        self.total = total
        self.kept = kept
        self.removed = removed
        self.bytesFreed = bytesFreed
        self.bytesKept = bytesKept
        self.keptBy = keptBy
        self.offset = offset
        self.decisions = decisions
        self.freeBytes = freeBytes
    }

    public func validate() throws {
        let c = FieldChecks(Self.type)
        let counts = 0...Int(Int32.max)
        try c.range(total, counts, "total")
        try c.range(kept, counts, "kept")
        try c.range(removed, counts, "removed")
        guard kept + removed == total else { throw c.fail("total", "must be kept + removed") }
        try c.range(offset, counts, "offset")
        try c.size(bytesFreed, "bytesFreed")
        try c.size(bytesKept, "bytesKept")
        if let f = freeBytes { try c.size(f, "freeBytes") }
        for r in keptBy { try c.range(r.kept, counts, "keptBy.kept") }
        for d in decisions { try c.size(d.size, "decisions.size") }
        try policy.validate(c)
    }
}

/// Pins or unpins a backup: a pinned backup is kept whatever the policy says. Harmless (it can only
/// keep more), so the controller may ask for it.
public struct PinRequest: RequestBound {
    public static let type = "pin"
    public var id: UInt64
    public var name: String
    /// true: pin (again, replacing the reason); false: unpin.
    public var pinned: Bool
    /// Why; required to pin (1 … 200 bytes of UTF-8, no control characters).
    public var reason: String?
    /// Who asked, as the controller says (recorded in the pin; not authenticated).
    public var requestedBy: RequestedBy?
    public init(id: UInt64, name: String, pinned: Bool, reason: String?, requestedBy: RequestedBy?) {
        self.id = id
        self.name = name
        self.pinned = pinned
        self.reason = reason
        self.requestedBy = requestedBy
    }
    public func validate() throws {
        let c = FieldChecks(Self.type)
        if let r = reason, let problem = PinText.problem(r, maxBytes: PinText.maxReasonBytes) { throw c.fail("reason", problem) }
        if let by = requestedBy {
            if let problem = PinText.problem(by.user, maxBytes: PinText.maxNameBytes) { throw c.fail("requestedBy.user", problem) }
            if let problem = PinText.problem(by.host, maxBytes: PinText.maxNameBytes) { throw c.fail("requestedBy.host", problem) }
        }
    }
}

/// `NAME.pin` beside a pinned artifact (`<base>.pin`, §14.4), and the `pin` of its list entry.
public struct Pin: Codable, Equatable, Sendable {
    public var format = "akbackup-pin-1"
    public var name: String
    public var reason: String
    public var pinnedAt: String
    /// "user@host" of the request, when it said.
    public var by: String?
    public init(name: String, reason: String, pinnedAt: String, by: String?) {
        self.name = name
        self.reason = reason
        self.pinnedAt = pinnedAt
        self.by = by
    }

    /// The checks a pin file or a list entry's pin must pass (a NAS file is not trusted to be small).
    public func validate(_ type: String) throws {
        let c = FieldChecks(type)
        if let problem = PinText.problem(reason, maxBytes: PinText.maxReasonBytes) { throw c.fail("pin.reason", problem) }
        if let by, let problem = PinText.problem(by, maxBytes: 2 * PinText.maxNameBytes + 1) { throw c.fail("pin.by", problem) }
    }
}

/// The text a pin carries: bounded, one line, printable.
public enum PinText {
    public static let maxReasonBytes = 200
    public static let maxNameBytes = 256

    /// Nil when `text` is acceptable; otherwise why not.
    public static func problem(_ text: String, maxBytes: Int) -> String? {
        if text.trimmingCharacters(in: .whitespaces).isEmpty { return "must not be empty" }
        if text.utf8.count > maxBytes { return "must be at most \(maxBytes) bytes of UTF-8" }
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || (0x80...0x9F).contains($0.value) }) {
            return "must not contain control characters"
        }
        return nil
    }
}

extension Receipt {
    /// A restore or restore test that passed (outcome restored or tested): evidence that its artifact
    /// restores. `akbackup status` reports the newest such trusted receipt, and the receiver's
    /// retention keeps its artifact.
    public var provesRestore: Bool {
        (operation == "restore-test" && outcome == .tested) || (operation == "restore" && outcome == .restored)
    }
}
