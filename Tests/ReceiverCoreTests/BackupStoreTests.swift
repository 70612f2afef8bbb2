@testable import ReceiverCore
import AKProtocol
import XCTest

final class BackupStoreTests: XCTestCase {
    /// Every mount point counts, not just those in procfs's first page of mountinfo: a NAS has many
    /// mounts, and /volume1 late in the file read as "not mounted".
    func testMountPointsAreReadFromTheWholeMountinfo() throws {
        let fd = open("/proc/self/mountinfo", O_RDONLY)
        try XCTSkipIf(fd < 0, "no /proc")
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)   // small reads: the whole file whatever its size
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        let last = try XCTUnwrap(lines.last?.split(separator: " ")[4]).replacingOccurrences(of: "\\040", with: " ")
        XCTAssertTrue(BackupStore.mountPoints().contains(String(last)), "the last mount, \(last), is missing (\(bytes.count) bytes of mountinfo)")
        XCTAssertTrue(BackupStore.mountPoints().contains("/"))
    }

    func testProbeOfExistingWritableDirectory() throws {
        let dir = try temporaryDirectory()
        let checks = BackupStore(directory: dir, trustedKeys: [ReceiverHarness.agentKey.publicKey]).probe(configSource: "test")
        XCTAssertTrue(checks.allSatisfy(\.ok), "\(checks)")
        XCTAssertEqual(checks.map(\.name), ["receiver config", "trusted agent keys", "backup directory", "writable", "free space", "retention",
                                            "space projection"])
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
