@testable import ReceiverCore
import AKBase
import AKProtocol
import Foundation
import ProtocolSession
import Transport
import XCTest

/// Random and mutated messages through the receiver's real request handlers on a real directory:
/// the receiver never crashes or hangs, and a controller without the agent's key leaves nothing there.
final class ReceiverFuzzTests: XCTestCase {
    func testRandomStreamsThroughTheRealReceiverHandlers() throws {
        let dir = try temporaryDirectory()
        let name = "authentik-db-2027-01-15T080000Z.sql.gz"
        let bytes: [UInt8] = [1, 2, 3]
        let foreign = try ReceiverHarness.manifest(for: bytes, name: name, signedBy: ReceiverHarness.otherKey)
        let unsigned = try ReceiverHarness.manifest(for: bytes, name: name, signedBy: nil)
        let seeds: [[Message]] = [
            [Message(UploadRequest(id: 1, name: name)), Message(DataHeader(id: 1, stream: "dump"))],
            [Message(UploadCommit(id: 1, manifest: foreign))], [Message(UploadCommit(id: 1, manifest: unsigned))],
            [Message(UploadAbort(id: 1, reason: "x"))], [Message(ListRequest(id: 2, offset: 5, limit: 1000))],
            [Message(VerifyRequest(id: 3, name: "latest"))], [Message(VerifyRequest(id: 3, name: "../../etc/passwd"))],
            [Message(FetchRequest(id: 4, name: name))], [Message(ReceiptsRequest(id: 5, offset: 0, limit: 3))],
            [Message(ProbeRequest(id: 6))], [Message(UploadRequest(id: 7, name: "authentik-db-2027-01-15T080000Z.sql.gz/../x"))],
            [Message(PruneRequest(id: 8, dryRun: false))], [Message(PruneRequest(id: 8, dryRun: true, offset: 3, limit: 2))],
            [Message(PinRequest(id: 9, name: name, pinned: true, reason: "r", requestedBy: RequestedBy(user: "u", host: "h")))],
            [Message(PinRequest(id: 9, name: "../\(name)", pinned: false, reason: nil, requestedBy: nil))],
        ]
        var x: UInt64 = 0xD1B54A32D192ED03
        func next() -> Int { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return Int(x % 1_000_000) }
        for i in 0..<800 {
            let (serverEnd, clientEnd) = InProcessPipe.makePair(capacity: 1 << 20, writeStallTimeout: 2)
            var timing = ServerSession.Timing()
            timing.peerTimeout = 2
            timing.helloTimeout = 2
            timing.requestIdleTimeout = 2
            let session = ServerSession(channel: serverEnd, hello: Hello(role: .receiver, host: "nas"), timing: timing, log: { _ in })
            let store = BackupStore(directory: dir, requireMount: "", trustedKeys: [ReceiverHarness.agentKey.publicKey])
            let ended = DispatchSemaphore(value: 0)
            Thread {
                _ = ReceiverServer.serve(session: session, store: store, configSource: "fuzz", log: { _ in })
                serverEnd.close()
                ended.signal()
            }.start()
            Thread { while let b = try? clientEnd.read(maxLength: 65536), !b.isEmpty {} }.start()
            var out = MessageCodec.frame(Message(Hello(role: .controller, host: "fuzz")))
            for _ in 0..<(1 + next() % 5) {
                for m in seeds[next() % seeds.count] {
                    var payload = MessageCodec.encode(m)
                    if next() % 3 == 0, !payload.isEmpty { payload[next() % payload.count] ^= UInt8(1 << (next() % 8)) }
                    out += Frame.header(length: payload.count) + payload
                }
                if next() % 2 == 0 { out += Frame.header(length: bytes.count) + bytes + Frame.header(length: 0) }
                if next() % 4 == 0 { out += [0x80, 0, 0, 0] }
            }
            if next() % 4 == 0 { out = Array(out.prefix(next() % (out.count + 1))) }
            try? clientEnd.write(out)
            try? clientEnd.closeWrite()
            XCTAssertEqual(ended.wait(timeout: .now() + 30), .success, "iteration \(i): the receiver hung")
            clientEnd.close()
            let left = (try FileManager.default.contentsOfDirectory(atPath: dir)).filter { $0 != "receipts" }
            XCTAssertEqual(left, [], "iteration \(i): something was kept")
        }
    }
}
