import AKProtocol
import Foundation
@testable import Retention
import XCTest

/// SplitMix64: a small seeded generator, so a failing case can be replayed from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random backup sets and random policies, a few thousand of each: the engine must agree with a
/// naive model of restic's rules (written with Foundation's ISO 8601 calendar, independently of the
/// engine's arithmetic), and no policy may ever remove a backup a floor protects.
final class RetentionPropertyTests: XCTestCase {
    static let iterations = 3000
    static let calendar: Calendar = {
        var c = Calendar(identifier: .iso8601)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()

    struct Case {
        var backups: [RetentionBackup]
        var policy: RetentionPolicy
        var now: Date
    }

    static func randomDuration(_ g: inout SeededGenerator, zeroAllowed: Bool) -> RetentionDuration {
        var d = RetentionDuration()
        repeat {
            if Bool.random(using: &g), Int.random(in: 0..<4, using: &g) == 0 { d.years = Int.random(in: 1...2, using: &g) }
            if Int.random(in: 0..<3, using: &g) == 0 { d.months = Int.random(in: 1...14, using: &g) }
            if Int.random(in: 0..<3, using: &g) == 0 { d.weeks = Int.random(in: 1...6, using: &g) }
            if Int.random(in: 0..<2, using: &g) == 0 { d.days = Int.random(in: 1...40, using: &g) }
            if Int.random(in: 0..<3, using: &g) == 0 { d.hours = Int.random(in: 1...48, using: &g) }
        } while d.isZero && !zeroAllowed
        return d
    }

    static func randomCase(_ g: inout SeededGenerator) -> Case {
        // Somewhere in 2020 … 2035; a third of the time right around a turn of the year (ISO weeks).
        let year = Int.random(in: 2020...2035, using: &g)
        let nearNewYear = Int.random(in: 0..<3, using: &g) == 0
        let nowDay = nearNewYear ? UTCCalendar.days(year: year, month: 1, day: Int.random(in: 1...10, using: &g))
                                 : UTCCalendar.days(year: year, month: Int.random(in: 1...12, using: &g), day: Int.random(in: 1...28, using: &g))
        let now = Date(timeIntervalSince1970: Double(nowDay * 86_400 + Int.random(in: 0..<86_400, using: &g)))
        let count = Int.random(in: 0..<10, using: &g) == 0 ? Int.random(in: 0...150, using: &g) : Int.random(in: 0...40, using: &g)
        let gaps: [ClosedRange<Int>] = [60...3_000, 3_600...3_600, 1_800...7_200, 86_400...86_400, 40_000...200_000,
                                        604_800...604_800, 86_400...3_500_000]
        var t = now.timeIntervalSince1970 - Double(Int.random(in: 0...200_000, using: &g))
        var backups: [String: RetentionBackup] = [:]
        var restoreTestedGiven = false
        for _ in 0..<count {
            var date = Date(timeIntervalSince1970: t.rounded(.down))
            if Int.random(in: 0..<12, using: &g) == 0 { date = now.addingTimeInterval(Double(Int.random(in: 1...3_000_000, using: &g))) }
            let verified: Bool? = [nil, nil, true, false, true].randomElement(using: &g)!
            var b = RetentionBackup(name: ArtifactName.make(at: date), date: date, size: Int64.random(in: 1...1_000_000, using: &g),
                                    trusted: Int.random(in: 0..<5, using: &g) != 0, verified: verified,
                                    pin: Int.random(in: 0..<20, using: &g) == 0 ? "pin \(Int.random(in: 0...9, using: &g))" : nil)
            if !restoreTestedGiven, Int.random(in: 0..<25, using: &g) == 0 {
                b.restoreTested = true
                restoreTestedGiven = true
            }
            backups[b.name] = b
            let gap = gaps.randomElement(using: &g)!
            t -= Double(Int.random(in: gap, using: &g))
        }
        var p = RetentionPolicy()
        if Int.random(in: 0..<6, using: &g) != 0 {  // a sixth: no policy at all
            func count() -> Int { Int.random(in: 0..<2, using: &g) == 0 ? 0 : Int.random(in: 1...8, using: &g) }
            p.keepLast = count(); p.keepHourly = count(); p.keepDaily = count()
            p.keepWeekly = count(); p.keepMonthly = count(); p.keepYearly = count()
            if Int.random(in: 0..<3, using: &g) == 0 { p.keepWithin = randomDuration(&g, zeroAllowed: false) }
        }
        p.minAge = Bool.random(using: &g) ? RetentionDuration() : randomDuration(&g, zeroAllowed: true)
        p.minKeep = Int.random(in: 0...5, using: &g)
        return Case(backups: Array(backups.values).shuffled(using: &g), policy: p, now: now)
    }

    /// What the floors protect, computed from their definitions.
    static func floorNames(_ c: Case) -> Set<String> {
        let newestFirst = c.backups.sorted { ($0.date, $0.name) > ($1.date, $1.name) }
        var names = Set<String>()
        let verified = newestFirst.first { $0.trusted && $0.verified == true }
        if let v = verified { names.insert(v.name) }
        if let u = newestFirst.first(where: { !$0.trusted && $0.verified == true }), verified.map({ u.date > $0.date }) ?? true {
            names.insert(u.name)
        }
        for b in c.backups where b.restoreTested || b.pin != nil || b.date > c.now { names.insert(b.name) }
        if !c.policy.minAge.isZero {
            for b in c.backups where b.date > c.policy.minAge.before(c.now) { names.insert(b.name) }
        }
        for b in newestFirst.filter({ $0.date <= c.now }).prefix(c.policy.minKeep) { names.insert(b.name) }
        return names
    }

    /// restic's rules, naively: the newest backup of each of the first N distinct periods, plus the
    /// oldest backup when there are fewer than N periods; keep_within from the newest backup.
    static func ruleNames(_ c: Case) -> Set<String> {
        let p = c.policy
        guard p.isConfigured else { return Set(c.backups.map(\.name)) }
        let eligible = c.backups.filter { $0.date <= c.now }.sorted { ($0.date, $0.name) > ($1.date, $1.name) }
        var names = Set<String>()
        if let w = p.keepWithin, let newest = eligible.first {
            for b in eligible where b.date > w.before(newest.date) { names.insert(b.name) }
        }
        let components = eligible.map { calendar.dateComponents([.year, .month, .day, .hour, .yearForWeekOfYear, .weekOfYear], from: $0.date) }
        let keys: [(Int, (Int) -> [Int])] = [
            (p.keepLast, { [$0] }),
            (p.keepHourly, { [components[$0].year!, components[$0].month!, components[$0].day!, components[$0].hour!] }),
            (p.keepDaily, { [components[$0].year!, components[$0].month!, components[$0].day!] }),
            (p.keepWeekly, { [components[$0].yearForWeekOfYear!, components[$0].weekOfYear!] }),
            (p.keepMonthly, { [components[$0].year!, components[$0].month!] }),
            (p.keepYearly, { [components[$0].year!] }),
        ]
        for (count, key) in keys where count > 0 {
            var seen: [[Int]] = []
            for i in eligible.indices where !seen.contains(key(i)) {
                seen.append(key(i))
                if seen.count <= count { names.insert(eligible[i].name) }
            }
            if seen.count < count, let oldest = eligible.last { names.insert(oldest.name) }
        }
        return names
    }

    func testEngineAgreesWithTheModelAndNeverRemovesAFloor() {
        var g = SeededGenerator(seed: 0xA1B2_C3D4)
        var removedSomething = 0, floorsHeld = 0
        for iteration in 0..<Self.iterations {
            let c = Self.randomCase(&g)
            let plan = c.policy.plan(backups: c.backups, now: c.now)
            let label = "iteration \(iteration), policy \(c.policy), \(c.backups.count) backups, now \(Timestamp.string(c.now))"
            XCTAssertEqual(plan.decisions.count, c.backups.count, label)
            XCTAssertEqual(Set(plan.decisions.map(\.backup.name)), Set(c.backups.map(\.name)), label)
            XCTAssertEqual(plan.decisions.map(\.backup.date), plan.decisions.map(\.backup.date).sorted(by: >), "newest first: \(label)")
            let kept = Set(plan.decisions.filter(\.keep).map(\.backup.name))
            let floors = Self.floorNames(c)
            XCTAssertTrue(floors.isSubset(of: kept), "a floor was removed: \(floors.subtracting(kept).sorted()) — \(label)")
            XCTAssertEqual(kept, Self.ruleNames(c).union(floors), label)
            if !c.policy.isConfigured { XCTAssertTrue(plan.removals.isEmpty, "no policy removes nothing: \(label)") }
            for d in plan.decisions where d.keep {
                XCTAssertEqual(d.reasons.contains { $0.rule.isFloor }, floors.contains(d.backup.name), "floor reasons: \(d.backup.name) \(label)")
            }
            if !plan.removals.isEmpty { removedSomething += 1 }
            if !floors.isEmpty { floorsHeld += 1 }
            if testRun?.failureCount ?? 0 > 5 { return }
        }
        // The generator must reach the interesting cases, or the properties prove little.
        XCTAssertGreaterThan(removedSomething, Self.iterations / 4)
        XCTAssertGreaterThan(floorsHeld, Self.iterations / 2)
    }

    /// The same backups in any order, and a dry run and a real run (same input, same now), decide the same.
    func testPlansAreDeterministicWhateverTheInputOrder() {
        var g = SeededGenerator(seed: 42)
        for iteration in 0..<500 {
            let c = Self.randomCase(&g)
            let a = c.policy.plan(backups: c.backups, now: c.now)
            let b = c.policy.plan(backups: c.backups.shuffled(using: &g), now: c.now)
            XCTAssertEqual(a, b, "iteration \(iteration)")
        }
    }

    /// The projection never reports growth that its own plans would not leave, and no policy grows linearly.
    func testSpaceProjection() {
        let now = at("2026-11-30T12:00:00Z")
        let daily = (0..<20).map { i in
            let date = now.addingTimeInterval(Double(-i) * 86_400 - 36_000)
            return RetentionBackup(name: ArtifactName.make(at: date), date: date, size: 100, trusted: true, verified: true)
        }
        let none = SpaceProjection.project(policy: RetentionPolicy(), backups: daily, freeBytes: 1_000, now: now)
        XCTAssertEqual(none?.daysUntilFull.map { ($0 * 10).rounded() / 10 }, 10.6, "11 backups of 100 bytes pass 1000 free bytes; the 11th comes 11 days after the newest, 10 hours old now")
        XCTAssertEqual(none?.grossBytesPerDay, 100)
        let window = SpaceProjection.project(policy: RetentionPolicy(keepDaily: 20), backups: daily, freeBytes: 1_000, now: now)
        XCTAssertNil(window?.daysUntilFull, "keeping 20 dailies of 20 present: the NAS stops growing")
        XCTAssertEqual(window?.peakGrowth, 0)
        let slow = SpaceProjection.project(policy: RetentionPolicy(keepDaily: 25), backups: daily, freeBytes: 1_000, now: now)
        XCTAssertEqual(slow?.peakGrowth, 500, "five more dailies, then steady")
        XCTAssertNil(slow?.daysUntilFull)
        XCTAssertNotNil(SpaceProjection.project(policy: RetentionPolicy(keepDaily: 25), backups: daily, freeBytes: 499, now: now)?.daysUntilFull)
        XCTAssertNil(SpaceProjection.project(policy: RetentionPolicy(), backups: Array(daily.prefix(1)), freeBytes: 0, now: now), "one backup gives no rate")
    }
}
