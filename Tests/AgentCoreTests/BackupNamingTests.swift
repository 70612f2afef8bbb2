@testable import AgentCore
import AgentHarness
import AKProtocol
import Foundation
import XCTest

final class BackupNamingTests: XCTestCase {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000.25)   // 2027-01-15T08:00:00.25Z

    func testNoWaitWithoutALastNameOrWhenNowIsLater() {
        XCTAssertEqual(BackupNaming.wait(after: nil, now: t0), 0)
        XCTAssertEqual(BackupNaming.wait(after: ArtifactName.make(at: t0.addingTimeInterval(-1)), now: t0), 0)
        XCTAssertEqual(BackupNaming.wait(after: "not-a-name", now: t0), 0)
    }

    func testWaitsIntoTheNextSecondWhenNowWouldRepeatTheLastName() {
        XCTAssertEqual(BackupNaming.wait(after: ArtifactName.make(at: t0), now: t0), 0.75, accuracy: 0.001)
        XCTAssertEqual(BackupNaming.wait(after: ArtifactName.make(at: t0.addingTimeInterval(1)), now: t0), 1.75, accuracy: 0.001)
    }

    func testAClockSetBackFarIsNotWaitedFor() {
        XCTAssertEqual(BackupNaming.wait(after: ArtifactName.make(at: t0.addingTimeInterval(3600)), now: t0), 0)
    }

    /// Two backups in the same second (a fast scale-1 backup) used to get the same name; the NAS
    /// then refused the second one ("already exists").
    func testConsecutiveNamesAreStrictlyIncreasingWithinOneSecond() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("akbackup-naming-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: state) }
        var now = t0
        var slept: [TimeInterval] = []
        let sleep: (TimeInterval) -> Void = { slept.append($0); now = now.addingTimeInterval($0) }
        var names: [String] = []
        for _ in 0..<3 {
            names.append(BackupNaming.next(stateDir: state, sleep: sleep, clock: { now }).name)
            now = now.addingTimeInterval(0.1)   // each backup takes a tenth of a second
        }
        XCTAssertEqual(names, names.sorted())
        XCTAssertEqual(Set(names).count, 3, "\(names)")
        XCTAssertEqual(slept.count, 2)
    }
}
