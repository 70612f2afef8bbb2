@testable import ReceiverCore
import AKBase
import AKProtocol
import Crypto
import Foundation
import ProtocolSession
import Retention
import Transport
import XCTest

enum ReceiverHarness {
    struct Key: Sendable {
        let seed: [UInt8]
        var privateKey: Curve25519.Signing.PrivateKey { try! Curve25519.Signing.PrivateKey(rawRepresentation: seed) }
        var publicKey: AgentPublicKey { AgentPublicKey(raw: [UInt8](privateKey.publicKey.rawRepresentation))! }
    }
    static let agentKey = Key(seed: [UInt8](repeating: 7, count: 32))
    static let otherKey = Key(seed: [UInt8](repeating: 9, count: 32))

    static let dump = Array("--\n-- PostgreSQL database dump\n--\nCOPY public.t (a) FROM stdin;\n1\n2\n\\.\n\n--\n-- PostgreSQL database dump complete\n--\n\n".utf8)

    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let r = Foundation.Data(bytes)
        let path = NSTemporaryDirectory() + "akbackup-gz-\(UUID().uuidString)"
        try r.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path + ".gz") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-n", path]
        try p.run()
        p.waitUntilExit()
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + ".gz")))
    }

    static func manifest(for bytes: [UInt8], name: String, uncompressed: Int64 = Int64(dump.count), signedBy key: Key? = agentKey) throws -> Manifest {
        var m = Manifest(name: name, sha256: Hex.encode(SHA256.hash(data: bytes)), size: Int64(bytes.count), uncompressedSize: uncompressed,
                         startedAt: "2027-01-15T08:00:00Z", finishedAt: "2027-01-15T08:00:05Z",
                         source: SourceFacts(host: "infra-core", database: "authentik", postgresVersion: "15", pgDumpVersion: "15",
                                             authentikVersion: nil, latestMigration: nil),
                         rowCounts: ["public.t": 2], compression: "gzip")
        if let key { try m.sign(with: key.privateKey) }
        return m
    }
}

/// The receiver's request loop on an in-memory pipe; the test is the controller.
final class InProcessReceiver {
    let client: ClientSession
    let store: BackupStore
    let ended = DispatchSemaphore(value: 0)

    init(directory: String, trusted: [AgentPublicKey] = [ReceiverHarness.agentKey.publicKey], now: Date = Date(timeIntervalSince1970: 1_800_000_000),
         retention: RetentionPolicy = RetentionPolicy(), log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        let (serverEnd, clientEnd) = InProcessPipe.makePair(capacity: 1 << 20, writeStallTimeout: 10)
        let store = BackupStore(directory: directory, requireMount: "", trustedKeys: trusted, retention: retention)
        self.store = store
        let session = ServerSession(channel: serverEnd, hello: Hello(role: .receiver, host: "nas"), log: { _ in })
        let ended = self.ended
        Thread {
            _ = ReceiverServer.serve(session: session, store: store, configSource: "test", log: log, now: { now })
            serverEnd.close()
            ended.signal()
        }.start()
        client = ClientSession(channel: clientEnd, host: "nas", peerTimeout: 20)
        try client.handshake(expecting: .receiver, localHost: "laptop")
    }

    /// upload → data → commit with `manifest`; the receiver's answer or its error.
    func upload(name: String, bytes: [UInt8], manifest: Manifest) throws -> Result<UploadResult, RemoteError> {
        let id = client.makeID()
        do {
            _ = try client.call(UploadRequest(id: id, name: name), expecting: UploadReady.self)
            try client.send(DataHeader(id: id, stream: "dump"))
            try client.sendChunk(bytes)
            try client.endData()
            return .success(try client.call(UploadCommit(id: id, manifest: manifest), expecting: UploadResult.self))
        } catch let e as RemoteError {
            return .failure(e)
        }
    }
}

final class ReceiverTests: XCTestCase {
    let artifact = "authentik-db-2027-01-15T080000Z.sql.gz"

    func files(_ dir: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }

    func testASignedUploadIsStoredWithItsManifest() throws {
        let dir = try temporaryDirectory()
        let nas = try InProcessReceiver(directory: dir)
        let bytes = try ReceiverHarness.gzip(ReceiverHarness.dump)
        let stored = try nas.upload(name: artifact, bytes: bytes, manifest: try ReceiverHarness.manifest(for: bytes, name: artifact)).get()
        XCTAssertEqual(stored.size, Int64(bytes.count))
        XCTAssertEqual(files(dir), ["authentik-db-2027-01-15T080000Z.json", artifact])
        let v = try nas.client.call(VerifyRequest(id: nas.client.makeID(), name: artifact), expecting: VerifyResult.self)
        XCTAssertTrue(v.ok, v.reason ?? "")
        XCTAssertEqual(v.signature, .trusted)
        XCTAssertEqual(v.uncompressedSize, Int64(ReceiverHarness.dump.count))
    }

    func testUnsignedWronglySignedOrForeignUploadsLeaveNothing() throws {
        let bytes = try ReceiverHarness.gzip(ReceiverHarness.dump)
        var tampered = try ReceiverHarness.manifest(for: bytes, name: artifact)
        tampered.rowCounts["public.t"] = 3
        var otherBytes = try ReceiverHarness.manifest(for: bytes + [0], name: artifact)
        otherBytes.size = Int64(bytes.count + 1)
        for (label, manifest) in [("unsigned", try ReceiverHarness.manifest(for: bytes, name: artifact, signedBy: nil)),
                                  ("tampered", tampered),
                                  ("other key", try ReceiverHarness.manifest(for: bytes, name: artifact, signedBy: ReceiverHarness.otherKey)),
                                  ("other bytes", otherBytes)] {
            let dir = try temporaryDirectory()
            let nas = try InProcessReceiver(directory: dir)
            switch try nas.upload(name: artifact, bytes: bytes, manifest: manifest) {
            case .success: XCTFail("\(label): stored")
            case .failure(let e): XCTAssertEqual(e.code, .untrusted, "\(label): \(e)")
            }
            XCTAssertEqual(files(dir), [], "\(label): nothing is left behind")
        }
    }

    func testAReceiverWithoutTrustedKeysRefusesBeforeWritingAndSaysHow() throws {
        let dir = try temporaryDirectory()
        let nas = try InProcessReceiver(directory: dir, trusted: [])
        let bytes = try ReceiverHarness.gzip(ReceiverHarness.dump)
        guard case .failure(let e) = try nas.upload(name: artifact, bytes: bytes, manifest: try ReceiverHarness.manifest(for: bytes, name: artifact)) else {
            return XCTFail("stored without a trusted key")
        }
        XCTAssertEqual(e.code, .untrusted)
        XCTAssertTrue(e.hint.contains("akbackup-receiver trust-agent-key"), e.hint)
        XCTAssertEqual(files(dir), [])
    }

    func testANameDatedMoreThanADayAheadIsRefused() throws {
        let dir = try temporaryDirectory()
        let nas = try InProcessReceiver(directory: dir, now: Date(timeIntervalSince1970: 1_700_000_000))
        let bytes = try ReceiverHarness.gzip(ReceiverHarness.dump)
        guard case .failure(let e) = try nas.upload(name: artifact, bytes: bytes, manifest: try ReceiverHarness.manifest(for: bytes, name: artifact)) else {
            return XCTFail("a future-dated backup was stored")
        }
        XCTAssertEqual(e.code, .badRequest)
        XCTAssertTrue(e.message.contains("in the future"), e.message)
        XCTAssertEqual(files(dir), [])
    }

    func testVerifyFindsContentAfterTheTrailerAndAWrongUncompressedSize() throws {
        let dir = try temporaryDirectory()
        let nas = try InProcessReceiver(directory: dir)
        let bytes = try ReceiverHarness.gzip(ReceiverHarness.dump + Array("SELECT 1;\n".utf8))
        _ = try nas.upload(name: artifact, bytes: bytes, manifest: try ReceiverHarness.manifest(for: bytes, name: artifact,
                                                                                           uncompressed: Int64(ReceiverHarness.dump.count + 10))).get()
        let v = try nas.client.call(VerifyRequest(id: nas.client.makeID(), name: artifact), expecting: VerifyResult.self)
        XCTAssertFalse(v.ok)
        XCTAssertEqual(v.reason, "something follows the dump's completion trailer")

        let second = "authentik-db-2027-01-15T080001Z.sql.gz"
        let plain = try ReceiverHarness.gzip(ReceiverHarness.dump)
        _ = try nas.upload(name: second, bytes: plain, manifest: try ReceiverHarness.manifest(for: plain, name: second, uncompressed: 5)).get()
        let w = try nas.client.call(VerifyRequest(id: nas.client.makeID(), name: second), expecting: VerifyResult.self)
        XCTAssertFalse(w.ok)
        XCTAssertTrue(w.reason?.contains("the manifest says 5") == true, w.reason ?? "")
    }

    func testListIsPagedAndEveryPageFitsAFrame() throws {
        let dir = try temporaryDirectory()
        let manifest = try ReceiverHarness.manifest(for: [1], name: artifact)
        let encoder = JSONEncoder()
        for i in 0..<1500 {
            let n = String(format: "authentik-db-2026-%02d-%02dT%02d%02d00Z.sql.gz", 1 + i % 12, 1 + i % 28, i / 60 % 24, i % 60)
            XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/" + n, contents: Data([1])))
            var m = manifest
            m.name = n
            try encoder.encode(m).write(to: URL(fileURLWithPath: dir + "/" + BackupStore.manifestName(for: n)))
        }
        let nas = try InProcessReceiver(directory: dir)
        let total = Set(try FileManager.default.contentsOfDirectory(atPath: dir).filter(ArtifactName.isValid)).count
        var seen: [String] = []
        var pages = 0
        while seen.count < total {
            let page = try nas.client.call(ListRequest(id: nas.client.makeID(), offset: seen.count, limit: 1000), expecting: ListResult.self)
            XCTAssertEqual(page.total, total)
            XCTAssertFalse(page.artifacts.isEmpty)
            XCTAssertLessThanOrEqual(MessageCodec.encode(Message(page)).count, ProtocolLimits.maxFramePayload, "a page fits one frame")
            XCTAssertTrue(page.artifacts.allSatisfy { $0.manifest?.rowCounts.isEmpty == true }, "pages carry summaries")
            seen += page.artifacts.map(\.name)
            pages += 1
        }
        XCTAssertEqual(seen, seen.sorted(by: >), "newest first, across pages")
        XCTAssertEqual(Set(seen).count, total)
        XCTAssertGreaterThan(pages, 1)
    }

    /// Names that are not regular files (a planted symlink, a directory) are neither listed nor counted:
    /// paging by "entries received" then sees every artifact exactly once.
    func testNamesThatAreNotFilesDoNotShiftThePages() throws {
        let dir = try temporaryDirectory()
        var real: [String] = []
        for i in 0..<6 {
            let n = String(format: "authentik-db-2026-03-%02dT000000Z.sql.gz", i + 1)
            XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/" + n, contents: Data([1])))
            real.append(n)
        }
        try FileManager.default.createDirectory(atPath: dir + "/authentik-db-2026-03-07T000000Z.sql.gz", withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: dir + "/authentik-db-2026-03-03T120000Z.sql.gz", withDestinationPath: "/etc/passwd")
        let nas = try InProcessReceiver(directory: dir)
        var seen: [String] = []
        while true {
            let page = try nas.client.call(ListRequest(id: nas.client.makeID(), offset: seen.count, limit: 2), expecting: ListResult.self)
            XCTAssertEqual(page.total, real.count)
            if page.artifacts.isEmpty { break }
            seen += page.artifacts.map(\.name)
        }
        XCTAssertEqual(seen, real.sorted(by: >))
    }

    func testOnlyAgentSignedReceiptsAreKept() throws {
        let dir = try temporaryDirectory()
        let nas = try InProcessReceiver(directory: dir)
        var receipt = Receipt(operation: "restore-test", artifact: artifact, sha256: String(repeating: "a", count: 64), artifactSigned: true,
                              operatorName: "alice", controllerHost: "laptop", agentHost: "infra-core", startedAt: "2027-01-15T08:00:00Z",
                              finishedAt: "2027-01-15T08:01:00Z", steps: [], validation: nil, downtimeSeconds: nil, outcome: .tested, message: "ok")
        XCTAssertThrowsError(try nas.client.call(ReceiptStore(id: nas.client.makeID(), name: "forged.json", receipt: receipt))) { e in
            XCTAssertEqual((e as? RemoteError)?.code, .untrusted)
        }
        try receipt.sign(with: ReceiverHarness.agentKey.privateKey)
        _ = try nas.client.call(ReceiptStore(id: nas.client.makeID(), name: "real.json", receipt: receipt), expecting: Done.self)
        XCTAssertThrowsError(try nas.client.call(ReceiptStore(id: nas.client.makeID(), name: "real.json", receipt: receipt))) { e in
            XCTAssertEqual((e as? RemoteError)?.code, .failed, "receipts are never overwritten")
        }
        let page = try nas.client.call(ReceiptsRequest(id: nas.client.makeID()), expecting: ReceiptsResult.self)
        XCTAssertEqual(page.receipts.map(\.name), ["real.json"])
        XCTAssertEqual(page.receipts.first?.signature, .trusted)
        XCTAssertEqual(files(dir + "/receipts"), ["real.json"])
    }

    func testStalePartialsAreRemovedButLiveOnesKept() throws {
        let dir = try temporaryDirectory()
        let stale = dir + "/\(artifact).partial"
        XCTAssertTrue(FileManager.default.createFile(atPath: stale, contents: Data([1])))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -60)], ofItemAtPath: stale)
        let other = dir + "/notes.partial"
        XCTAssertTrue(FileManager.default.createFile(atPath: other, contents: Data([1])))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -60)], ofItemAtPath: other)
        BackupStore(directory: dir).removeStalePartials(log: { _ in })
        XCTAssertEqual(files(dir), ["notes.partial"], "only akbackup's own partials are removed")
    }

    /// An upload's partial is locked from birth: a killed receiver's is removed by the very next session,
    /// however young; a live upload's is kept; a young manifest temp file (written unlocked) is kept.
    func testAKilledUploadsPartialGoesAtOnceALiveOneStays() throws {
        let dir = try temporaryDirectory()
        let store = BackupStore(directory: dir)
        let killed = dir + "/authentik-db-2026-01-01T000000Z.sql.gz.partial"
        XCTAssertTrue(FileManager.default.createFile(atPath: killed, contents: Data([1])))
        let live = dir + "/authentik-db-2026-01-02T000000Z.sql.gz.partial"
        let liveFD = try store.whileHoldingDirectoryLock {
            let fd = try FileIO.createExclusive(live, mode: 0o600)
            flock(fd, LOCK_EX)
            return fd
        }
        defer { close(liveFD) }
        let manifestTemp = dir + "/authentik-db-2026-01-02T000000Z.json.partial"
        XCTAssertTrue(FileManager.default.createFile(atPath: manifestTemp, contents: Data([1])))
        store.removeStalePartials(log: { _ in })
        XCTAssertEqual(files(dir), ["authentik-db-2026-01-02T000000Z.json.partial", "authentik-db-2026-01-02T000000Z.sql.gz.partial"])
    }
}
