import AKProtocol
import Foundation
@testable import Retention
import XCTest

/// The instant of "2026-11-30T14:00:00Z".
func at(_ text: String) -> Date {
    guard let d = Timestamp.date(text) else { fatalError("bad test date \(text)") }
    return d
}

/// A backup named for `text`'s instant, signed and not checked, 1 MiB.
func backup(_ text: String, size: Int64 = 1 << 20, trusted: Bool = true, verified: Bool? = nil, pin: String? = nil,
            restoreTested: Bool = false) -> RetentionBackup {
    let date = at(text)
    return RetentionBackup(name: ArtifactName.make(at: date), date: date, size: size, trusted: trusted, verified: verified, pin: pin,
                           restoreTested: restoreTested)
}

/// Only the rules: no floor keeps anything.
func rulesOnly(_ configure: (inout RetentionPolicy) -> Void) -> RetentionPolicy {
    var p = RetentionPolicy(minAge: RetentionDuration(), minKeep: 0)
    configure(&p)
    return p
}

extension RetentionPlan {
    /// The kept backups' instants, newest first, as "YYYY-MM-DD HH" (enough to read the tables).
    var kept: [String] { decisions.filter(\.keep).map { Self.short($0.backup.date) } }
    var removed: [String] { decisions.filter { !$0.keep }.map { Self.short($0.backup.date) } }
    func reasons(_ text: String) -> [String] {
        let date = at(text)
        return decisions.first { $0.backup.date == date }?.reasons.map(\.text) ?? ["(no such backup)"]
    }
    static func short(_ d: Date) -> String { String(Timestamp.string(d).prefix(13)).replacingOccurrences(of: "T", with: " ") }
}

final class RetentionDurationTests: XCTestCase {
    func testTheGrammarAndItsCanonicalText() throws {
        let cases: [(String, RetentionDuration, String)] = [
            ("30d", .init(days: 30), "30d"), ("12h", .init(hours: 12), "12h"), ("2w", .init(weeks: 2), "2w"),
            ("1y2m", .init(years: 1, months: 2), "1y2m"), ("1y6m2w3d12h", .init(years: 1, months: 6, weeks: 2, days: 3, hours: 12), "1y6m2w3d12h"),
            ("0d", .init(), "0h"), ("007d", .init(days: 7), "7d"), ("99999h", .init(hours: 99_999), "99999h"),
        ]
        for (text, expected, canonical) in cases {
            let d = try RetentionDuration(parsing: text)
            XCTAssertEqual(d, expected, text)
            XCTAssertEqual(d.description, canonical, text)
            XCTAssertEqual(try RetentionDuration(parsing: d.description), d, "the canonical text reads back: \(text)")
        }
    }

    func testWhatTheGrammarRefusesAndWhy() {
        let cases: [(String, String)] = [
            ("", "empty"), ("30", "has no unit"), ("d", "expected a number"), ("1d1d", "twice"), ("1h1d", "order"),
            ("1x", "not a unit"), ("-1d", "expected a number"), ("1.5d", "not a unit"), ("123456d", "too large"),
            (" 1d", "expected a number"), ("1D", "not a unit"), ("1d ", "expected a number"), ("1m1y", "order"), ("1min", "expected a number"),
        ]
        for (text, why) in cases {
            XCTAssertThrowsError(try RetentionDuration(parsing: text), text) { error in
                XCTAssertTrue((error as? RetentionDuration.ParseError)?.reason.contains(why) == true, "\(text): \(error)")
            }
        }
    }

    func testBeforeWorksOnTheUTCCalendar() {
        let cases: [(String, RetentionDuration, String)] = [
            ("2026-03-31T10:00:00Z", .init(months: 1), "2026-02-28T10:00:00Z"),     // clamped to February's last day
            ("2028-03-31T10:00:00Z", .init(months: 1), "2028-02-29T10:00:00Z"),     // a leap year
            ("2028-02-29T10:00:00Z", .init(years: 1), "2027-02-28T10:00:00Z"),
            ("2027-01-15T00:30:00Z", .init(years: 1, months: 1), "2025-12-15T00:30:00Z"),
            ("2027-01-01T01:00:00Z", .init(hours: 2), "2026-12-31T23:00:00Z"),
            ("2027-01-08T00:00:00Z", .init(weeks: 1, days: 8), "2026-12-24T00:00:00Z"),
            ("2026-11-30T14:00:00Z", .init(), "2026-11-30T14:00:00Z"),
        ]
        for (from, span, expected) in cases {
            XCTAssertEqual(Timestamp.string(span.before(at(from))), expected, "\(from) − \(span)")
        }
        let fraction = at("2026-11-30T14:00:00Z").addingTimeInterval(0.25)
        XCTAssertEqual(RetentionDuration(days: 1).before(fraction).timeIntervalSince1970, fraction.timeIntervalSince1970 - 86_400)
    }

    func testCalendarArithmeticAgreesWithFoundationForEveryDayOfFourCenturies() {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        // Every 13th day from 1900 to 2300 (leap rules of 1900, 2000 and 2100 included).
        for day in stride(from: UTCCalendar.days(year: 1900, month: 1, day: 1), through: UTCCalendar.days(year: 2300, month: 1, day: 1), by: 13) {
            let date = Date(timeIntervalSince1970: Double(day) * 86_400)
            let c = calendar.dateComponents([.year, .month, .day, .yearForWeekOfYear, .weekOfYear], from: date)
            let civil = UTCCalendar.civil(days: day)
            XCTAssertEqual([civil.year, civil.month, civil.day], [c.year!, c.month!, c.day!])
            XCTAssertEqual(UTCCalendar.days(year: civil.year, month: civil.month, day: civil.day), day)
            let w = UTCCalendar.isoWeek(days: day)
            XCTAssertEqual([w.year, w.week], [c.yearForWeekOfYear!, c.weekOfYear!], "\(civil)")
        }
    }
}

final class RetentionPolicyTests: XCTestCase {
    // MARK: restic's documented examples (doc/060_forget.rst)

    /// "Suppose you have only made one backup every Sunday for 12 weeks … forget --keep-daily 4 will
    /// keep the last four snapshots, for the last four Sundays, and remove the other snapshots."
    func testResticTwelveSundaysKeepDailyFour() {
        let sundays = ["2019-09-01", "2019-09-08", "2019-09-15", "2019-09-22", "2019-09-29", "2019-10-06", "2019-10-13",
                       "2019-10-20", "2019-10-27", "2019-11-03", "2019-11-10", "2019-11-17"].map { backup("\($0)T11:00:00Z") }
        let plan = rulesOnly { $0.keepDaily = 4 }.plan(backups: sundays, now: at("2019-11-20T00:00:00Z"))
        XCTAssertEqual(plan.kept, ["2019-11-17 11", "2019-11-10 11", "2019-11-03 11", "2019-10-27 11"])
        XCTAssertEqual(plan.removed.count, 8)
        XCTAssertEqual(plan.reasons("2019-10-27T11:00:00Z"), ["daily 2019-10-27"])
        XCTAssertEqual(plan.reasons("2019-09-01T11:00:00Z"), [], "no count left, so the oldest is not kept additionally")
    }

    /// "Suppose you make one backup every day for 100 years. Then forget --keep-daily 7 --keep-weekly 5
    /// --keep-monthly 12 --keep-yearly 75 would keep the most recent 7 daily snapshots and 4
    /// last-day-of-the-week ones (since the 7 dailies already include 1 weekly). Additionally, 12 or 11
    /// last-day-of-the-month snapshots … And finally 75 or 74 last-day-of-the-year snapshots."
    func testResticHundredYearsOfDailyBackups() {
        let first = UTCCalendar.days(year: 1926, month: 1, day: 1), last = UTCCalendar.days(year: 2025, month: 12, day: 28)  // a Sunday
        let backups = (first...last).map { day -> RetentionBackup in
            // Names only need to be unique here (and making 36,500 real ones is slow in a debug build).
            RetentionBackup(name: "day-\(day)", date: Date(timeIntervalSince1970: Double(day * 86_400 + 7200)))
        }
        let policy = rulesOnly { $0.keepDaily = 7; $0.keepWeekly = 5; $0.keepMonthly = 12; $0.keepYearly = 75 }
        let plan = policy.plan(backups: backups, now: at("2026-01-01T00:00:00Z"))
        let by = Dictionary(uniqueKeysWithValues: plan.keptBy.map { ($0.rule, $0.kept) })
        XCTAssertEqual(by[.daily], 7)
        XCTAssertEqual(by[.weekly], 5)
        XCTAssertEqual(by[.monthly], 12)
        XCTAssertEqual(by[.yearly], 75)
        func kept(by rule: RetentionRule, notBy earlier: [RetentionRule]) -> Int {
            plan.decisions.filter { d in d.reasons.contains { $0.rule == rule } && !d.reasons.contains { earlier.contains($0.rule) } }.count
        }
        let weekly = kept(by: .weekly, notBy: [.daily]), monthly = kept(by: .monthly, notBy: [.daily, .weekly])
        let yearly = kept(by: .yearly, notBy: [.daily, .weekly, .monthly])
        XCTAssertEqual(weekly, 4, "the newest backup is a Sunday: the 7 dailies hold one weekly")
        XCTAssertEqual(monthly, 10, "December's is a daily and November's last day (a Sunday) a weekly")
        XCTAssertEqual(yearly, 74, "2025's is a daily")
        XCTAssertEqual(plan.keptCount, 7 + weekly + monthly + yearly)
        XCTAssertEqual(plan.reasons("2025-11-30T02:00:00Z"), ["weekly 2025-W48", "monthly 2025-11"])
        XCTAssertEqual(plan.reasons("2025-11-29T02:00:00Z"), [])
        XCTAssertEqual(plan.reasons("2025-12-28T02:00:00Z"), ["daily 2025-12-28", "weekly 2025-W52", "monthly 2025-12", "yearly 2025"])
        XCTAssertEqual(plan.reasons("1951-12-31T02:00:00Z"), ["yearly 1951"], "the 75th year back")
        XCTAssertEqual(plan.reasons("1950-12-31T02:00:00Z"), [])
    }

    // MARK: calendar boundaries

    func testISOWeeksSpanTheTurnOfTheYear() {
        // 2026-12-31 is a Thursday: Monday 2026-12-28 to Sunday 2027-01-03 are 2026-W53.
        let backups = ["2026-12-28T10:00:00Z", "2026-12-31T23:00:00Z", "2027-01-01T00:30:00Z", "2027-01-03T20:00:00Z",
                       "2027-01-04T01:00:00Z"].map { backup($0) }
        let now = at("2027-01-10T00:00:00Z")
        let weekly = rulesOnly { $0.keepWeekly = 2 }.plan(backups: backups, now: now)
        XCTAssertEqual(weekly.kept, ["2027-01-04 01", "2027-01-03 20"])
        XCTAssertEqual(weekly.reasons("2027-01-04T01:00:00Z"), ["weekly 2027-W01"])
        XCTAssertEqual(weekly.reasons("2027-01-03T20:00:00Z"), ["weekly 2026-W53"])
        let yearly = rulesOnly { $0.keepYearly = 2 }.plan(backups: backups, now: now)
        XCTAssertEqual(yearly.kept, ["2027-01-04 01", "2026-12-31 23"], "years are calendar years, not ISO week-years")
        let monthly = rulesOnly { $0.keepMonthly = 5 }.plan(backups: backups, now: now)
        XCTAssertEqual(monthly.kept, ["2027-01-04 01", "2026-12-31 23", "2026-12-28 10"], "the oldest is kept additionally: count left")
        XCTAssertEqual(monthly.reasons("2026-12-28T10:00:00Z"), ["oldest monthly 2026-12"])
    }

    func testMonthDayAndHourBoundariesAreUTC() {
        let backups = ["2026-01-31T22:59:59Z", "2026-01-31T23:00:00Z", "2026-02-01T00:00:00Z", "2026-02-01T00:59:59Z"].map { backup($0) }
        let now = at("2026-03-01T00:00:00Z")
        XCTAssertEqual(rulesOnly { $0.keepMonthly = 2 }.plan(backups: backups, now: now).kept, ["2026-02-01 00", "2026-01-31 23"])
        XCTAssertEqual(rulesOnly { $0.keepDaily = 1 }.plan(backups: backups, now: now).kept, ["2026-02-01 00"])
        let hourly = rulesOnly { $0.keepHourly = 3 }.plan(backups: backups, now: now)
        XCTAssertEqual(hourly.kept, ["2026-02-01 00", "2026-01-31 23", "2026-01-31 22"])
        XCTAssertEqual(hourly.reasons("2026-02-01T00:59:59Z"), ["hourly 2026-02-01T00"])
        XCTAssertEqual(hourly.reasons("2026-02-01T00:00:00Z"), [], "same hour as a newer one")
    }

    func testLeapDay() {
        let backups = ["2028-02-28T02:00:00Z", "2028-02-29T02:00:00Z", "2028-03-01T02:00:00Z", "2029-02-28T02:00:00Z", "2029-03-01T02:00:00Z"]
            .map { backup($0) }
        let now = at("2029-03-02T00:00:00Z")
        let plan = rulesOnly { $0.keepMonthly = 4 }.plan(backups: backups, now: now)
        XCTAssertEqual(plan.kept, ["2029-03-01 02", "2029-02-28 02", "2028-03-01 02", "2028-02-29 02"])
        XCTAssertEqual(plan.reasons("2028-02-29T02:00:00Z"), ["monthly 2028-02"])
        // 2029-03-01 − 1y = 2028-03-01: the leap day is outside, 03-01 exactly on the edge is too.
        let within = rulesOnly { $0.keepWithin = RetentionDuration(years: 1) }.plan(backups: backups, now: now)
        XCTAssertEqual(within.kept, ["2029-03-01 02", "2029-02-28 02"])
        let daily = rulesOnly { $0.keepDaily = 4 }.plan(backups: backups, now: now)
        XCTAssertEqual(daily.reasons("2028-02-29T02:00:00Z"), ["daily 2028-02-29"])
    }

    func testOnlyPeriodsWithBackupsCountAcrossAGapOfSeveralWeeks() {
        // Ten daily backups, five weeks of nothing, ten more.
        let old = (1...10).map { backup(String(format: "2026-09-%02dT02:00:00Z", $0)) }
        let new = (20...29).map { backup(String(format: "2026-10-%02dT02:00:00Z", $0)) }
        let now = at("2026-10-30T00:00:00Z")
        let daily = rulesOnly { $0.keepDaily = 14 }.plan(backups: old + new, now: now)
        XCTAssertEqual(daily.keptCount, 14)
        XCTAssertEqual(daily.kept.last, "2026-09-07 02", "the gap's empty days do not count")
        let weekly = rulesOnly { $0.keepWeekly = 4 }.plan(backups: old + new, now: now)
        // 10-29 (W44), 10-25 (Sun, W43), 09-10 (W37), 09-06 (Sun, W36).
        XCTAssertEqual(weekly.kept, ["2026-10-29 02", "2026-10-25 02", "2026-09-10 02", "2026-09-06 02"])
    }

    func testKeepWithinCountsBackFromTheNewestBackupNotFromNow() {
        let backups = (0..<60).map { i in
            let date = at("2026-01-31T02:00:00Z").addingTimeInterval(Double(-i) * 86_400)
            return RetentionBackup(name: ArtifactName.make(at: date), date: date)
        }
        let plan = rulesOnly { $0.keepWithin = RetentionDuration(days: 30) }.plan(backups: backups, now: at("2026-06-01T00:00:00Z"))
        XCTAssertEqual(plan.keptCount, 30, "2026-01-02 … 2026-01-31; 01-01 02:00 is exactly 30 days back and not after it")
        XCTAssertEqual(plan.kept.last, "2026-01-02 02")
        XCTAssertEqual(plan.reasons("2026-01-02T02:00:00Z"), ["within 30d"])
    }

    func testKeepLastAndTheReasonsOfOneBackupAllListed() {
        let backups = ["2026-11-28T02:00:00Z", "2026-11-29T02:00:00Z", "2026-11-30T02:00:00Z"].map { backup($0) }
        var policy = RetentionPolicy(keepLast: 2, keepHourly: 1, keepDaily: 1, keepWeekly: 1, keepMonthly: 1, keepYearly: 1,
                                     keepWithin: RetentionDuration(days: 30), minAge: RetentionDuration(days: 1), minKeep: 1)
        let plan = policy.plan(backups: backups.map { var b = $0; b.pin = b.date == at("2026-11-30T02:00:00Z") ? "before the upgrade" : nil; b.verified = true; return b },
                               now: at("2026-11-30T12:00:00Z"))
        XCTAssertEqual(plan.reasons("2026-11-30T02:00:00Z"), [
            "within 30d", "last 2", "hourly 2026-11-30T02", "daily 2026-11-30", "weekly 2026-W49", "monthly 2026-11", "yearly 2026",
            "floor: newest verified", "floor: min_age 1d", "floor: min_keep 1", "pinned: before the upgrade",
        ])
        XCTAssertEqual(plan.reasons("2026-11-29T02:00:00Z"), ["within 30d", "last 2"], "keep_weekly 1 has no count left for 2026-W48")
        policy.keepWithin = nil
        XCTAssertEqual(policy.plan(backups: backups, now: at("2026-12-30T00:00:00Z")).removed, ["2026-11-28 02"])
    }

    // MARK: floors

    /// Rules that would keep only the newest backup, and each floor holding one more.
    func testEveryFloorHoldsWhatTheRulesWouldRemove() {
        let now = at("2026-11-30T12:00:00Z")
        let keepOne = RetentionPolicy(keepLast: 1, minAge: RetentionDuration(), minKeep: 0)
        let base = (1...6).map { backup(String(format: "2026-11-%02dT02:00:00Z", $0)) }
        func reasons(of index: Int, _ change: (inout [RetentionBackup]) -> Void, policy: RetentionPolicy = keepOne) -> [String] {
            var backups = base + [backup("2026-11-29T02:00:00Z")]
            change(&backups)
            let plan = policy.plan(backups: backups, now: now)
            return plan.reasons(Timestamp.string(backups[index].date))
        }
        XCTAssertEqual(reasons(of: 2, { _ in }), [], "nothing holds it")
        // The newest is corrupt: the newest that verifies is held.
        XCTAssertEqual(reasons(of: 2, { $0[6].verified = false; $0[2].verified = true; $0[1].verified = true }), ["floor: newest verified"])
        // A hand-made dump that verifies, newer than the newest signed one that does.
        XCTAssertEqual(reasons(of: 4, { $0[6].verified = false; $0[4].trusted = false; $0[4].verified = true; $0[2].verified = true }),
                       ["floor: newest verified (unsigned)"])
        XCTAssertEqual(reasons(of: 4, { $0[6].verified = true; $0[4].trusted = false; $0[4].verified = true }), [],
                       "an unsigned one older than the newest verified signed one is not a floor")
        XCTAssertEqual(reasons(of: 2, { $0[2].trusted = false; $0[2].verified = false }), [], "a hand-made dump that fails verify is no floor")
        XCTAssertEqual(reasons(of: 0, { $0[0].restoreTested = true }), ["floor: newest restore test"])
        XCTAssertEqual(reasons(of: 3, { $0[3].pin = "audit 2026-11" }), ["pinned: audit 2026-11"])
        XCTAssertEqual(reasons(of: 5, { _ in }, policy: RetentionPolicy(keepLast: 1, minAge: RetentionDuration(), minKeep: 2)), ["floor: min_keep 2"])
        // 4 weeks before now is 2026-11-02 12:00.
        XCTAssertEqual(reasons(of: 2, { _ in }, policy: RetentionPolicy(keepLast: 1, minAge: RetentionDuration(weeks: 4), minKeep: 0)),
                       ["floor: min_age 4w"])
        XCTAssertEqual(reasons(of: 1, { _ in }, policy: RetentionPolicy(keepLast: 1, minAge: RetentionDuration(weeks: 4), minKeep: 0)), [])
    }

    func testABackupDatedInTheFutureIsKeptAndTakesNoPartInTheRules() {
        let backups = [backup("2027-06-01T00:00:00Z"), backup("2026-11-29T02:00:00Z"), backup("2026-11-28T02:00:00Z"), backup("2026-10-01T02:00:00Z")]
        let plan = RetentionPolicy(keepLast: 2, keepWithin: RetentionDuration(days: 3), minAge: RetentionDuration(), minKeep: 1)
            .plan(backups: backups, now: at("2026-11-30T00:00:00Z"))
        XCTAssertEqual(plan.reasons("2027-06-01T00:00:00Z"), ["floor: dated in the future"])
        XCTAssertEqual(plan.reasons("2026-11-29T02:00:00Z"), ["within 3d", "last 2", "floor: min_keep 1"], "keep_within counts from the newest real one")
        XCTAssertEqual(plan.reasons("2026-11-28T02:00:00Z"), ["within 3d", "last 2"])
        XCTAssertEqual(plan.removed, ["2026-10-01 02"])
    }

    func testRunbookDumpsFollowTheRulesAndCountForMinKeep() {
        let backups = [backup("2026-11-29T02:00:00Z", trusted: false), backup("2026-11-28T02:00:00Z"),
                       backup("2026-11-27T09:30:00Z", trusted: false), backup("2026-11-20T02:00:00Z")]
        let plan = RetentionPolicy(keepDaily: 1, minAge: RetentionDuration(), minKeep: 3).plan(backups: backups, now: at("2026-11-30T00:00:00Z"))
        XCTAssertEqual(plan.reasons("2026-11-29T02:00:00Z"), ["daily 2026-11-29", "floor: min_keep 3"])
        XCTAssertEqual(plan.reasons("2026-11-27T09:30:00Z"), ["floor: min_keep 3"])
        XCTAssertEqual(plan.removed, ["2026-11-20 02"])
    }

    func testNoPolicyRemovesNothingAndSaysSo() {
        let backups = (1...30).map { backup(String(format: "2026-11-%02dT02:00:00Z", $0)) }
        for policy in [RetentionPolicy(), RetentionPolicy(keepLast: 0, minAge: RetentionDuration(), minKeep: 0)] {
            let plan = policy.plan(backups: backups, now: at("2030-01-01T00:00:00Z"))
            XCTAssertEqual(plan.removals.count, 0)
            XCTAssertEqual(plan.reasons("2026-11-01T02:00:00Z"), ["no policy: nothing is deleted"])
            XCTAssertEqual(policy.description, "none: nothing is ever deleted")
        }
    }

    func testPlanSummary() {
        let backups = (1...10).map { backup(String(format: "2026-11-%02dT02:00:00Z", $0), size: Int64($0)) }
        let plan = RetentionPolicy(keepLast: 2, minAge: RetentionDuration(), minKeep: 3).plan(backups: backups, now: at("2026-12-01T00:00:00Z"))
        XCTAssertEqual(plan.keptCount, 3)
        XCTAssertEqual(plan.bytesFreed, (1...7).reduce(0, +))
        XCTAssertEqual(plan.bytesKept, 8 + 9 + 10)
        XCTAssertEqual(plan.keptBy.map { "\($0.rule.rawValue) \($0.kept)" }, ["last 2", "min_keep 3"])
        XCTAssertEqual(RetentionPolicy(keepDaily: 7, keepWeekly: 4, keepWithin: RetentionDuration(days: 30)).description,
                       "keep_daily 7, keep_weekly 4, keep_within 30d; min_age 1d, min_keep 3")
    }
}
