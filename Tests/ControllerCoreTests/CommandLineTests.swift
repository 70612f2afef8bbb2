import Foundation
import ProcessRunner
import XCTest

/// The three programs as the operator meets them: a usage error exits 2 (as each `--help` says,
/// not ArgumentParser's 64) and reads as "error: …" then "hint: …".
final class CommandLineTests: XCTestCase {
    /// The programs SwiftPM built beside this test bundle.
    func program(_ name: String) throws -> String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if dir.lastPathComponent == "Contents" || dir.pathExtension == "xctest" { dir.deleteLastPathComponent() }
        let path = dir.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else { throw XCTSkip("\(path) is not built: swift build first") }
        return path
    }

    func testUsageErrorsExit2WithAHint() throws {
        for argv in [["akbackup", "--no-such-option"], ["akbackup", "restore", "--undo", "--replace", "a", "b"], ["akbackup", "frobnicate"],
                     ["akbackup-agent", "key", "--bogus"], ["akbackup-receiver", "trust-agent-key"]] {
            let r = try ChildProcess.run([try program(argv[0])] + argv.dropFirst(), timeout: 30)
            XCTAssertEqual(r.status, 2, "\(argv): \(r.stderrText)")
            let lines = r.stderrText.split(separator: "\n")
            XCTAssertEqual(lines.count, 2, "\(argv): \(r.stderrText)")
            XCTAssertTrue(lines.first?.hasPrefix("error: ") == true && lines.last?.hasPrefix("hint: ") == true, "\(argv): \(r.stderrText)")
        }
    }

    func testHelpAndVersionStillExit0() throws {
        for argv in [["akbackup", "--help"], ["akbackup", "restore", "--help"], ["akbackup-agent", "--version"], ["akbackup-receiver", "--help"]] {
            let r = try ChildProcess.run([try program(argv[0])] + argv.dropFirst(), timeout: 30)
            XCTAssertEqual(r.status, 0, "\(argv): \(r.stderrText)")
        }
    }
}
