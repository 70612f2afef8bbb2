import AgentCore
import Archive
import Crypto
import Foundation
import XCTest

final class FilesArchiveTests: XCTestCase {
    func testTwoMountsStreamAsOneTarGzThatGNUTarUnpacksUnderTheirContainerPaths() throws {
        let work = NSTemporaryDirectory() + "files-archive-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: work) }
        let fm = FileManager.default
        try fm.createDirectory(atPath: work + "/host/media/public", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: work + "/host/blueprints", withIntermediateDirectories: true)
        try Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }).write(to: URL(fileURLWithPath: work + "/host/media/public/bg.jpg"))
        try Data("version: 1\n".utf8).write(to: URL(fileURLWithPath: work + "/host/blueprints/custom.yaml"))
        let mounts = [FileMount(containerPath: "/media", hostPath: work + "/host/media", containers: ["authentik-server"]),
                      FileMount(containerPath: "/blueprints/custom", hostPath: work + "/host/blueprints", containers: ["authentik-worker"])]
        var bytes: [UInt8] = []
        let written = try FilesArchive.stream(mounts, threads: 2) { bytes += $0 }
        XCTAssertEqual(written.size, Int64(bytes.count))
        XCTAssertEqual(written.sha256, SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined())
        XCTAssertEqual(written.mounts.map(\.containerPath), ["/blueprints/custom", "/media"])
        XCTAssertEqual(written.mounts[1].bytes, 3_000_000)

        try Data(bytes).write(to: URL(fileURLWithPath: work + "/set.tar.gz"))
        try fm.createDirectory(atPath: work + "/out", withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["tar", "--numeric-owner", "-xzpf", work + "/set.tar.gz", "-C", work + "/out"]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertEqual(fm.contents(atPath: work + "/out/media/public/bg.jpg"), fm.contents(atPath: work + "/host/media/public/bg.jpg"))
        XCTAssertEqual(fm.contents(atPath: work + "/out/blueprints/custom/custom.yaml"), Data("version: 1\n".utf8))
        // What restore-test checks: each unpacked mount has the summary the manifest recorded.
        XCTAssertEqual(FilesArchive.check(unpackedAt: work + "/out", against: written.mounts), [])
        // And the agent's own unpacker gives the same tree.
        try fm.createDirectory(atPath: work + "/own", withIntermediateDirectories: true)
        _ = try FilesArchive.unpack(file: work + "/set.tar.gz", into: work + "/own", mounts: written.mounts)
        XCTAssertEqual(FilesArchive.check(unpackedAt: work + "/own", against: written.mounts), [])
        try Data("changed".utf8).write(to: URL(fileURLWithPath: work + "/own/blueprints/custom/custom.yaml"))
        XCTAssertEqual(FilesArchive.check(unpackedAt: work + "/own", against: written.mounts).count, 1)
    }
}
