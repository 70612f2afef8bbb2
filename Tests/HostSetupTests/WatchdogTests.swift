import Foundation
import XCTest

/// deploy/watchdog, which deploy/test runs the suite under: a hung test fails the run fast, named,
/// and everything the run started is stopped (a child that ignores TERM included).
final class WatchdogTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs deploy/watchdog on a fake XCTest run (a bash script); returns its status and output.
    func watchdog(_ script: String, limit: Int) throws -> (status: Int32, output: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("watchdog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fake = dir.appendingPathComponent("fake-run").path
        try ("#!/bin/bash\n" + script).write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let p = Process()
        p.executableURL = Self.repo.appendingPathComponent("deploy/watchdog")
        p.arguments = [fake]
        p.environment = ["PATH": "/usr/bin:/bin", "AKBACKUP_TEST_LIMIT": String(limit)]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    func testAHungTestIsNamedAndItsWholeProcessGroupIsStopped() throws {
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("watchdog-child-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let r = try watchdog("""
            echo "Test Case 'Fake.testFirst' started at now"
            echo "Test Case 'Fake.testFirst' passed (0.1 seconds)"
            echo "Test Case 'Fake.testHangs' started at now"
            trap '' TERM
            sleep 600 &
            echo $! > \(pidFile)
            wait
            """, limit: 1)
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("deploy/test: error: Fake.testHangs ran longer than 1s (AKBACKUP_TEST_LIMIT): stopped the run"), r.output)
        XCTAssertTrue(r.output.contains("hint: "), r.output)
        let child = try XCTUnwrap(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        // Gone, or a zombie waiting for a reaper (this sandbox's init may not reap): not running.
        let stat = (try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8)) ?? ""
        let state = stat.range(of: ") ").map { stat[$0.upperBound...].prefix(1) } ?? ""
        XCTAssertTrue(state == "" || state == "Z", "the hung run's child was stopped too: \(stat)")
    }

    func testAFinishedRunKeepsItsStatusAndIsCounted() throws {
        let r = try watchdog("""
            echo "Test Case 'Fake.testA' started at now"
            echo "Test Case 'Fake.testA' passed (0.1 seconds)"
            echo "Test Case 'Fake.testB' started at now"
            echo "Test Case 'Fake.testB' failed (0.1 seconds)"
            echo "	 Executed 3 tests, with 1 test skipped and 1 failure (0 unexpected) in 0.2 (0.2) seconds"
            exit 3
            """, limit: 60)
        XCTAssertEqual(r.status, 3, r.output)
        XCTAssertTrue(r.output.hasSuffix("1 passed, 1 failed, 1 skipped\n"), r.output)
        XCTAssertFalse(r.output.contains("error:"), r.output)
    }
}
