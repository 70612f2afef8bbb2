@testable import ReceiverCore
import AKProtocol
import XCTest

final class BackupStoreTests: XCTestCase {
    func testProbeOfExistingWritableDirectory() throws {
        let dir = try temporaryDirectory()
        let checks = BackupStore(directory: dir, trustedKeys: [ReceiverHarness.agentKey.publicKey]).probe(configSource: "test")
        XCTAssertTrue(checks.allSatisfy(\.ok), "\(checks)")
        XCTAssertEqual(checks.map(\.name), ["receiver config", "trusted agent keys", "backup directory", "writable", "free space"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [], "the write probe leaves nothing behind")
    }

    func testNoTrustedKeyAndAMissingMountFailTheProbeWithHints() throws {
        let dir = try temporaryDirectory()
        let checks = BackupStore(directory: dir, requireMount: "/", trustedKeys: []).probe(configSource: "test")
        let keys = try XCTUnwrap(checks.first { $0.name == "trusted agent keys" })
        XCTAssertFalse(keys.ok)
        XCTAssertTrue(keys.hint?.contains("akbackup-receiver trust-agent-key") == true)
        let notMounted = BackupStore(directory: dir, requireMount: dir, trustedKeys: []).probe(configSource: "test")
        let mount = try XCTUnwrap(notMounted.first { $0.name == "mount" })
        XCTAssertFalse(mount.ok, "\(dir) is not a mount point")
        XCTAssertEqual(BackupStore(directory: dir, requireMount: "/").mountProblem(), nil, "/ is always mounted")
        XCTAssertEqual(BackupStore(directory: "/srv/x", requireMount: "/volume1").mountProblem(), "the backup directory /srv/x is not under /volume1")
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
