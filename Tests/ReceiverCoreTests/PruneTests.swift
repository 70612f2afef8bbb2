@testable import ReceiverCore
import AKBase
import AKProtocol
import Foundation
import HostConfig
import ProtocolSession
import Retention
import XCTest

/// A NAS directory laid out by hand: signed backups (a real gzip'd dump and its agent-signed
/// manifest), dumps made by hand, receipts, partials.
struct NASFixture {
    let dir: String
    static let bytes: [UInt8] = try! ReceiverHarness.gzip(ReceiverHarness.dump)

    init() throws { dir = try temporaryDirectory() }

    static func name(_ stamp: String) -> String { ArtifactName.make(at: Timestamp.date(stamp)!) }
    func path(_ name: String) -> String { dir + "/" + name }
    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }
    func files() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }

    /// A backup with its signed manifest (`corrupt`: one byte of the artifact changed afterwards).
    @discardableResult
    func signed(_ stamp: String, key: ReceiverHarness.Key = ReceiverHarness.agentKey, corrupt: Bool = false) throws -> String {
        let name = Self.name(stamp)
        var bytes = Self.bytes
        let manifest = try ReceiverHarness.manifest(for: bytes, name: name, signedBy: key)
        if corrupt { bytes[bytes.count / 2] ^= 0xFF }
        try Data(bytes).write(to: URL(fileURLWithPath: path(name)))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(manifest).write(to: URL(fileURLWithPath: path(BackupStore.manifestName(for: name))))
        return name
    }

    /// A dump made by hand with the runbook: no manifest.
    @discardableResult
    func handMade(_ stamp: String, intact: Bool = true) throws -> String {
        let name = Self.name(stamp)
        try Data(intact ? Self.bytes : Array(Self.bytes.prefix(20))).write(to: URL(fileURLWithPath: path(name)))
        return name
    }

    /// receipts/NAME: a restore test of `artifact` that passed, signed by `key`.
    func restoreTest(of artifact: String, key: ReceiverHarness.Key = ReceiverHarness.agentKey, file: String = "restore-test-1.json",
                     outcome: RestoreOutcome = .tested) throws {
        var r = Receipt(operation: "restore-test", artifact: artifact, sha256: nil, artifactSigned: true, operatorName: "alice",
                        controllerHost: "laptop", agentHost: "infra-core", startedAt: "2026-11-10T09:00:00Z", finishedAt: "2026-11-10T09:01:00Z",
                        steps: [], validation: nil, downtimeSeconds: nil, outcome: outcome, message: "passed")
        try r.sign(with: key.privateKey)
        try FileManager.default.createDirectory(atPath: dir + "/receipts", withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        try encoder.encode(r).write(to: URL(fileURLWithPath: dir + "/receipts/" + file))
    }

    func store(_ policy: RetentionPolicy) -> BackupStore {
        BackupStore(directory: dir, requireMount: "", trustedKeys: [ReceiverHarness.agentKey.publicKey], retention: policy)
    }
}

struct Killed: Error {}

final class PruneTests: XCTestCase {
    let now = Timestamp.date("2026-11-30T12:00:00Z")!
    let keepTwo = RetentionPolicy(keepLast: 2, minAge: RetentionDuration(), minKeep: 0)

    // MARK: config

    func testRetentionConfigKeysAndTheirErrors() throws {
        let path = try temporaryDirectory() + "/receiver.toml"
        func load(_ text: String) throws -> ReceiverConfig {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return try ReceiverConfig.load(path: path)
        }
        let c = try load("""
            trusted_agent_keys = []
            [retention]
            keep_last = 3
            keep_hourly = 24
            keep_daily = 7
            keep_weekly = 5
            keep_monthly = 12
            keep_yearly = 2
            keep_within = "1y2m"
            min_age = "36h"
            min_keep = 0
            """)
        XCTAssertEqual(c.retention, RetentionPolicy(keepLast: 3, keepHourly: 24, keepDaily: 7, keepWeekly: 5, keepMonthly: 12, keepYearly: 2,
                                                    keepWithin: RetentionDuration(years: 1, months: 2), minAge: RetentionDuration(hours: 36), minKeep: 0))
        XCTAssertEqual(try load("").retention, RetentionPolicy(), "no [retention]: no policy, floors at their defaults")
        XCTAssertFalse(try load("").retention.isConfigured)
        let errors: [(String, String)] = [
            ("[retention]\nkeep_dayly = 7\n", "unknown key \"retention.keep_dayly\""),
            ("[retention]\nkeep_daily = \"7\"\n", "\"retention.keep_daily\" must be an integer"),
            ("[retention]\nkeep_daily = -1\n", "retention.keep_daily must be 0…1000000"),
            ("[retention]\nmin_keep = 1000001\n", "retention.min_keep must be 0…1000000"),
            ("[retention]\nkeep_within = \"30 days\"\n", "retention.keep_within = \"30 days\" is not a duration"),
            ("[retention]\nkeep_within = 30\n", "must be a string"),
            ("[retention]\nkeep_within = \"0d\"\n", "retention.keep_within must be longer than 0"),
            ("[retention]\nmin_age = \"1m1y\"\n", "retention.min_age = \"1m1y\" is not a duration"),
        ]
        for (text, message) in errors {
            XCTAssertThrowsError(try load(text), text) { error in
                let e = error as? ConfigError
                XCTAssertTrue(e?.located.contains(message) == true, "\(text): \(error)")
                XCTAssertNotNil(e?.line, text)
                XCTAssertFalse(e?.hint.isEmpty ?? true)
            }
        }
        XCTAssertEqual(try load("[retention]\nmin_age = \"0h\"\n").retention.minAge, RetentionDuration(), "no min_age floor is allowed")
    }

    func testTheDefaultsTextReadsBackAsTheDefaults() throws {
        let path = try temporaryDirectory() + "/receiver.toml"
        try ReceiverConfig.defaultsText.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(try ReceiverConfig.load(path: path), ReceiverConfig())
        for key in ["keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly", "keep_within", "min_age", "min_keep"] {
            XCTAssertTrue(ReceiverConfig.defaultsText.contains("#\(key) = "), key)
        }
        // Every commented default, uncommented, is valid.
        let uncommented = ReceiverConfig.defaultsText.split(separator: "\n").map { line -> String in
            line.hasPrefix("#keep_") || line.hasPrefix("#min_") ? String(line.dropFirst()) : String(line)
        }.joined(separator: "\n")
        try uncommented.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(try ReceiverConfig.load(path: path).retention.keepWithin, RetentionDuration(days: 30))
    }

    // MARK: prune

    func testAPruneRemovesWhatThePolicyRemovesManifestLastAndLogsEachRemoval() throws {
        let nas = try NASFixture()
        let names = try (1...5).map { try nas.signed(String(format: "2026-11-%02dT02:00:00Z", $0)) }
        try Data("half an upload".utf8).write(to: URL(fileURLWithPath: nas.path(names[0] + ".partial")))
        try nas.restoreTest(of: names[1], key: ReceiverHarness.otherKey)   // not trusted: no floor
        let log = Monitor<[String]>([])
        let plan = try nas.store(keepTwo).prune(dryRun: false, now: now, id: 1, log: { line in log.update { $0.append(line) } })
        XCTAssertEqual(plan.removals.map(\.backup.name), [names[2], names[1], names[0]])
        XCTAssertEqual(nas.files(), [BackupStore.manifestName(for: names[3]), names[3], BackupStore.manifestName(for: names[4]), names[4],
                                     names[0] + ".partial", "receipts"].sorted(), "partials and receipts are never touched")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: nas.dir + "/receipts"), ["restore-test-1.json"])
        let lines = log.read { $0 }
        XCTAssertEqual(lines.first, "prune: removing 3 of 5 backups (policy: keep_last 2; min_age 0h, min_keep 0)")
        for name in names.prefix(3) {
            XCTAssertTrue(lines.contains("pruned \(name) (\(NASFixture.bytes.count) bytes): no rule, floor or pin keeps it under keep_last 2; min_age 0h, min_keep 0"), "\(lines)")
        }
    }

    func testADryRunAndTheRealRunDecideTheSame() throws {
        let nas = try NASFixture()
        for day in 1...20 { try nas.signed(String(format: "2026-11-%02dT%02d:00:00Z", day, day % 24)) }
        try nas.handMade("2026-11-21T09:30:00Z")
        try nas.signed("2026-11-22T02:00:00Z", corrupt: true)
        try nas.restoreTest(of: NASFixture.name("2026-11-03T03:00:00Z"))
        let store = nas.store(RetentionPolicy(keepDaily: 3, keepWeekly: 2, minAge: RetentionDuration(days: 2), minKeep: 2))
        let before = nas.files()
        let dry = try store.prune(dryRun: true, now: now, id: 1, log: { _ in })
        XCTAssertEqual(nas.files(), before, "a dry run changes nothing")
        let real = try store.prune(dryRun: false, now: now, id: 2, log: { _ in })
        XCTAssertEqual(dry, real)
        XCTAssertFalse(real.removals.isEmpty)
        XCTAssertEqual(Set(nas.files().filter(ArtifactName.isValid)), Set(real.decisions.filter(\.keep).map(\.backup.name)))
    }

    /// A prune killed before any step of any removal: what is kept stays whole, nothing half-removed
    /// is ever listed, and the next `list` clears the leftovers and the next prune ends where an
    /// uninterrupted one would have.
    func testAPruneKilledBetweenAnyTwoStepsLosesNothingAndIsFinishedNextTime() throws {
        func lay() throws -> (NASFixture, [String]) {
            let nas = try NASFixture()
            let names = try (1...5).map { try nas.signed(String(format: "2026-11-%02dT02:00:00Z", $0)) }
            try nas.handMade("2026-11-01T09:30:00Z")
            try Data("a pin".utf8).write(to: URL(fileURLWithPath: nas.path(BackupStore.pinName(for: names[2]))))
            try Data("partial".utf8).write(to: URL(fileURLWithPath: nas.path(names[0] + ".partial")))
            return (nas, names)
        }
        let (reference, _) = try lay()
        _ = try reference.store(keepTwo).prune(dryRun: false, now: now, id: 1, log: { _ in })
        let expected = reference.files()
        XCTAssertEqual(expected.filter(ArtifactName.isValid).count, 3, "two by keep_last, one by its pin")

        for victim in 0..<3 {
            for (index, step) in PruneStep.allCases.enumerated() {
                let (nas, names) = try lay()
                let removals = [names[1], NASFixture.name("2026-11-01T09:30:00Z"), names[0]]
                let target = removals[victim]
                let label = "killed before \"\(step.rawValue)\" of removal \(victim + 1) (\(target))"
                XCTAssertThrowsError(try nas.store(keepTwo).prune(dryRun: false, now: now, id: 1, log: { _ in }) { s, name in
                    if s == step && name == target { throw Killed() }
                }, label)
                for kept in [names[4], names[3], names[2]] {
                    XCTAssertTrue(nas.exists(kept) && nas.exists(BackupStore.manifestName(for: kept)), "\(label): \(kept) is whole")
                }
                XCTAssertTrue(nas.exists(BackupStore.pinName(for: names[2])), label)
                let store = nas.store(keepTwo)
                for listed in try store.list(offset: 0, limit: 1000).page.map(\.name) {
                    XCTAssertTrue(try store.verify(listed, id: 1).ok, "\(label): \(listed) is listed, so it must be whole")
                }
                if index % 2 == 0 {
                    // The next list clears the leftovers (a session's list at offset 0)…
                    let receiver = try InProcessReceiver(directory: nas.dir, retention: keepTwo)
                    _ = try receiver.client.call(ListRequest(id: receiver.client.makeID()), expecting: ListResult.self)
                    receiver.client.close()
                    XCTAssertFalse(nas.files().contains { $0.hasSuffix(".pruning") }, label)
                    for manifest in nas.files() where manifest.hasSuffix(".json") {
                        XCTAssertTrue(nas.exists(String(manifest.dropLast(5)) + ArtifactName.suffix), "\(label): orphan \(manifest) left")
                    }
                }
                // …and the next prune ends where an uninterrupted one ends.
                _ = try nas.store(keepTwo).prune(dryRun: false, now: now, id: 2, log: { _ in })
                XCTAssertEqual(nas.files(), expected, label)
            }
        }
    }

    func testLeftoversOfAnInterruptedPruneAreCleanedAndNothingElse() throws {
        let nas = try NASFixture()
        let kept = try nas.signed("2026-11-05T02:00:00Z")
        let gone = NASFixture.name("2026-11-04T02:00:00Z")
        for file in [BackupStore.pruningName(for: gone), BackupStore.manifestName(for: gone), BackupStore.pinName(for: gone),
                     gone + ".partial", "notes.json", ".hidden.pruning", BackupStore.pinName(for: kept)] {
            try Data("x".utf8).write(to: URL(fileURLWithPath: nas.path(file)))
        }
        XCTAssertEqual(nas.store(RetentionPolicy()).finishInterruptedPrunes(log: { _ in }), 3)
        XCTAssertEqual(nas.files(), [".hidden.pruning", BackupStore.manifestName(for: kept), BackupStore.pinName(for: kept), kept, gone + ".partial",
                                     "notes.json"].sorted())
    }

    func testTheFloorsHoldOnTheNAS() throws {
        let nas = try NASFixture()
        let first = try nas.signed("2026-11-01T02:00:00Z")
        let tested = try nas.signed("2026-11-02T02:00:00Z")
        let pinned = try nas.signed("2026-11-03T02:00:00Z")
        let verified = try nas.signed("2026-11-04T02:00:00Z")
        let handMade = try nas.handMade("2026-11-05T02:00:00Z")
        let corrupt = try nas.signed("2026-11-06T02:00:00Z", corrupt: true)
        try nas.restoreTest(of: tested, file: "restore-test-a.json")
        try nas.restoreTest(of: first, key: ReceiverHarness.otherKey, file: "restore-test-b.json")
        let receiver = try InProcessReceiver(directory: nas.dir, now: now, retention: RetentionPolicy(keepLast: 1, minAge: RetentionDuration(), minKeep: 0))
        _ = try receiver.client.call(PinRequest(id: receiver.client.makeID(), name: pinned, pinned: true, reason: "before the 2026.2 upgrade",
                                                requestedBy: RequestedBy(user: "alice", host: "laptop")), expecting: Done.self)
        let result = try receiver.client.call(PruneRequest(id: receiver.client.makeID(), dryRun: false), expecting: PruneResult.self)
        let reasons = Dictionary(uniqueKeysWithValues: result.decisions.map { ($0.name, $0.reasons) })
        XCTAssertEqual(reasons[corrupt], ["last 1"])
        XCTAssertEqual(reasons[handMade], ["floor: newest verified (unsigned)"])
        XCTAssertEqual(reasons[verified], ["floor: newest verified"])
        XCTAssertEqual(reasons[pinned], ["pinned: before the 2026.2 upgrade"])
        XCTAssertEqual(reasons[tested], ["floor: newest restore test"])
        XCTAssertEqual(reasons[first], [], "its receipt is signed by a key the NAS does not trust")
        XCTAssertEqual(result.removed, 1)
        XCTAssertFalse(nas.exists(first))
        XCTAssertEqual(result.keptBy.map { "\($0.rule) \($0.kept)" },
                       ["last 1", "newest verified 1", "newest verified unsigned 1", "restore test 1", "pinned 1"])
    }

    /// doctor: WARN (never FAIL) with no policy, and when the recent backups would fill the volume
    /// within 30 days after pruning. Sparse files stand in for backups a quarter of the free space each.
    func testDoctorWarnsWithoutAPolicyAndWhenTheNASWouldFill() throws {
        let nas = try NASFixture()
        let now = Date()
        guard let free = nas.store(RetentionPolicy()).space()?.free, free > 1 << 20 else { throw XCTSkip("cannot tell the free space of \(nas.dir)") }
        for day in 1...5 {
            let name = ArtifactName.make(at: now.addingTimeInterval(Double(-day) * 86_400))
            XCTAssertTrue(FileManager.default.createFile(atPath: nas.path(name), contents: nil))
            XCTAssertEqual(truncate(nas.path(name), off_t(free / 4)), 0)
        }
        func checks(_ policy: RetentionPolicy) -> [String: Check] {
            Dictionary(uniqueKeysWithValues: nas.store(policy).probe(configSource: "test", now: now).map { ($0.name, $0) })
        }
        let none = checks(RetentionPolicy())
        XCTAssertEqual(none["retention"]?.warning, true)
        XCTAssertEqual(none["retention"]?.ok, true, "a warning, not a failure")
        XCTAssertTrue(none["retention"]?.detail.contains("nothing is ever deleted") == true)
        XCTAssertEqual(none["space projection"]?.warning, true, none["space projection"]?.detail ?? "")
        XCTAssertTrue(none["space projection"]?.detail.contains("projected to fill in about") == true, none["space projection"]?.detail ?? "")
        XCTAssertEqual(none["space projection"]?.ok, true)
        let steady = checks(RetentionPolicy(keepDaily: 3))
        XCTAssertNil(steady["retention"]?.warning)
        XCTAssertEqual(steady["retention"]?.detail, "keep_daily 3; min_age 1d, min_keep 3")
        XCTAssertNil(steady["space projection"]?.warning, steady["space projection"]?.detail ?? "")
        XCTAssertTrue(steady["space projection"]?.detail.contains("does not fill within 30 days") == true, steady["space projection"]?.detail ?? "")
    }

    // MARK: the protocol

    /// 10,000 backups: every page of the plan fits a frame, the pages join up to the whole plan, and
    /// a later page is the same plan (never a new prune).
    func testTenThousandBackupsArePagedWithinAFrame() throws {
        let nas = try NASFixture()
        let dir = nas.dir
        let newest = Timestamp.date("2027-01-15T02:00:00Z")!
        try nas.signed("2027-01-15T02:00:00Z")   // the newest verifies: the verify walk stops there
        for i in 1..<10_000 {
            let name = ArtifactName.make(at: newest.addingTimeInterval(Double(-i * 3_600)))
            guard FileManager.default.createFile(atPath: dir + "/" + name, contents: nil) else { return XCTFail("cannot create \(name)") }
        }
        let policy = RetentionPolicy(keepDaily: 7, keepWeekly: 4, keepMonthly: 6)
        let receiver = try InProcessReceiver(directory: dir, now: newest.addingTimeInterval(3600), retention: policy)
        let client = receiver.client
        XCTAssertThrowsError(try client.call(PruneRequest(id: client.makeID(), dryRun: true, offset: 5), expecting: PruneResult.self)) {
            XCTAssertEqual(($0 as? RemoteError)?.code, .badRequest, "no plan yet: \($0)")
        }
        var decisions: [PruneDecision] = []
        var pages: [PruneResult] = []
        repeat {
            let page = try client.call(PruneRequest(id: client.makeID(), dryRun: true, offset: decisions.count), expecting: PruneResult.self)
            XCTAssertLessThanOrEqual(MessageCodec.encode(Message(page)).count, ProtocolLimits.maxFramePayload / 2 + 4096)
            XCTAssertEqual(page.offset, decisions.count)
            XCTAssertFalse(page.decisions.isEmpty)
            decisions += page.decisions
            pages.append(page)
        } while decisions.count < pages[0].total && pages.count < 100
        XCTAssertEqual(pages[0].total, 10_000)
        XCTAssertEqual(decisions.count, 10_000)
        XCTAssertEqual(Set(decisions.map(\.name)).count, 10_000)
        XCTAssertEqual(decisions.map(\.name), decisions.map(\.name).sorted(by: >), "newest first")
        XCTAssertEqual(decisions.filter(\.keep).count, pages[0].kept)
        XCTAssertEqual(pages[0].removed, 10_000 - pages[0].kept)
        XCTAssertGreaterThanOrEqual(pages.count, 10)
        XCTAssertTrue(pages.allSatisfy { $0.kept == pages[0].kept && $0.dryRun })
        XCTAssertEqual(pages[0].policy.text, policy.description)
        XCTAssertThrowsError(try client.call(PruneRequest(id: client.makeID(), dryRun: false, offset: 1000), expecting: PruneResult.self),
                             "pages of a real prune come only from a real prune at offset 0")

    }

    /// A real prune answers with its first page; later pages are of that prune, and remove nothing more.
    func testLaterPagesOfARealPruneAreOfThatPrune() throws {
        let nas = try NASFixture()
        for day in 1...9 { try nas.signed(String(format: "2026-11-%02dT02:00:00Z", day)) }
        let receiver = try InProcessReceiver(directory: nas.dir, now: now, retention: keepTwo)
        let c = receiver.client
        let real = try c.call(PruneRequest(id: c.makeID(), dryRun: false, limit: 4), expecting: PruneResult.self)
        XCTAssertEqual([real.total, real.kept, real.removed, real.decisions.count], [9, 2, 7, 4])
        XCTAssertFalse(real.dryRun)
        let second = try c.call(PruneRequest(id: c.makeID(), dryRun: false, offset: 4, limit: 4), expecting: PruneResult.self)
        let third = try c.call(PruneRequest(id: c.makeID(), dryRun: false, offset: 8, limit: 4), expecting: PruneResult.self)
        XCTAssertEqual((real.decisions + second.decisions + third.decisions).map(\.keep), [true, true] + Array(repeating: false, count: 7))
        XCTAssertEqual(nas.files().filter(ArtifactName.isValid).count, 2)
        XCTAssertThrowsError(try c.call(PruneRequest(id: c.makeID(), dryRun: true, offset: 4), expecting: PruneResult.self),
                             "a dry run's page needs a dry run's plan") { XCTAssertEqual(($0 as? RemoteError)?.code, .badRequest) }
        let dry = try c.call(PruneRequest(id: c.makeID(), dryRun: true), expecting: PruneResult.self)
        XCTAssertEqual([dry.total, dry.kept, dry.removed], [2, 2, 0], "nothing more to remove")
    }

    func testPinAndUnpin() throws {
        let nas = try NASFixture()
        let name = try nas.signed("2026-11-05T02:00:00Z")
        let receiver = try InProcessReceiver(directory: nas.dir, now: now)
        let c = receiver.client
        func pin(_ n: String, _ pinned: Bool, _ reason: String?) throws -> Done {
            try c.call(PinRequest(id: c.makeID(), name: n, pinned: pinned, reason: reason, requestedBy: RequestedBy(user: "alice", host: "laptop")),
                       expecting: Done.self)
        }
        XCTAssertEqual(try pin(name, true, "audit").detail, "pinned \(name): audit")
        let file = try MessageCodec.decodeDocument(Pin.self, from: FileIO.readFile(nas.path(BackupStore.pinName(for: name)), limit: 4096))
        XCTAssertEqual(file, Pin(name: name, reason: "audit", pinnedAt: "2026-11-30T12:00:00Z", by: "alice@laptop"))
        XCTAssertEqual(try pin(name, true, "audit, then the upgrade").detail, "pinned \(name): audit, then the upgrade", "pinning again replaces the reason")
        let listed = try c.call(ListRequest(id: c.makeID()), expecting: ListResult.self)
        XCTAssertEqual(listed.artifacts.first?.pin?.reason, "audit, then the upgrade")
        XCTAssertEqual(try pin(name, false, nil).detail, "unpinned \(name)")
        XCTAssertEqual(try pin(name, false, nil).detail, "\(name) was not pinned")
        XCTAssertNil(try c.call(ListRequest(id: c.makeID()), expecting: ListResult.self).artifacts.first?.pin)
        for (n, reason, code) in [(NASFixture.name("2026-11-06T02:00:00Z"), "x", ErrorCode.notFound), ("../etc/passwd", "x", .badRequest),
                                  (name, nil, .badRequest)] as [(String, String?, ErrorCode)] {
            XCTAssertThrowsError(try pin(n, true, reason)) { XCTAssertEqual(($0 as? RemoteError)?.code, code, "\(n): \($0)") }
        }
        XCTAssertEqual(nas.files(), [BackupStore.manifestName(for: name), name])
        // A pin file that does not read as a pin still pins.
        try Data("{garbage".utf8).write(to: URL(fileURLWithPath: nas.path(BackupStore.pinName(for: name))))
        let plan = try nas.store(RetentionPolicy(keepLast: 1, minAge: RetentionDuration(), minKeep: 0)).prune(dryRun: true, now: now, id: 1, log: { _ in })
        XCTAssertEqual(plan.decisions.first?.reasons.map(\.text).last, "pinned: (authentik-db-2026-11-05T020000Z.pin does not read as a pin)")
    }
}
