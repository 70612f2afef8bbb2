@testable import AgentCore
import AgentHarness
import AKBase
import AKProtocol
import Crypto
import Foundation
import ProtocolSession
import Transport
import XCTest

/// Random and mutated messages of every type through the agent's real request handlers, in process,
/// with the host side scripted: the agent never crashes or hangs, and nothing a controller without the
/// agent's key can send changes the live database or stops the services.
final class HandlerFuzzTests: XCTestCase {
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return state
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    }

    /// One message of every type, as seeds.
    static func seeds() throws -> [Message] {
        let name = "authentik-db-2027-01-15T080000Z.sql.gz"
        let sha = String(repeating: "ab", count: 32)
        let manifest = try Harness.manifest(for: [1, 2, 3], name: name, signedBy: Harness.otherKey)
        let receipt = Receipt(operation: "restore", artifact: name, sha256: sha, artifactSigned: true, operatorName: "a", controllerHost: "b",
                              agentHost: "c", startedAt: "2027-01-15T08:00:00Z", finishedAt: "2027-01-15T08:00:01Z",
                              steps: [RestoreStep(name: "x", startedAt: "2027-01-15T08:00:00Z", seconds: 1, ok: true)],
                              validation: ValidationReport(ok: true, rowCounts: ["public.t": 1], problems: []), downtimeSeconds: 1,
                              outcome: .restored, message: "m")
        let by = RequestedBy(user: "u", host: "h")
        let all: [Message] = [
            Message(Hello(role: .controller, host: "x")), Message(ProbeRequest(id: 1)), Message(ProbeResult(id: 1, checks: [])),
            Message(ErrorMessage(id: 1, code: .failed, message: "m", hint: "h")), Message(CancelRequest(id: 1)),
            Message(ProgressReport(id: 1, phase: "p", bytes: 1)), Message(DataHeader(id: 1, stream: "artifact")), Message(Done(id: 1, detail: "d")),
            Message(BackupRequest(id: 1, threads: 2)),
            Message(BackupStarted(id: 1, name: name, startedAt: "2027-01-15T08:00:00Z", source: manifest.source)),
            Message(BackupResult(id: 1, manifest: manifest, compressionThreads: 1)), Message(UploadRequest(id: 1, name: name)),
            Message(UploadReady(id: 1, freeBytes: 5)), Message(UploadCommit(id: 1, manifest: manifest)), Message(UploadAbort(id: 1, reason: "r")),
            Message(UploadResult(id: 1, name: name, size: 3, sha256: sha)), Message(ListRequest(id: 1, offset: 0, limit: 5)),
            Message(ListResult(id: 1, artifacts: [], total: 0, freeBytes: nil)), Message(VerifyRequest(id: 1, name: "latest")),
            Message(VerifyResult(id: 1, name: name, ok: true, reason: nil, sha256: sha, size: 3, uncompressedSize: 1, hasManifest: false,
                                 rowCounts: [:], signature: .unsigned)),
            Message(FetchRequest(id: 1, name: name)), Message(FetchStarted(id: 1, name: name, size: 3, manifest: manifest)),
            Message(FetchResult(id: 1, size: 3, sha256: sha)),
            Message(RestoreRequest(id: 1, mode: .replace, artifact: name, size: 3, sha256: sha, manifest: manifest, trustUnsigned: true,
                                   force: true, healthTimeout: 5, requestedBy: by)),
            Message(RestoreRequest(id: 2, mode: .swap, artifact: name, size: 3, sha256: sha, manifest: nil, trustUnsigned: true,
                                   force: false, healthTimeout: 5, requestedBy: by)),
            Message(RestoreReady(id: 1, targetDatabase: "t", runningAuthentikVersion: nil, warnings: [])),
            Message(RestoreResult(id: 1, receipt: receipt)), Message(UndoRequest(id: 1, healthTimeout: 5, requestedBy: by)),
            Message(DatabasesRequest(id: 1)), Message(DatabasesResult(id: 1, databases: [])),
            Message(DropDatabaseRequest(id: 1, name: "authentik")), Message(DropDatabaseRequest(id: 1, name: "authentik_pre_restore_20270115080000")),
            Message(ReceiptStore(id: 1, name: "r.json", receipt: receipt)), Message(ReceiptsRequest(id: 1)),
            Message(ReceiptsResult(id: 1, receipts: [], total: 0)),
            Message(UndoPruneRequest(id: 1, dryRun: false)), Message(UndoPruneRequest(id: 2, dryRun: true)),
            Message(UndoPruneResult(id: 1, dryRun: false, report: UndoReport(checkedAt: "2027-01-15T08:00:00Z", policy: UndoPolicy(keepNewest: 1, maxAgeDays: 7, failedMaxAgeDays: 1, warnPercent: 50),
                                                                              databases: [], volumeBytes: 1, volumeFreeBytes: 1))),
            // Retention (§14).
            Message(PruneRequest(id: 1, dryRun: false)), Message(PinRequest(id: 1, name: name, pinned: true, reason: "r", requestedBy: by)),
            Message(PruneResult(id: 1, dryRun: true, policy: RetentionPolicyInfo(configured: false, text: "t", keepLast: 0, keepHourly: 0, keepDaily: 0,
                                                                                 keepWeekly: 0, keepMonthly: 0, keepYearly: 0, keepWithin: nil,
                                                                                 minAge: "1d", minKeep: 3),
                                total: 0, kept: 0, removed: 0, bytesFreed: 0, bytesKept: 0, keptBy: [], offset: 0, decisions: [], freeBytes: nil)),
        ]
        XCTAssertEqual(Set(all.map(\.type)), Set(MessageCatalog.knownTypes), "a seed of every message type")
        return all
    }

    /// A stream of frames: seeds as they are, mutated, raw data and garbage.
    static func stream(_ rng: inout Rng, seeds: [Message]) -> [UInt8] {
        var out: [UInt8] = []
        for _ in 0..<(1 + rng.below(6)) {
            var payload = MessageCodec.encode(seeds[rng.below(seeds.count)])
            switch rng.below(6) {
            case 0, 1: break
            case 2: for _ in 0..<(1 + rng.below(4)) where !payload.isEmpty { payload[rng.below(payload.count)] ^= UInt8(truncatingIfNeeded: 1 << rng.below(8)) }
            case 3: payload = Array(payload.prefix(rng.below(payload.count)))
            case 4: payload = (0..<rng.below(64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            default:
                // a number out of range
                let text = String(decoding: payload, as: UTF8.self)
                payload = Array(text.replacingOccurrences(of: "\"healthTimeout\":5", with: "\"healthTimeout\":-1")
                    .replacingOccurrences(of: "\"size\":3", with: "\"size\":99999999999999999").utf8)
            }
            out += Frame.header(length: payload.count) + payload
            if rng.below(4) == 0 { out += [0x80, 0, 0, 0] }            // a heartbeat
            if rng.below(5) == 0 { out += Frame.header(length: 3) + [1, 2, 3] + Frame.header(length: 0) }
        }
        if rng.below(4) == 0 { out = Array(out.prefix(rng.below(out.count + 1))) }
        return out
    }

    func testRandomStreamsThroughTheRealAgentHandlers() throws {
        let seeds = try Self.seeds()
        var rng = Rng(state: 0x9E3779B97F4A7C15)
        let iterations = 1500
        for i in 0..<iterations {
            let db = FakeDatabase(), app = FakeApp()
            let (serverEnd, clientEnd) = InProcessPipe.makePair(capacity: 1 << 20, writeStallTimeout: 2)
            var timing = ServerSession.Timing()
            timing.peerTimeout = 2
            timing.helloTimeout = 2
            timing.requestIdleTimeout = 2
            let session = ServerSession(channel: serverEnd, hello: Hello(role: .agent, host: "infra-core"), timing: timing, log: { _ in })
            let ended = DispatchSemaphore(value: 0)
            let context = Harness.context(db: db, app: app)
            Thread {
                _ = AgentServer.serve(session: session, context: context, configSource: "fuzz")
                serverEnd.close()
                ended.signal()
            }.start()
            // A reader drains the agent's answers so it never stalls on us.
            Thread {
                while let b = try? clientEnd.read(maxLength: 65536), !b.isEmpty {}
            }.start()
            var bytes = MessageCodec.frame(Message(Hello(role: .controller, host: "fuzz")))
            bytes += Self.stream(&rng, seeds: seeds)
            try? clientEnd.write(bytes)
            try? clientEnd.closeWrite()
            XCTAssertEqual(ended.wait(timeout: .now() + 30), .success, "iteration \(i): the agent hung")
            clientEnd.close()
            XCTAssertEqual(db.databases["authentik"], FakeDatabase.sample, "iteration \(i): live changed: \(db.calls)")
            XCTAssertFalse(app.calls.contains("stop"), "iteration \(i): the services were stopped: \(db.calls)")
            XCTAssertFalse(db.calls.contains { $0.hasPrefix("replay") }, "iteration \(i): bytes reached psql: \(db.calls)")
        }
    }
}
