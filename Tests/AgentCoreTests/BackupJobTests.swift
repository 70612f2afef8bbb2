@testable import AgentCore
import AgentHarness
import AKBase
import AKProtocol
import Compression
import Crypto
import Foundation
import ProtocolSession
import Transport
import XCTest

final class BackupJobTests: XCTestCase {
    func testTheManifestIsSignedAndDescribesTheBytesSentInTheDumpsSnapshot() throws {
        let db = FakeDatabase()
        let agent = try InProcessAgent(context: Harness.context(db: db, clock: Date()))
        let id = agent.client.makeID()
        try agent.client.send(BackupRequest(id: id, threads: 2))
        let started = try agent.client.expect(BackupStarted.self, id: id)
        var bytes: [UInt8] = []
        var result: BackupResult?
        while result == nil {
            switch try agent.client.receive(context: "test") {
            case .chunk(let b): bytes += b
            case .endOfData: break
            case .message(let m): result = m.as(BackupResult.self)
            }
        }
        let manifest = try XCTUnwrap(result?.manifest)
        XCTAssertEqual(manifest.name, started.name)
        XCTAssertEqual(manifest.size, Int64(bytes.count))
        XCTAssertEqual(manifest.sha256, Hex.encode(SHA256.hash(data: bytes)))
        XCTAssertEqual(manifest.signatureStatus(trusting: [Harness.key.publicKey]), .trusted)
        XCTAssertEqual(manifest.rowCounts, ["public.authentik_core_user": 3])
        XCTAssertEqual(manifest.schemaDigests?.count, SchemaDigest.kinds.count)
        XCTAssertTrue(db.calls.contains("snapshot authentik"), "\(db.calls)")
        XCTAssertTrue(db.calls.contains { $0.hasPrefix("dump authentik snapshot ") }, "pg_dump runs in the exported snapshot: \(db.calls)")
        var inflated: [UInt8] = []
        let inflater = GzipInflater()
        try inflater.push(bytes) { inflated += $0 }
        try inflater.finish()
        XCTAssertEqual(inflated, FakeDatabase.dump(rows: 3))
    }

    func testWithoutASigningKeyTheBackupIsRefusedWithTheCommandThatMakesOne() throws {
        let agent = try InProcessAgent(context: Harness.context(signingKey: nil))
        XCTAssertThrowsError(try agent.client.call(BackupRequest(id: agent.client.makeID()))) { e in
            XCTAssertTrue((e as? RemoteError)?.hint.contains("akbackup-agent key --init") == true, "\(e)")
        }
    }

    /// A controller that goes silent (no end of input, no heartbeat: a cut link) stops pg_dump within
    /// the peer timeout, even while pg_dump itself has nothing to send; the lock is free again.
    func testASilentControllerStopsPgDumpWithinThePeerTimeout() throws {
        let db = FakeDatabase()
        db.state.update { $0.dumpHangs = true }
        let state = NSTemporaryDirectory() + "akbackup-agent-test-" + UUID().uuidString
        var timing = ServerSession.Timing()
        timing.peerTimeout = 1
        timing.heartbeatInterval = 0.25
        let agent = try InProcessAgent(context: Harness.context(db: db, stateDir: state, clock: Date()), timing: timing)
        agent.client.framed.stopHeartbeats()
        let id = agent.client.makeID()
        try agent.client.send(BackupRequest(id: id))
        _ = try agent.client.expect(BackupStarted.self, id: id)
        XCTAssertEqual(agent.waitForEnd(seconds: 20), .linkLost)
        XCTAssertTrue(db.state.read { $0.dumpStopped }, "pg_dump was stopped")
        let lock = try OperationLock.acquire(stateDir: state, host: "infra-core", operation: "test", controller: "test")
        lock.release()
    }

    /// A controller that stops reading (its window full) makes the agent's writes stall; the agent
    /// gives up and stops pg_dump instead of holding the lock forever.
    func testAControllerThatStopsReadingIsGivenUp() throws {
        let db = FakeDatabase()
        // Incompressible: 8 MiB of noise is far more than the 64 KiB the pipe holds.
        var noise = [UInt8](repeating: 0, count: 8 << 20)
        var x: UInt32 = 2463534242
        for i in noise.indices { x ^= x << 13; x ^= x >> 17; x ^= x << 5; noise[i] = UInt8(truncatingIfNeeded: x) }
        db.state.update { $0.dumpText = noise }
        let (serverEnd, clientEnd) = InProcessPipe.makePair(capacity: 64 << 10, writeStallTimeout: 1)
        let context = Harness.context(db: db, clock: Date())
        let session = ServerSession(channel: serverEnd, hello: Hello(role: .agent, host: "infra-core"), log: { _ in })
        let ended = DispatchSemaphore(value: 0)
        let outcome = Monitor<ServerSession.SessionEnd?>(nil)
        Thread {
            let o = AgentServer.serve(session: session, context: context, configSource: "test")
            outcome.update { $0 = o }
            ended.signal()
        }.start()
        let client = ClientSession(channel: clientEnd, host: "infra-core", peerTimeout: 30)
        try client.handshake(expecting: .agent, localHost: "laptop")
        let id = client.makeID()
        try client.send(BackupRequest(id: id))
        _ = try client.expect(BackupStarted.self, id: id)
        // ...and never read again.
        XCTAssertEqual(ended.wait(timeout: .now() + 30), .success, "the agent gave up")
        XCTAssertEqual(outcome.read { $0 }, .linkLost)
        client.close()
    }
}
