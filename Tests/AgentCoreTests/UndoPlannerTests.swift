@testable import AgentCore
import AKBase
import AKProtocol
import Foundation
import XCTest

/// The undo policy's planner as tables: each row a database in the cluster and the decision the
/// policy must make for it at `now` (2027-01-15T08:00:00Z). No I/O: `UndoPlanner.plan` is pure.
final class UndoPlannerTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_800_000_000)   // 2027-01-15T08:00:00Z
    let live = "authentik"
    let standard = UndoPolicy(keepNewest: 1, maxAgeDays: 7, failedMaxAgeDays: 1, warnPercent: 50)

    /// nil: the planner must leave the database out of its answer (and so never drop it).
    typealias Row = (name: String, expected: UndoAction?, reason: String)

    func check(_ rows: [Row], policy: UndoPolicy? = nil, live: String? = nil, exclusive: Bool = true, protected: Set<String> = [],
               file: StaticString = #filePath, line: UInt = #line) {
        let input = rows.enumerated().map { DatabaseInfo(name: $0.element.name, sizeBytes: Int64(1000 + $0.offset)) }
        let plan = UndoPlanner.plan(input.shuffled(), live: live ?? self.live, policy: policy ?? standard, now: now,
                                    exclusive: exclusive, protected: protected)
        XCTAssertEqual(plan.map(\.name), plan.map(\.name).sorted(), "the answer is by name", file: file, line: line)
        XCTAssertEqual(Set(plan.map(\.name)).count, plan.count, "each database once", file: file, line: line)
        for (i, row) in rows.enumerated() {
            let decision = plan.first { $0.name == row.name }
            guard let expected = row.expected else {
                XCTAssertNil(decision, "\(row.name) is not akbackup's: it must not be decided at all", file: file, line: line)
                continue
            }
            guard let d = decision else {
                XCTFail("no decision for \(row.name)", file: file, line: line)
                continue
            }
            XCTAssertEqual(d.action, expected, "\(row.name): \(d.reason)", file: file, line: line)
            XCTAssertTrue(d.reason.contains(row.reason), "\(row.name): \"\(d.reason)\" does not say \"\(row.reason)\"", file: file, line: line)
            XCTAssertEqual(d.sizeBytes, Int64(1000 + i), "\(row.name): its own size", file: file, line: line)
            XCTAssertNil(d.dropped, "planning drops nothing", file: file, line: line)
            if d.action == .drop {
                XCTAssertTrue(AgentDatabases.isOwn(d.name), "\(d.name): only names akbackup writes are ever dropped", file: file, line: line)
            }
        }
    }

    func testTheDefaultPolicyOnEveryKindAtOnce() {
        check([
            // Not akbackup's: never in the answer.
            ("authentik", nil, ""),
            ("postgres", nil, ""),
            ("keycloak", nil, ""),
            ("authentik_other", nil, ""),
            ("authentik_pre_restore", nil, ""),
            ("Authentik_pre_restore_20200101000000", nil, ""),
            ("xauthentik_failed_20200101000000", nil, ""),
            // pre-restore: the newest is kept whatever its age; the others by age, 7 days exactly still kept.
            ("authentik_pre_restore_20270115070000", .keep, "the newest undo point"),
            ("authentik_pre_restore_20270108080000", .keep, "not older than 7 days (undo_max_age_days) yet"),
            ("authentik_pre_restore_20270108075959", .drop, "older than 7 days (undo_max_age_days)"),
            ("authentik_pre_restore_20261201000000", .drop, "older than 7 days (undo_max_age_days)"),
            // Names in the family whose stamp is not a time akbackup writes: kept and reported.
            ("authentik_pre_restore_20271301000000", .keep, "not a UTC time"),
            ("authentik_pre_restore_20270230000000", .keep, "not a UTC time"),
            ("authentik_pre_restore_2027011508000", .keep, "not a UTC time"),
            ("authentik_pre_restore_20200101000000 ", .keep, "not a UTC time"),
            ("authentik_failed_x", .keep, "not a UTC time"),
            ("authentik_undone_19691231235959", .keep, "not a UTC time"),
            // failed and undone: one day, exactly one day still kept.
            ("authentik_failed_20270114080000", .keep, "not older than 1 day (failed_max_age_days) yet"),
            ("authentik_failed_20270114075959", .drop, "older than 1 day (failed_max_age_days)"),
            ("authentik_undone_20270114075959", .drop, "failed_max_age_days"),
            ("authentik_undone_20270115000000", .keep, "not older than 1 day"),
            // Leftovers of interrupted restores, with the lock held: dropped at any age.
            ("authentik_restore_20270115075900", .drop, "leftover of an interrupted restore"),
            ("authentik_restoretest_20270101000000", .drop, "leftover"),
        ])
    }

    func testKindsAndStampsAreReported() {
        let plan = UndoPlanner.plan([DatabaseInfo(name: "authentik_restoretest_20270101000000", sizeBytes: 5),
                                     DatabaseInfo(name: "authentik_restore_20270101000000", sizeBytes: 6),
                                     DatabaseInfo(name: "authentik_undone_20270101000000", sizeBytes: 7),
                                     DatabaseInfo(name: "authentik_failed_20270101000000", sizeBytes: 8),
                                     DatabaseInfo(name: "authentik_pre_restore_20270101000000", sizeBytes: 9),
                                     DatabaseInfo(name: "authentik_pre_restore_20271301000000", sizeBytes: 10)],
                                    live: live, policy: standard, now: now, exclusive: true)
        XCTAssertEqual(plan.map(\.kind), [.failed, .preRestore, .preRestore, .staging, .scratch, .undone])
        XCTAssertEqual(plan.map(\.stamp), ["2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z", nil, "2027-01-01T00:00:00Z",
                                          "2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z"])
    }

    /// Without the operation lock (doctor's and status's dry run) a staging database may be in use.
    func testStagingAndScratchAreKeptWithoutTheLock() {
        check([
            ("authentik_restore_20270115075900", .keep, "a restore running now uses it"),
            ("authentik_restoretest_20270101000000", .keep, "the next restore or prune drops"),
            ("authentik_failed_20270101000000", .drop, "failed_max_age_days"),
        ], exclusive: false)
    }

    func testKeepNewestCountsPreRestoreDatabasesByStamp() {
        check([
            ("authentik_pre_restore_20260101000000", .keep, "the newest undo point"),
            ("authentik_pre_restore_20250101000000", .keep, "one of the 3 newest undo points (undo_keep_newest)"),
            ("authentik_pre_restore_20240101000000", .keep, "one of the 3 newest"),
            ("authentik_pre_restore_20230101000000", .drop, "undo_max_age_days"),
            // Another kind never takes a pre-restore database's place among the newest.
            ("authentik_undone_20270115075959", .keep, "failed_max_age_days"),
        ], policy: UndoPolicy(keepNewest: 3, maxAgeDays: 7, failedMaxAgeDays: 1, warnPercent: 50))
    }

    /// 0 days: dropped at the next prune, however young; the newest undo point still stays.
    func testZeroDaysDropsAtTheNextPruneButNeverTheNewestUndoPoint() {
        let zero = UndoPolicy(keepNewest: 1, maxAgeDays: 0, failedMaxAgeDays: 0, warnPercent: 50)
        check([
            ("authentik_pre_restore_20270115075959", .keep, "the newest undo point"),
            ("authentik_pre_restore_20270115075958", .drop, "older than 0 days"),
            ("authentik_failed_20270115075959", .drop, "older than 0 days (failed_max_age_days)"),
            ("authentik_undone_20270115080000", .keep, "not older than 0 days (failed_max_age_days) yet"),
        ], policy: zero)
    }

    /// What the operation that runs the policy just made is kept (the receipt names it), even at 0 days.
    func testWhatTheOperationJustMadeIsProtected() {
        let zero = UndoPolicy(keepNewest: 1, maxAgeDays: 0, failedMaxAgeDays: 0, warnPercent: 50)
        check([
            ("authentik_undone_20270115075959", .keep, "made by this operation"),
            ("authentik_undone_20270115075958", .drop, "failed_max_age_days"),
        ], policy: zero, protected: ["authentik_undone_20270115075959", "/var/lib/akbackup-agent/undo/authentik-undo-x.sql.gz"])
    }

    /// A stamp after `now` (the clock was set back?): its age cannot be told, so it stays; it is also
    /// the one `restore --undo` would take (the newest name), which the policy must keep.
    func testAStampInTheFutureIsKept() {
        let names = ["authentik_pre_restore_20270116000000", "authentik_pre_restore_20270115070000", "authentik_pre_restore_20270101000000"]
        check([
            (names[0], .keep, "in the future"),
            (names[1], .keep, "not older than 7 days"),
            (names[2], .drop, "undo_max_age_days"),
            ("authentik_failed_20991231000000", .keep, "in the future"),
        ])
        XCTAssertEqual(AgentDatabases.newestPreRestore(names), names[0])
    }

    /// A name of 14 digits that is no time (month 13) sorts after every real stamp of its year: undo
    /// must not take it for the newest undo point (it once put an empty database live).
    func testUndoNeverTakesANameWhoseStampIsNoTime() {
        let real = "authentik_pre_restore_20261201185248"
        XCTAssertEqual(AgentDatabases.newestPreRestore([real, "authentik_pre_restore_20261399000000", "authentik_pre_restore_20261201250000"]), real)
        XCTAssertNil(AgentDatabases.newestPreRestore(["authentik_pre_restore_20261399000000", "authentik_pre_restore_x"]))
    }

    /// A live database configured with a name in akbackup's family is still the live database.
    func testTheLiveDatabaseIsNeverDecidedWhateverItsName() {
        check([
            ("authentik_failed_20200101000000", nil, ""),
            ("authentik_failed_20200101000001", .drop, "failed_max_age_days"),
        ], live: "authentik_failed_20200101000000")
    }

    /// Whatever is in the cluster: the live database and foreign ones are never in the answer, only
    /// names akbackup writes are dropped, and the undo point `restore --undo` takes is always kept.
    func testInvariantsOverManyClusters() {
        var seed: UInt64 = 0x5EED
        func next(_ n: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(n))
        }
        let prefixes = ["authentik_pre_restore_", "authentik_failed_", "authentik_undone_", "authentik_restore_", "authentik_restoretest_",
                        "authentik_", "other_", ""]
        for _ in 0..<500 {
            var names = ["authentik", "postgres"]
            for _ in 0..<next(12) {
                let stamp: String
                switch next(5) {
                case 0: stamp = String(format: "2027011%1d%02d%02d%02d", next(8), next(26), next(61), next(61))
                case 1: stamp = String(format: "20%02d%02d%02d000000", next(100), next(14), next(33))
                case 2: stamp = String(next(1_000_000))
                default: stamp = Timestamp.string(now.addingTimeInterval(TimeInterval(next(40 * 86400)) - 30 * 86400))
                    .filter(\.isNumber)
                }
                names.append(prefixes[next(prefixes.count)] + stamp)
            }
            let policy = UndoPolicy(keepNewest: 1 + next(3), maxAgeDays: next(10), failedMaxAgeDays: next(3), warnPercent: 50)
            let plan = UndoPlanner.plan(names.map { DatabaseInfo(name: $0, sizeBytes: 1) }, live: live, policy: policy, now: now,
                                        exclusive: next(2) == 0)
            XCTAssertFalse(plan.contains { $0.name == live || $0.name == "postgres" })
            for d in plan {
                XCTAssertNotNil(AgentDatabases.classify(d.name), d.name)
                if d.action == .drop { XCTAssertTrue(AgentDatabases.isOwn(d.name), d.name) }
            }
            if let newest = AgentDatabases.newestPreRestore(names) {
                XCTAssertEqual(plan.first { $0.name == newest }?.action, .keep, "\(newest) in \(names) with \(policy)")
            }
        }
    }

    func testStampsAreRealUTCTimesOnly() {
        XCTAssertEqual(AgentDatabases.date(ofStamp: "20270115080000"), now)
        XCTAssertNotNil(AgentDatabases.date(ofStamp: "20280229235959"), "a leap day")
        for bad in ["20270229000000", "20271301000000", "20270100000000", "20270132000000", "20270115240000", "20270115006000",
                    "20270115000060", "2027011508000", "202701150800000", "2027-01-15T0800", "２０２７０１１５０８００００",
                    "19691231235959", "", "+2027011508000"] {
            XCTAssertNil(AgentDatabases.date(ofStamp: bad), bad)
        }
    }

    func testTheFamilyAndItsKinds() {
        XCTAssertEqual(AgentDatabases.classify("authentik_restoretest_1")?.kind, .scratch, "restoretest is not read as restore + \"test_1\"")
        XCTAssertEqual(AgentDatabases.classify("authentik_restore_1")?.kind, .staging)
        XCTAssertEqual(AgentDatabases.classify("authentik_pre_restore_x")?.stamp, "x")
        XCTAssertNil(AgentDatabases.classify("authentik"))
        // The family is what the listing query asks PostgreSQL for.
        for name in ["authentik_pre_restore_1", "authentik_failed_", "authentik_undone_20270101000000"] {
            XCTAssertNotNil(name.range(of: AgentDatabases.familyPattern, options: .regularExpression), name)
        }
        XCTAssertNil("authentik_restores_1".range(of: AgentDatabases.familyPattern, options: .regularExpression))
    }

    func testDFOutputGivesSizeAndAvailableSpace() {
        let df = "Filesystem        1-blocks       Used  Available Capacity Mounted on\n/dev/sda1  105089261568 42035704627 57668980736      43% /var/lib/postgresql/data\n"
        XCTAssertEqual(DockerPostgres.parseDF(df), VolumeSpace(totalBytes: 105_089_261_568, freeBytes: 57_668_980_736))
        XCTAssertNil(DockerPostgres.parseDF("df: /nonexistent: No such file or directory\n"))
        XCTAssertNil(DockerPostgres.parseDF(""))
    }

    func testReportSharesAndWarnings() {
        func report(_ sizes: [Int64], volume: Int64?, percent: Int, dropped: Set<Int> = []) -> UndoReport {
            UndoReport(checkedAt: "2027-01-15T08:00:00Z", policy: UndoPolicy(keepNewest: 1, maxAgeDays: 7, failedMaxAgeDays: 1, warnPercent: percent),
                       databases: sizes.enumerated().map { i, s in
                           UndoDatabase(name: "authentik_failed_2027011508000\(i)", kind: .failed, stamp: nil, sizeBytes: s,
                                        action: dropped.contains(i) ? .drop : .keep, reason: "", dropped: dropped.contains(i) ? true : nil)
                       }, volumeBytes: volume, volumeFreeBytes: volume)
        }
        XCTAssertEqual(report([30, 30], volume: 100, percent: 50).percentOfVolume, 60)
        XCTAssertNotNil(report([30, 30], volume: 100, percent: 50).warning(host: "infra-core"))
        XCTAssertTrue(report([30, 30], volume: 100, percent: 50).warning(host: "infra-core")!.contains("60% of the database volume"))
        XCTAssertNil(report([25, 25], volume: 100, percent: 50).warning(host: "infra-core"), "exactly the share is not over it")
        XCTAssertNil(report([30, 30], volume: 100, percent: 50, dropped: [0]).warning(host: "infra-core"), "dropped ones no longer count")
        XCTAssertNil(report([30, 30], volume: nil, percent: 0).warning(host: "infra-core"), "no volume size, no judgement")
        XCTAssertNotNil(report([1], volume: 100, percent: 0).warning(host: "infra-core"), "0: any database warns")
        XCTAssertNil(report([], volume: 100, percent: 0).warning(host: "infra-core"))
        XCTAssertEqual(report([ProtocolLimits.maxSize, .max], volume: 1, percent: 100).keptBytes, .max, "saturates")
    }
}

/// The policy's keys in the agent's config: values, ranges, and errors that say which line and what to do.
final class UndoConfigTests: XCTestCase {
    func load(_ text: String) throws -> AgentConfig {
        let path = NSTemporaryDirectory() + "akbackup-undo-config-\(UUID().uuidString).toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try AgentConfig.load(path: path)
    }

    func testDefaultsAreTheIssuesPolicy() {
        XCTAssertEqual(AgentConfig().undoPolicy, UndoPolicy(keepNewest: 1, maxAgeDays: 7, failedMaxAgeDays: 1, warnPercent: 50))
        XCTAssertTrue(AgentConfig.defaultsText.contains("#undo_keep_newest = 1 "), AgentConfig.defaultsText)
        XCTAssertTrue(AgentConfig.defaultsText.contains("#failed_max_age_days = 1 "))
    }

    func testValuesAndTheirBounds() throws {
        let c = try load("undo_keep_newest = 100\nundo_max_age_days = 0\nfailed_max_age_days = 3650\nundo_warn_percent = 0\n")
        XCTAssertEqual(c.undoPolicy, UndoPolicy(keepNewest: 100, maxAgeDays: 0, failedMaxAgeDays: 3650, warnPercent: 0))
        XCTAssertEqual(try load("undo_warn_percent = 100\n").undoWarnPercent, 100)
    }

    func testOutOfRangeValuesAreErrorsWithAHint() {
        let cases: [(String, String)] = [
            ("undo_keep_newest = 0", "undo_keep_newest must be 1…100"),
            ("undo_keep_newest = 101", "undo_keep_newest must be 1…100"),
            ("undo_max_age_days = -1", "undo_max_age_days must be 0…3650 days"),
            ("failed_max_age_days = 3651", "failed_max_age_days must be 0…3650 days"),
            ("undo_warn_percent = 101", "undo_warn_percent must be 0…100 percent"),
            ("undo_max_age_days = \"7\"", "must be an integer"),
        ]
        for (line, message) in cases {
            XCTAssertThrowsError(try load("# policy\n\(line)\n"), line) { error in
                // One line naming the file, the line and the key, then a hint.
                let e = error as? HintedError
                XCTAssertTrue(e?.summary.contains(".toml:2: ") == true, "\(line): \(error)")
                XCTAssertTrue(e?.summary.contains(message) == true, "\(line): \(error)")
                XCTAssertFalse(e?.hint.isEmpty ?? true, line)
            }
        }
        XCTAssertThrowsError(try load("undo_keep_newest = 0\n")) { error in
            XCTAssertTrue((error as? HintedError)?.hint.contains("restore --undo") == true, "\(error)")
        }
    }
}
