import AKProtocol
import Crypto
import Foundation
import XCTest

/// The NAS's own retention ([retention] in its config), on the lab's small NAS (`nas-small`, a 64 MiB
/// tmpfs): two years of backups made as the agent would have signed them (hard links of one real
/// artifact, each with its own manifest signed with infra-core's key), pruned by the only request a
/// controller has, which names nothing.
final class RetentionE2ETests: XCTestCase {
    typealias F = BackupFixture
    let config = "/etc/akbackup/receiver-small.toml"
    var savedConfig = Data()

    override func setUpWithError() throws {
        try Lab.require()
        removeWhatThisTestStores()
        try F.emptySmall()
        savedConfig = try Data(contentsOf: URL(fileURLWithPath: config))
    }

    override func tearDownWithError() throws {
        try? savedConfig.write(to: URL(fileURLWithPath: config))
        try? F.emptySmall()
    }

    func setPolicy(_ lines: String) throws {
        try (String(decoding: savedConfig, as: UTF8.self) + "\n[retention]\n" + lines + "\n").write(toFile: config, atomically: true, encoding: .utf8)
    }

    /// infra-core's signing key (the test has root there; the controller never has it).
    func agentKey() throws -> Curve25519.Signing.PrivateKey {
        let text = try String(contentsOfFile: "/var/lib/akbackup-agent/signing.key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return try Curve25519.Signing.PrivateKey(rawRepresentation: try XCTUnwrap(Data(base64Encoded: text)))
    }

    /// `count` backups spread over `days` days before yesterday, signed by the agent; returns their names.
    /// With `untilFull`, copies are made until the disk is full (at most `count`).
    func plantHistory(from real: String, count: Int, days: Double, hardLinks: Bool = true, untilFull: Bool = false) throws -> [String] {
        let dir = F.smallDir
        let manifestBytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(manifestName(real))")))
        let template = try MessageCodec.decodeDocument(Manifest.self, from: manifestBytes)
        let key = try agentKey()
        var names: [String] = []
        for i in 0..<count {
            let when = Date().addingTimeInterval(-86400 * (1.5 + days * Double(i) / Double(count)))
            let name = ArtifactName.make(at: when)
            var m = template
            m.name = name
            try m.sign(with: key)
            let path = "\(dir)/\(name)"
            do {
                if hardLinks { try FileManager.default.linkItem(atPath: "\(dir)/\(real)", toPath: path) }
                else { try FileManager.default.copyItem(atPath: "\(dir)/\(real)", toPath: path) }
                try MessageCodec.canonicalEncoder().encode(m).write(to: URL(fileURLWithPath: "\(dir)/\(manifestName(name))"))
            } catch where untilFull && !hardLinks {
                // The disk is full: drop this half-written one; the NAS now has less room than a backup.
                for p in [path, "\(dir)/\(manifestName(name))"] { try? FileManager.default.removeItem(atPath: p) }
                break
            }
            for p in [path, "\(dir)/\(manifestName(name))"] { _ = try Lab.run(["chown", "\(Lab.nasUser):\(Lab.nasUser)", p]) }
            names.append(name)
        }
        return names
    }

    func manifestName(_ artifact: String) -> String { String(artifact.dropLast(".sql.gz".count)) + ".json" }

    func prune(_ extra: [String]) throws -> (code: Int32, nas: [String: Any]) {
        let r = try Lab.runAsOperator([Lab.controllerBinary, "prune", "--json", "--config", try F.configFile(receiver: "nas-small")] + extra, timeout: 300)
        let object = try RestoreFixture.jsonObject(in: r)
        return (r.status, try XCTUnwrap(object["nas"] as? [String: Any], r.description))
    }

    func removals(_ nas: [String: Any]) -> Set<String> {
        Set((nas["decisions"] as? [[String: Any]] ?? []).filter { ($0["keep"] as? Bool) == false }.compactMap { $0["name"] as? String })
    }

    func artifactsOnNAS() -> Set<String> { Set(F.smallFiles().filter(ArtifactName.isValid)) }

    func testTheDryRunIsExactlyWhatThePruneRemovesAndEveryKeptBackupStaysWhole() throws {
        let real = try F.smallBackup()
        let planted = try plantHistory(from: real, count: 300, days: 730)
        try setPolicy("keep_daily = 7\nkeep_weekly = 4\nkeep_monthly = 12\nkeep_yearly = 2")
        let before = artifactsOnNAS()
        XCTAssertEqual(before.count, 301)

        let dry = try prune(["--dry-run"])
        XCTAssertEqual(dry.code, 0)
        let planned = removals(dry.nas)
        XCTAssertFalse(planned.isEmpty)
        XCTAssertFalse(planned.contains(real), "the newest verified backup is a floor")
        XCTAssertEqual(artifactsOnNAS(), before, "a dry run removes nothing")

        let real2 = try prune([])
        XCTAssertEqual(real2.code, 0)
        XCTAssertEqual(removals(real2.nas), planned, "the prune removed exactly what the dry run showed")
        let after = artifactsOnNAS()
        XCTAssertEqual(after, before.subtracting(planned))
        for name in after { XCTAssertTrue(FileManager.default.fileExists(atPath: "\(F.smallDir)/\(manifestName(name))"), "\(name) kept whole") }
        XCTAssertEqual(F.smallFiles().filter { $0.hasSuffix(".pruning") || $0.hasPrefix(".") }, [], "nothing half-removed")
        XCTAssertLessThanOrEqual(after.count, 7 + 4 + 12 + 2 + 3 + 1, "the policy's buckets, the floors and the real one")
        let list = try Lab.runAsOperator([Lab.controllerBinary, "list", "--json", "--config", try F.configFile(receiver: "nas-small")])
        XCTAssertTrue(list.ok, list.description)
        _ = planted
    }

    /// A prune killed between its steps leaves an artifact renamed away, a manifest or a pin whose
    /// artifact is gone: the next session cleans them, and no kept backup is touched.
    func testWhatAKilledPruneLeavesIsCleanedByTheNextListAndNothingKeptIsLost() throws {
        let real = try F.smallBackup()
        let planted = try plantHistory(from: real, count: 3, days: 3)
        let dir = F.smallDir
        let half = planted[2]
        try FileManager.default.moveItem(atPath: "\(dir)/\(half)", toPath: "\(dir)/.\(half).pruning")   // renamed away, not yet deleted
        let orphan = planted[1]
        try FileManager.default.removeItem(atPath: "\(dir)/\(orphan)")                               // artifact deleted, manifest left
        let kept = [real, planted[0]]
        let list = try Lab.runAsOperator([Lab.controllerBinary, "list", "--config", try F.configFile(receiver: "nas-small")])
        XCTAssertTrue(list.ok, list.description)
        XCTAssertFalse(list.stdout.contains(half) || list.stdout.contains(orphan), list.stdout)
        XCTAssertEqual(F.smallFiles().filter { $0.contains(half) || $0.contains(String(orphan.dropLast(7))) }, [], "leftovers cleaned")
        for name in kept {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/\(name)") && FileManager.default.fileExists(atPath: "\(dir)/\(manifestName(name))"))
        }
    }

    /// The small NAS fills up; a backup fails for room; the policy frees it; the next backup fits.
    func testAFullNASIsFreedByThePolicyAndTheNextBackupFits() throws {
        let real = try F.smallBackup()
        let size = try XCTUnwrap((try FileManager.default.attributesOfItem(atPath: "\(F.smallDir)/\(real)")[.size] as? NSNumber)?.int64Value)
        // Room for a couple of dozen backups whatever their size, then history until the disk is full.
        let room = 24 * (size + 8192)
        if try XCTUnwrap(freeBytes(F.smallDir)) > room { _ = try F.fillSmall(leaving: room) }
        let planted = try plantHistory(from: real, count: 60, days: 60, hardLinks: false, untilFull: true)
        XCTAssertGreaterThan(planted.count, 3)
        XCTAssertLessThan(try XCTUnwrap(freeBytes(F.smallDir)), size, "the NAS has less room than one more backup")
        let failed = try Lab.runAsOperator([Lab.controllerBinary, "backup", "--no-prune", "--config", try F.configFile(receiver: "nas-small")], timeout: 300)
        XCTAssertNotEqual(failed.status, 0, "the full NAS refuses the backup: \(failed.description)")
        try setPolicy("keep_last = 3")
        let pruned = try prune([])
        XCTAssertEqual(pruned.code, 0)
        XCTAssertGreaterThan(removals(pruned.nas).count, 0)
        let next = try Lab.runAsOperator([Lab.controllerBinary, "backup", "--config", try F.configFile(receiver: "nas-small")], timeout: 300)
        XCTAssertEqual(next.status, 0, next.description)
        XCTAssertEqual(F.partials(), [])
    }

    func freeBytes(_ path: String) -> Int64? {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { return nil }
        return Int64(st.f_bavail) * Int64(st.f_frsize)
    }
}
