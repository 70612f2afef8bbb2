import Foundation

/// What can keep a backup: a rule of the policy, a floor no policy goes below, or a pin. The
/// order is the order a decision lists its reasons in.
public enum RetentionRule: String, CaseIterable, Sendable {
    case noPolicy = "no policy"
    case last, hourly, daily, weekly, monthly, yearly, within
    case newestVerified = "newest verified"
    case newestVerifiedUnsigned = "newest verified unsigned"
    case restoreTest = "restore test"
    case minAge = "min_age"
    case minKeep = "min_keep"
    case future
    case pinned

    /// Floors and pins hold whatever the keep_* rules say.
    public var isFloor: Bool {
        switch self {
        case .newestVerified, .newestVerifiedUnsigned, .restoreTest, .minAge, .minKeep, .future, .pinned: return true
        default: return false
        }
    }
}

/// One reason a backup is kept: its rule and the words shown for it ("daily 2026-11-30",
/// "weekly 2026-W48", "floor: newest verified", "pinned: before the 2026.2 upgrade").
public struct RetentionReason: Equatable, Sendable, CustomStringConvertible {
    public var rule: RetentionRule
    public var text: String
    public init(_ rule: RetentionRule, _ text: String) {
        self.rule = rule
        self.text = text
    }
    public var description: String { text }
}

/// What the engine knows of one backup. The receiver gathers it (names, sizes, manifests,
/// receipts, pins, verify); the engine only decides.
public struct RetentionBackup: Equatable, Sendable {
    public var name: String
    /// The UTC instant in the artifact's name.
    public var date: Date
    public var size: Int64
    /// Its manifest is signed by a key the NAS trusts (false: made by hand, or another key).
    public var trusted: Bool
    /// verify's verdict; nil when it was not checked.
    public var verified: Bool?
    /// The pin's reason, when it is pinned.
    public var pin: String?
    /// The newest passing restore test (a trusted receipt) used this backup.
    public var restoreTested: Bool

    public init(name: String, date: Date, size: Int64 = 0, trusted: Bool = true, verified: Bool? = nil, pin: String? = nil,
                restoreTested: Bool = false) {
        self.name = name
        self.date = date
        self.size = size
        self.trusted = trusted
        self.verified = verified
        self.pin = pin
        self.restoreTested = restoreTested
    }
}

public struct RetentionDecision: Equatable, Sendable {
    public var backup: RetentionBackup
    /// Every rule, floor and pin that keeps it; empty: it is removed.
    public var reasons: [RetentionReason]
    public var keep: Bool { !reasons.isEmpty }
}

/// A plan: one decision per backup, newest first.
public struct RetentionPlan: Equatable, Sendable {
    public var decisions: [RetentionDecision]

    public var removals: [RetentionDecision] { decisions.filter { !$0.keep } }
    public var keptCount: Int { decisions.count { $0.keep } }
    public var bytesFreed: Int64 { decisions.reduce(0) { $0 + ($1.keep ? 0 : $1.backup.size) } }
    public var bytesKept: Int64 { decisions.reduce(0) { $0 + ($1.keep ? $1.backup.size : 0) } }

    /// How many backups each rule keeps (a backup kept by two rules counts for both), in rule order,
    /// rules that keep nothing left out.
    public var keptBy: [(rule: RetentionRule, kept: Int)] {
        var counts: [RetentionRule: Int] = [:]
        for d in decisions {
            for rule in Set(d.reasons.map(\.rule)) { counts[rule, default: 0] += 1 }
        }
        return RetentionRule.allCases.compactMap { rule in counts[rule].map { (rule, $0) } }
    }
}

/// The NAS's retention policy, with restic `forget`'s semantics, and the floors no policy can go
/// below. Pure: `plan` reads nothing and changes nothing.
///
/// * A backup is kept if any rule, floor or pin keeps it.
/// * keep_last N: the N newest. keep_hourly/daily/weekly/monthly/yearly N: for the N newest calendar
///   periods (UTC hour, day, ISO week Monday to Sunday with its ISO week-year, month, year) that
///   **have** backups, the newest backup in each; when a rule still has count left at the oldest
///   backup, that one is kept too ("oldest daily …"), as restic does.
/// * keep_within D: every backup newer than (the newest backup − D), counted from the newest
///   backup, not from now.
/// * Backups dated after `now` take no part in the rules (they cannot push real backups out of
///   keep_last or move keep_within's reference) and are kept.
/// * Floors, whatever the rules say: the newest backup that verifies with a trusted signature;
///   a newer one that verifies without one (a dump made by hand); the backup of the newest passing
///   restore test; every backup younger than min_age (from `now`); the min_keep newest; pins.
/// * No keep_* above 0 and no keep_within: nothing is removed.
public struct RetentionPolicy: Equatable, Sendable, CustomStringConvertible {
    public var keepLast = 0
    public var keepHourly = 0
    public var keepDaily = 0
    public var keepWeekly = 0
    public var keepMonthly = 0
    public var keepYearly = 0
    public var keepWithin: RetentionDuration?
    public var minAge = RetentionDuration(days: 1)
    public var minKeep = 3

    public init(keepLast: Int = 0, keepHourly: Int = 0, keepDaily: Int = 0, keepWeekly: Int = 0, keepMonthly: Int = 0,
                keepYearly: Int = 0, keepWithin: RetentionDuration? = nil, minAge: RetentionDuration = RetentionDuration(days: 1),
                minKeep: Int = 3) {
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

    /// A policy removes something only when one of these is set: keep_* = 0 is the same as absent.
    public var isConfigured: Bool {
        keepLast > 0 || keepHourly > 0 || keepDaily > 0 || keepWeekly > 0 || keepMonthly > 0 || keepYearly > 0 || keepWithin != nil
    }

    /// The counted rules, in restic's order.
    var counted: [(RetentionRule, Int)] {
        [(.last, keepLast), (.hourly, keepHourly), (.daily, keepDaily), (.weekly, keepWeekly), (.monthly, keepMonthly), (.yearly, keepYearly)]
    }

    /// "keep_daily 7, keep_weekly 4, keep_within 30d; min_age 1d, min_keep 3", or what no policy means.
    public var description: String {
        var rules = counted.filter { $0.1 > 0 }.map { "keep_\($0.0.rawValue) \($0.1)" }
        if let w = keepWithin { rules.append("keep_within \(w)") }
        guard !rules.isEmpty else { return "none: nothing is ever deleted" }
        return rules.joined(separator: ", ") + "; min_age \(minAge), min_keep \(minKeep)"
    }

    /// One decision per backup, newest first (by the name's instant, then the name).
    public func plan(backups: [RetentionBackup], now: Date) -> RetentionPlan {
        let sorted = backups.sorted { ($0.date, $0.name) > ($1.date, $1.name) }
        var reasons = [[RetentionReason]](repeating: [], count: sorted.count)
        let seconds = sorted.map { Int($0.date.timeIntervalSince1970.rounded(.down)) }
        let eligible = sorted.indices.filter { sorted[$0].date <= now }

        if isConfigured {
            if let within = keepWithin, let newest = eligible.first {
                let cutoff = within.before(sorted[newest].date)
                for i in eligible where sorted[i].date > cutoff { reasons[i].append(.init(.within, "within \(within)")) }
            }
            for (rule, count) in counted where count > 0 {
                var left = count
                var lastKey: Int?
                for (position, i) in eligible.enumerated() {
                    guard left > 0 else { break }
                    let key = Self.bucket(rule, seconds[i], position: position)
                    let oldest = position == eligible.count - 1
                    guard key != lastKey || oldest else { continue }
                    let label = rule == .last ? "last \(keepLast)" : Self.label(rule, seconds[i])
                    reasons[i].append(.init(rule, key == lastKey ? "oldest \(label)" : label))
                    lastKey = key
                    left -= 1
                }
            }
        } else {
            for i in sorted.indices { reasons[i].append(.init(.noPolicy, "no policy: nothing is deleted")) }
        }

        // Floors.
        let verified = sorted.indices.first { sorted[$0].trusted && sorted[$0].verified == true }
        if let v = verified { reasons[v].append(.init(.newestVerified, "floor: newest verified")) }
        if let u = sorted.indices.prefix(verified ?? sorted.count).first(where: { !sorted[$0].trusted && sorted[$0].verified == true }) {
            reasons[u].append(.init(.newestVerifiedUnsigned, "floor: newest verified (unsigned)"))
        }
        for i in sorted.indices where sorted[i].restoreTested { reasons[i].append(.init(.restoreTest, "floor: newest restore test")) }
        if !minAge.isZero {
            let cutoff = minAge.before(now)
            for i in sorted.indices where sorted[i].date > cutoff { reasons[i].append(.init(.minAge, "floor: min_age \(minAge)")) }
        }
        for i in eligible.prefix(minKeep) { reasons[i].append(.init(.minKeep, "floor: min_keep \(minKeep)")) }
        for i in sorted.indices where sorted[i].date > now { reasons[i].append(.init(.future, "floor: dated in the future")) }
        for i in sorted.indices { if let pin = sorted[i].pin { reasons[i].append(.init(.pinned, "pinned: \(pin)")) } }

        return RetentionPlan(decisions: sorted.indices.map { RetentionDecision(backup: sorted[$0], reasons: reasons[$0]) })
    }

    /// The period a backup falls in, as one number per rule (for keep_last, its position: each is its own).
    static func bucket(_ rule: RetentionRule, _ seconds: Int, position: Int) -> Int {
        let (day, _) = UTCCalendar.split(seconds)
        switch rule {
        case .hourly: return UTCCalendar.floorDiv(seconds, 3600)
        case .daily: return day
        case .weekly:
            let w = UTCCalendar.isoWeek(days: day)
            return w.year * 100 + w.week
        case .monthly:
            let c = UTCCalendar.civil(days: day)
            return c.year * 12 + c.month
        case .yearly: return UTCCalendar.civil(days: day).year
        default: return position
        }
    }

    /// "hourly 2026-11-30T14", "daily 2026-11-30", "weekly 2026-W48", "monthly 2026-11", "yearly 2026".
    static func label(_ rule: RetentionRule, _ seconds: Int) -> String {
        let (day, second) = UTCCalendar.split(seconds)
        let c = UTCCalendar.civil(days: day)
        let date = "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))"
        switch rule {
        case .hourly: return "hourly \(date)T\(pad(second / 3600, 2))"
        case .daily: return "daily \(date)"
        case .weekly:
            let w = UTCCalendar.isoWeek(days: day)
            return "weekly \(pad(w.year, 4))-W\(pad(w.week, 2))"
        case .monthly: return "monthly \(pad(c.year, 4))-\(pad(c.month, 2))"
        default: return "yearly \(pad(c.year, 4))"
        }
    }

    static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
