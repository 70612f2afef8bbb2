@testable import ReceiverCore
import XCTest

final class BackupStoreTests: XCTestCase {
    func testProbeOfExistingWritableDirectory() throws {
        let dir = try temporaryDirectory()
        let checks = BackupStore(directory: dir).probe(configSource: "test")
        XCTAssertTrue(checks.allSatisfy(\.ok), "\(checks)")
        XCTAssertEqual(checks.map(\.name), ["receiver config", "backup directory", "writable", "free space"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [], "the write probe leaves nothing behind")
    }

    func testAbsentDirectoryThatCanBeCreated() throws {
        let dir = try temporaryDirectory() + "/volume1/backups/apps/authentik"
        let checks = BackupStore(directory: dir).probe(configSource: "test")
        let check = try XCTUnwrap(checks.first { $0.name == "backup directory" })
        XCTAssertTrue(check.ok)
        XCTAssertTrue(check.detail.contains("will be created"), check.detail)
    }

    func testPathThatIsAFileFails() throws {
        let file = try temporaryDirectory() + "/file"
        FileManager.default.createFile(atPath: file, contents: Data())
        let checks = BackupStore(directory: file).probe(configSource: "test")
        let check = try XCTUnwrap(checks.first { $0.name == "backup directory" })
        XCTAssertFalse(check.ok)
        XCTAssertNotNil(check.hint)
    }

    func testRelativeDirectoryInConfigIsRefused() throws {
        let path = try temporaryDirectory() + "/receiver.toml"
        try "directory = \"backups\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ReceiverConfig.load(path: path)) { XCTAssertTrue("\($0)".contains("absolute"), "\($0)") }
    }
}

func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "akbackup-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
