import AKProtocol
import Foundation
import Retention

// deploy/bench/prune's measurement: how long planning a prune of N backups takes, next to sorting
// their N names (the least any listing does), in the same process and build. Exit 1 when the plan
// is not consistent; no time limit is asserted here (see the script's --max-ratio).
//
//   PruneBench [--count N] [--runs R]

var count = 10_000, runs = 7
var args = CommandLine.arguments.dropFirst()
while let arg = args.popFirst() {
    switch arg {
    case "--count": count = Int(args.popFirst() ?? "") ?? -1
    case "--runs": runs = Int(args.popFirst() ?? "") ?? -1
    default:
        FileHandle.standardError.write(Data("error: unknown argument \(arg)\nhint: PruneBench [--count N] [--runs R]\n".utf8))
        exit(2)
    }
}
guard count > 0, runs > 0 else {
    FileHandle.standardError.write(Data("error: --count and --runs must be positive integers\nhint: e.g. --count 10000 --runs 7\n".utf8))
    exit(2)
}

// N backups about every 2 h 10 min going back from 2027-01-15 (about 2.5 years for 10,000), a few
// made by hand, in a scrambled order as a directory listing gives them.
let newest = Timestamp.date("2027-01-15T02:00:00Z")!
var names: [String] = (0..<count).map { (i: Int) -> String in
    let seconds: Int = i * 7_800 + (i * 7_919) % 600
    return ArtifactName.make(at: newest.addingTimeInterval(-Double(seconds)))
}
var state: UInt64 = 0x5EED
for i in stride(from: names.count - 1, to: 0, by: -1) {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    names.swapAt(i, Int((state >> 33) % UInt64(i + 1)))
}
let policy = RetentionPolicy(keepLast: 3, keepHourly: 24, keepDaily: 14, keepWeekly: 8, keepMonthly: 12, keepYearly: 5,
                             keepWithin: RetentionDuration(days: 2))
let now = newest.addingTimeInterval(3600)

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
func time(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
}

var sink = 0
var sortTimes: [Double] = [], parseTimes: [Double] = [], planTimes: [Double] = []
var plan = policy.plan(backups: [], now: now)
for _ in 0..<runs {
    sortTimes.append(time { sink &+= names.sorted(by: >).count })
    var backups: [RetentionBackup] = []
    parseTimes.append(time {
        backups = names.enumerated().compactMap { i, name in
            ArtifactName.date(of: name).map { RetentionBackup(name: name, date: $0, size: 48_000_000, trusted: i % 50 != 0, verified: nil) }
        }
    })
    if let newestSigned = backups.indices.max(by: { backups[$0].date < backups[$1].date }) { backups[newestSigned].verified = true }
    planTimes.append(time { plan = policy.plan(backups: backups, now: now) })
}

// The plan must be whole and sane before its time means anything.
var problems: [String] = []
if plan.decisions.count != count { problems.append("\(plan.decisions.count) decisions for \(count) backups") }
if plan.keptCount == 0 || plan.removals.isEmpty { problems.append("kept \(plan.keptCount), removed \(plan.removals.count): expected both") }
if plan.keptCount + plan.removals.count != count { problems.append("kept + removed != \(count)") }
if plan.decisions.first?.keep != true { problems.append("the newest backup is not kept") }
if plan.decisions.contains(where: { $0.keep != !$0.reasons.isEmpty }) { problems.append("a decision's keep does not match its reasons") }

let sortMs = median(sortTimes), parseMs = median(parseTimes), planMs = median(planTimes)
print(String(format: "prune bench: %d backups, %d runs (medians), policy %@", count, runs, policy.description))
print(String(format: "  baseline: sort the names      %8.2f ms", sortMs))
print(String(format: "  read the names' instants      %8.2f ms  (%.1f x the sort)", parseMs, parseMs / sortMs))
print(String(format: "  plan                          %8.2f ms  (%.1f x the sort)", planMs, planMs / sortMs))
print(String(format: "  names to plan                 %8.2f ms  (%.1f x the sort)", parseMs + planMs, (parseMs + planMs) / sortMs))
print("  plan: keeps \(plan.keptCount), removes \(plan.removals.count); " + plan.keptBy.map { "\($0.rule.rawValue) \($0.kept)" }.joined(separator: ", "))
print("ratio \(String(format: "%.2f", (parseMs + planMs) / sortMs))")
if !problems.isEmpty {
    FileHandle.standardError.write(Data("error: the plan is inconsistent: \(problems.joined(separator: "; "))\nhint: this is a bug in the retention engine\n".utf8))
    exit(1)
}
if sink == 0 { print("") }
