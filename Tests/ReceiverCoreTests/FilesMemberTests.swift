@testable import ReceiverCore
import AKBase
import AKProtocol
import Crypto
import Foundation
import ProtocolSession
import XCTest

/// A backup set's second member, Authentik's files (§15), on the NAS: stored with the dump under
/// the agent's signature or not at all, served after it, verified and pruned with it.
final class FilesMemberTests: XCTestCase {
    let artifact = "authentik-db-2027-01-15T080000Z.sql.gz"
    let filesName = "authentik-files-2027-01-15T080000Z.tar.gz"

    func files(_ dir: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }

    func member(for bytes: [UInt8], tarSize: Int64) -> FilesMember {
        FilesMember(name: filesName, sha256: Hex.encode(SHA256.hash(data: bytes)), size: Int64(bytes.count), tarSize: tarSize,
                    mounts: [FilesMount(containerPath: "/media", files: 1, directories: 0, symlinks: 0, bytes: 5, digest: String(repeating: "a", count: 64))])
    }

    func signed(_ dump: [UInt8], files: FilesMember?) throws -> Manifest {
        var m = try ReceiverHarness.manifest(for: dump, name: artifact, signedBy: nil)
        m.files = files
        try m.sign(with: ReceiverHarness.agentKey.privateKey)
        return m
    }

    /// upload → dump stream → (files stream) → commit.
    func upload(_ nas: InProcessReceiver, dump: [UInt8], files: [UInt8]?, manifest: Manifest) throws -> Result<UploadResult, RemoteError> {
        let id = nas.client.makeID()
        do {
            _ = try nas.client.call(UploadRequest(id: id, name: artifact), expecting: UploadReady.self)
            try nas.client.send(DataHeader(id: id, stream: "dump"))
            try nas.client.sendChunk(dump)
            try nas.client.endData()
            if let files {
                try nas.client.send(DataHeader(id: id, stream: "files"))
                try nas.client.sendChunk(files)
                try nas.client.endData()
            }
            return .success(try nas.client.call(UploadCommit(id: id, manifest: manifest), expecting: UploadResult.self))
        } catch let e as RemoteError {
            return .failure(e)
        }
    }

    func testASetIsStoredListedAsOneVerifiedAndServedWhole() throws {
        let dir = try temporaryDirectory()
        let nas = try InProcessReceiver(directory: dir)
        let dump = try ReceiverHarness.gzip(ReceiverHarness.dump)
        let tar = [UInt8](repeating: 0, count: 1024)
        let filesBytes = try ReceiverHarness.gzip(tar)
        _ = try upload(nas, dump: dump, files: filesBytes, manifest: try signed(dump, files: member(for: filesBytes, tarSize: 1024))).get()
        XCTAssertEqual(files(dir), ["authentik-db-2027-01-15T080000Z.json", artifact, filesName])

        let list = try nas.client.call(ListRequest(id: nas.client.makeID()), expecting: ListResult.self)
        XCTAssertEqual(list.artifacts.map(\.name), [artifact], "a set is one backup")
        XCTAssertEqual(list.artifacts.first?.manifest?.files?.name, filesName)
        let v = try nas.client.call(VerifyRequest(id: nas.client.makeID(), name: artifact), expecting: VerifyResult.self)
        XCTAssertTrue(v.ok, v.reason ?? "")
        XCTAssertEqual(v.filesSize, Int64(filesBytes.count))

        // fetch with files: the dump's stream, then the files member's.
        let id = nas.client.makeID()
        try nas.client.send(FetchRequest(id: id, name: artifact, files: true))
        let started = try nas.client.expect(FetchStarted.self, id: id)
        XCTAssertEqual(started.filesSize, Int64(filesBytes.count))
        var streams: [String: [UInt8]] = [:]
        var current: String?
        while true {
            switch try nas.client.receive(context: "test") {
            case .chunk(let b): streams[current!, default: []] += b
            case .endOfData: current = nil
            case .message(let m):
                if let h = m.as(DataHeader.self) { current = h.stream; streams[h.stream] = streams[h.stream] ?? [] }
                else if let r = m.as(FetchResult.self) {
                    XCTAssertEqual(r.filesSHA256, Hex.encode(SHA256.hash(data: filesBytes)))
                    XCTAssertEqual(streams["artifact"], dump)
                    XCTAssertEqual(streams["files"], filesBytes)
                    return try checkCorruptAndMissingMember(nas, dir: dir, filesBytes: filesBytes)
                } else { XCTFail("unexpected \(m.type)"); return }
            }
        }
    }

    func checkCorruptAndMissingMember(_ nas: InProcessReceiver, dir: String, filesBytes: [UInt8]) throws {
        var corrupt = filesBytes
        corrupt[corrupt.count / 2] ^= 0xFF
        try Data(corrupt).write(to: URL(fileURLWithPath: dir + "/" + filesName))
        var v = try nas.client.call(VerifyRequest(id: nas.client.makeID(), name: artifact), expecting: VerifyResult.self)
        XCTAssertFalse(v.ok)
        XCTAssertTrue(v.onlyFilesFailed, "the dump is whole: \(v.reason ?? "")")
        XCTAssertTrue(v.filesProblem?.contains("does not match its manifest") ?? false, v.filesProblem ?? "")
        try FileManager.default.removeItem(atPath: dir + "/" + filesName)
        v = try nas.client.call(VerifyRequest(id: nas.client.makeID(), name: artifact), expecting: VerifyResult.self)
        XCTAssertFalse(v.ok)
        XCTAssertTrue(v.filesProblem?.contains("is missing") ?? false, v.filesProblem ?? "")
        XCTAssertThrowsError(try nas.client.call(FetchRequest(id: nas.client.makeID(), name: artifact, files: true), expecting: FetchStarted.self)) {
            XCTAssertTrue("\($0)".contains("not restorable"), "\($0)")
        }
    }

    func testAMemberTheSignatureDoesNotDescribeLeavesNothing() throws {
        let dump = try ReceiverHarness.gzip(ReceiverHarness.dump)
        let filesBytes = try ReceiverHarness.gzip([UInt8](repeating: 1, count: 512))
        let described = member(for: filesBytes, tarSize: 512)
        var other = described
        other.sha256 = String(repeating: "b", count: 64)
        let cases: [(String, [UInt8]?, Manifest)] = [
            ("files sent, none signed", filesBytes, try signed(dump, files: nil)),
            ("files signed, none sent", nil, try signed(dump, files: described)),
            ("other files bytes", filesBytes, try signed(dump, files: other)),
        ]
        for (label, sent, manifest) in cases {
            let dir = try temporaryDirectory()
            let nas = try InProcessReceiver(directory: dir)
            switch try upload(nas, dump: dump, files: sent, manifest: manifest) {
            case .success: XCTFail("\(label): stored")
            case .failure(let e): XCTAssertEqual(e.code, .untrusted, "\(label): \(e)")
            }
            XCTAssertEqual(files(dir), [], "\(label): nothing is left behind")
        }
    }

    func testPruneRemovesTheMemberWithItsSetAndTheSweepFinishesAKilledOne() throws {
        let dir = try temporaryDirectory()
        let store = BackupStore(directory: dir, trustedKeys: [ReceiverHarness.agentKey.publicKey])
        for name in [artifact, filesName, "authentik-db-2027-01-15T080000Z.json"] { try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/" + name)) }
        try store.remove(artifact, hook: nil)
        XCTAssertEqual(files(dir), [])
        // Killed after the dump was renamed away and deleted: the member is finished next time.
        for name in [filesName, "authentik-db-2027-01-15T080000Z.json"] { try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/" + name)) }
        XCTAssertEqual(store.finishInterruptedPrunes(log: { _ in }), 2)
        XCTAssertEqual(files(dir), [])
        // A member whose dump is there is never touched by the sweep.
        for name in [artifact, filesName] { try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/" + name)) }
        XCTAssertEqual(store.finishInterruptedPrunes(log: { _ in }), 0)
        XCTAssertEqual(files(dir), [artifact, filesName])
    }

    func testTheManifestRefusesAMemberOfAnotherSetOrAPathThatIsNotAuthentiksFiles() throws {
        let dump = try ReceiverHarness.gzip(ReceiverHarness.dump)
        var m = try ReceiverHarness.manifest(for: dump, name: artifact, signedBy: nil)
        m.files = member(for: [1], tarSize: 0)
        XCTAssertNoThrow(try m.validate("test"))
        m.files?.name = "authentik-files-2027-01-16T080000Z.tar.gz"
        XCTAssertThrowsError(try m.validate("test"))
        for path in ["/etc", "/", "/media/../etc", "/blueprints/", "media", "/var/run/docker.sock"] {
            m.files = member(for: [1], tarSize: 0)
            m.files?.mounts[0].containerPath = path
            XCTAssertThrowsError(try m.validate("test"), path)
        }
        m.files = member(for: [1], tarSize: 0)
        m.files?.mounts.append(FilesMount(containerPath: "/media/sub", files: 0, directories: 0, symlinks: 0, bytes: 0, digest: String(repeating: "a", count: 64)))
        XCTAssertThrowsError(try m.validate("test"), "a mount inside another")
    }
}
