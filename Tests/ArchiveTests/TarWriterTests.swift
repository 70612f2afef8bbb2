import Archive
import Foundation
import XCTest

/// The tar writer against GNU tar (Debian's `tar`, another implementation): what it lists and
/// unpacks is what was archived, byte for byte, with modes, numeric owners, mtimes and links.
final class TarWriterTests: XCTestCase {
    var work = ""

    override func setUpWithError() throws {
        work = NSTemporaryDirectory() + "archive-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: work) }

    func sh(_ argv: [String], in dir: String? = nil) throws -> (status: Int32, out: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        if let dir { p.currentDirectoryURL = URL(fileURLWithPath: dir) }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, out)
    }

    /// A tree like Authentik's media: binary files, a non-ASCII name, a name longer than ustar's 100
    /// bytes, a symlink leading out, an empty directory, modes 0600 and 0755.
    func makeTree(_ root: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/public/icons", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/empty", withIntermediateDirectories: true)
        try Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0 * 7) }).write(to: URL(fileURLWithPath: root + "/public/icons/app.png"))
        try Data("Größe – ünïcode".utf8).write(to: URL(fileURLWithPath: root + "/public/Übersicht ß.txt"))
        let long = String(repeating: "d", count: 60) + "/" + String(repeating: "n", count: 80) + ".svg"
        try fm.createDirectory(atPath: root + "/public/" + String(repeating: "d", count: 60), withIntermediateDirectories: true)
        try Data("<svg/>".utf8).write(to: URL(fileURLWithPath: root + "/public/" + long))
        try Data().write(to: URL(fileURLWithPath: root + "/public/empty-file"))
        try Data("secret".utf8).write(to: URL(fileURLWithPath: root + "/private.key"))
        chmod(root + "/private.key", 0o600)
        chmod(root + "/public/icons/app.png", 0o755)
        try fm.createSymbolicLink(atPath: root + "/public/latest.png", withDestinationPath: "icons/app.png")
        try fm.createSymbolicLink(atPath: root + "/public/outside", withDestinationPath: "/etc/passwd")
        var times = [timespec(tv_sec: 1_700_000_000, tv_nsec: 0), timespec(tv_sec: 1_700_000_000, tv_nsec: 0)]
        utimensat(AT_FDCWD, root + "/private.key", &times, 0)
    }

    func archive(_ root: String, prefix: String) throws -> (bytes: [UInt8], summary: TreeSummary) {
        var bytes: [UInt8] = []
        var writer = TarWriter(root: root, prefix: prefix) { bytes += $0 }
        let summary = try writer.archive()
        bytes += TarHeader.end
        return (bytes, summary)
    }

    func testGNUTarUnpacksExactlyTheTree() throws {
        let tree = work + "/media"
        try makeTree(tree)
        let (bytes, summary) = try archive(tree, prefix: "media")
        XCTAssertEqual(bytes.count % 512, 0)
        XCTAssertEqual(summary.files, 5)
        XCTAssertEqual(summary.symlinks, 2)
        XCTAssertEqual(summary.directories, 4)
        XCTAssertEqual(summary.bytes, 70_000 + Int64("Größe – ünïcode".utf8.count) + 6 + 0 + 6)
        try Data(bytes).write(to: URL(fileURLWithPath: work + "/a.tar"))

        let list = try sh(["tar", "--numeric-owner", "-tvf", work + "/a.tar"])
        XCTAssertEqual(list.status, 0, list.out)
        XCTAssertTrue(list.out.contains("media/public/outside -> /etc/passwd"), list.out)
        XCTAssertTrue(list.out.contains("-rw------- 0/0"), list.out)

        let out = work + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let x = try sh(["tar", "--numeric-owner", "-xpf", work + "/a.tar", "-C", out])
        XCTAssertEqual(x.status, 0, x.out)
        let diff = try sh(["diff", "-r", "--no-dereference", tree, out + "/media"])
        XCTAssertEqual(diff.status, 0, diff.out)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: out + "/media/public/outside"), "/etc/passwd", "a link stays a link")
        let attrs = try FileManager.default.attributesOfItem(atPath: out + "/media/private.key")
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertEqual((attrs[.modificationDate] as? Date)?.timeIntervalSince1970, 1_700_000_000)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/media/empty"))

        // The unpacked copy has the summary of the original: restore-test can check it without the archive.
        XCTAssertEqual(try archive(out + "/media", prefix: "media").summary, summary)
    }

    func testTheSummaryChangesWithOneByte() throws {
        let tree = work + "/media"
        try makeTree(tree)
        let before = try archive(tree, prefix: "media").summary
        XCTAssertEqual(try archive(tree, prefix: "media").summary, before, "the same tree, the same summary")
        try Data("secreT".utf8).write(to: URL(fileURLWithPath: tree + "/private.key"))
        XCTAssertNotEqual(try archive(tree, prefix: "media").summary.digest, before.digest)
    }

    func testDeviceFilesAndFIFOsAreRefusedByName() throws {
        let tree = work + "/media"
        try FileManager.default.createDirectory(atPath: tree + "/sub", withIntermediateDirectories: true)
        XCTAssertEqual(mkfifo(tree + "/sub/pipe", 0o600), 0)
        XCTAssertThrowsError(try archive(tree, prefix: "media")) { e in
            XCTAssertEqual(e as? TarError, .unsupported(path: "sub/pipe", kind: "FIFO"))
        }
    }

    func testARootThatIsALinkIsNotFollowed() throws {
        try FileManager.default.createDirectory(atPath: work + "/real", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: work + "/media", withDestinationPath: work + "/real")
        XCTAssertThrowsError(try archive(work + "/media", prefix: "media")) { e in
            XCTAssertEqual(e as? TarError, .notADirectory(work + "/media"))
        }
    }

    func testPaxRecordsCountTheirOwnLength() {
        // 9 + 1 bytes of "path=" value… the length digit count changing at 10 and 100 is the classic trap.
        for n in [0, 1, 80, 88, 89, 90, 91, 985, 994, 995, 996, 1000] {
            let entry = TarEntry(path: String(repeating: "é", count: n / 2 + 60), kind: .file(size: 0), mode: 0o644, uid: 0, gid: 0, mtime: 0)
            let bytes = TarHeader.encode(entry)
            let size = Int(String(decoding: bytes[124..<135], as: UTF8.self), radix: 8)!
            let body = bytes[512..<(512 + size)]
            let text = String(decoding: body, as: UTF8.self)
            let length = Int(text.prefix { $0 != " " })!
            XCTAssertEqual(length, body.count, text)
        }
    }
}
