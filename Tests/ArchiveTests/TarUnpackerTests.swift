import Archive
import Foundation
import XCTest

/// Unpacking what TarWriter wrote gives back the tree; a hostile archive writes nothing outside the
/// target and says why it stopped.
final class TarUnpackerTests: XCTestCase {
    var work = ""

    override func setUpWithError() throws {
        work = NSTemporaryDirectory() + "unpack-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work + "/out", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        _ = try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: work + "/out/media/readonly")
        try? FileManager.default.removeItem(atPath: work)
    }

    func tree(_ root: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/a/b", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/readonly", withIntermediateDirectories: true)
        try Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 13) }).write(to: URL(fileURLWithPath: root + "/a/b/blob.bin"))
        try Data("ü".utf8).write(to: URL(fileURLWithPath: root + "/readonly/" + String(repeating: "ä", count: 70)))
        try Data().write(to: URL(fileURLWithPath: root + "/empty"))
        try fm.createSymbolicLink(atPath: root + "/a/link", withDestinationPath: "../empty")
        chmod(root + "/readonly", 0o555)
    }

    func archive(_ root: String) throws -> ([UInt8], TreeSummary) {
        var bytes: [UInt8] = []
        var w = TarWriter(root: root, prefix: "media") { bytes += $0 }
        let s = try w.archive()
        return (bytes + TarHeader.end, s)
    }

    func unpack(_ bytes: [UInt8], pieces: Int) throws {
        let u = try TarUnpacker(root: work + "/out")
        var i = 0
        while i < bytes.count {
            let n = min(pieces, bytes.count - i)
            try u.push(Array(bytes[i..<(i + n)]))
            i += n
        }
        try u.finish()
    }

    func testWhatTheWriterWroteUnpacksToTheSameTreeInAnyPieces() throws {
        let src = work + "/src"
        try tree(src)
        let (bytes, summary) = try archive(src)
        for pieces in [1, 511, 513, 65_536] {
            try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: work + "/out/media/readonly")
            try FileManager.default.removeItem(atPath: work + "/out")
            try FileManager.default.createDirectory(atPath: work + "/out", withIntermediateDirectories: true)
            try unpack(bytes, pieces: pieces)
            var w = TarWriter(root: work + "/out/media", prefix: "media") { _ in }
            XCTAssertEqual(try w.archive(), summary, "pieces of \(pieces)")
        }
        let attrs = try FileManager.default.attributesOfItem(atPath: work + "/out/media/readonly")
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o555, "a read-only directory still got its entry")
    }

    func entry(_ path: String, _ kind: TarEntryKind, mode: UInt32 = 0o644) -> [UInt8] {
        var bytes = TarHeader.encode(TarEntry(path: path, kind: kind, mode: mode, uid: 0, gid: 0, mtime: 1_700_000_000))
        if case .file(let size) = kind { bytes += [UInt8](repeating: 0x41, count: Int(size)) + TarHeader.padding(size) }
        return bytes
    }

    func testHostileArchivesWriteNothingOutside() throws {
        let outside = work + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        let cases: [(String, [UInt8], UnpackError)] = [
            ("dot-dot", entry("media/../../outside/x", .file(size: 3)), .unsafePath("media/../../outside/x")),
            ("absolute", entry(outside + "/x", .file(size: 3)), .unsafePath(outside + "/x")),
            ("through a link", entry("media", .directory) + entry("media/l", .symlink(target: outside)) + entry("media/l/x", .file(size: 3)),
             .unsafePath("media/l (Not a directory)")),
            ("a link replaced by a file", entry("media", .directory) + entry("media/l", .symlink(target: outside + "/x")) + entry("media/l", .file(size: 3)),
             .io(path: "media/l", "File exists")),
        ]
        for (label, bytes, expected) in cases {
            try FileManager.default.removeItem(atPath: work + "/out")
            try FileManager.default.createDirectory(atPath: work + "/out", withIntermediateDirectories: true)
            XCTAssertThrowsError(try unpack(bytes + TarHeader.end, pieces: 4096), label) { e in
                XCTAssertEqual(e as? UnpackError, expected, label)
            }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside), [], "\(label): nothing outside")
        }
    }

    func testHardLinksDevicesTruncationAndBadChecksumsAreRefused() throws {
        var hard = entry("media/h", .file(size: 0))
        hard[156] = UInt8(ascii: "1")
        var sum = 0
        for (i, b) in hard.prefix(512).enumerated() { sum += (148..<156).contains(i) ? 0x20 : Int(b) }
        let digits = String(sum, radix: 8)
        for (i, b) in Array((String(repeating: "0", count: 6 - digits.count) + digits).utf8).enumerated() { hard[148 + i] = b }
        XCTAssertThrowsError(try unpack(entry("media", .directory) + hard + TarHeader.end, pieces: 512)) { e in
            XCTAssertEqual(e as? UnpackError, .unsupported(path: "media/h", typeflag: "1"))
        }
        var bad = entry("media", .directory)
        bad[0] ^= 1
        XCTAssertThrowsError(try unpack(bad + TarHeader.end, pieces: 512)) { e in
            XCTAssertEqual(e as? UnpackError, .corrupt("a header's checksum does not match"))
        }
        try FileManager.default.removeItem(atPath: work + "/out")
        try FileManager.default.createDirectory(atPath: work + "/out", withIntermediateDirectories: true)
        let whole = entry("media", .directory) + entry("media/f", .file(size: 1000))
        XCTAssertThrowsError(try unpack(Array(whole.prefix(whole.count - 100)), pieces: 512)) { e in
            XCTAssertEqual(e as? UnpackError, .corrupt("the archive ends early"))
        }
    }

    func testSetIDBitsAreDropped() throws {
        try unpack(entry("media", .directory) + entry("media/suid", .file(size: 1), mode: 0o4755) + TarHeader.end, pieces: 4096)
        let attrs = try FileManager.default.attributesOfItem(atPath: work + "/out/media/suid")
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o755)
    }
}
