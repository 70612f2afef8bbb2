import AgentHarness
import AKBase
import AKProtocol
@testable import ControllerCore
import Foundation
import ProtocolSession
import Transport
import XCTest

/// A compromised NAS or agent answering with random and mutated frames: every controller job ends
/// with an error it can explain (or an answer), never a crash or a hang.
final class HostileServerTests: XCTestCase {
    struct HostileConnector: Connector {
        let script: @Sendable (Role) -> [UInt8]
        var peerTimeout: TimeInterval { 2 }
        func openChannel(role: Role, remote: ControllerConfig.Remote) throws -> (channel: ByteChannel, checks: [Check]) {
            let (mine, theirs) = InProcessPipe.makePair(capacity: 1 << 20, writeStallTimeout: 2)
            let bytes = script(role)
            Thread {
                // Drain whatever the controller sends, and say our piece.
                Thread { while let b = try? theirs.read(maxLength: 65536), !b.isEmpty {} }.start()
                try? theirs.write(bytes)
                try? theirs.closeWrite()
            }.start()
            return (mine, [])
        }
    }

    func testEveryJobSurvivesAHostileServer() throws {
        let name = "authentik-db-2027-01-15T080000Z.sql.gz"
        let sha = String(repeating: "cd", count: 32)
        let manifest = try Harness.manifest(for: [9], name: name, signedBy: Harness.otherKey)
        let answers: [Message] = [
            Message(ListResult(id: 1, artifacts: [ArtifactInfo(name: name, size: 1, modifiedAt: "x", manifest: manifest, signature: .trusted)],
                               total: 99, freeBytes: 1)),
            Message(VerifyResult(id: 1, name: name, ok: true, reason: nil, sha256: sha, size: 1, uncompressedSize: 1, hasManifest: true,
                                 rowCounts: [:], manifest: manifest, signature: .trusted)),
            Message(ProbeResult(id: 1, checks: [], agent: AgentFacts(database: "authentik", appServices: [], authentikVersion: nil,
                                                                      signingKey: nil, trustedKeys: [Harness.otherKey.publicKey.text]))),
            Message(BackupStarted(id: 1, name: name, startedAt: "x", source: manifest.source)),
            Message(BackupResult(id: 1, manifest: manifest, compressionThreads: 1)), Message(UploadReady(id: 1, freeBytes: nil)),
            Message(UploadResult(id: 1, name: name, size: 1, sha256: sha)), Message(FetchStarted(id: 1, name: name, size: 1, manifest: manifest)),
            Message(DataHeader(id: 1, stream: "artifact")), Message(FetchResult(id: 1, size: 1, sha256: sha)),
            Message(RestoreReady(id: 1, targetDatabase: "x", runningAuthentikVersion: nil, warnings: ["\u{1B}[2J"])),
            Message(ReceiptsResult(id: 1, receipts: [], total: 5000)), Message(ErrorMessage(id: nil, code: .other, message: "\u{1B}]0;x", hint: "")),
            Message(ProgressReport(id: 1, phase: "p", bytes: 1)),
        ]
        var x: UInt64 = 0xA0761D6478BD642F
        func next() -> Int { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return Int(x % 1_000_000) }
        for i in 0..<300 {
            var scripts: [Role: [UInt8]] = [:]
            for role in [Role.agent, .receiver] {
                var out = MessageCodec.frame(Message(Hello(role: role, host: "hostile")))
                for _ in 0..<(next() % 8) {
                    var payload = MessageCodec.encode(answers[next() % answers.count])
                    if next() % 3 == 0, !payload.isEmpty { payload[next() % payload.count] ^= UInt8(1 << (next() % 8)) }
                    out += Frame.header(length: payload.count) + payload
                    if next() % 3 == 0 { out += Frame.header(length: 2) + [7, 7] + Frame.header(length: 0) }
                }
                if next() % 3 == 0 { out = Array(out.prefix(next() % (out.count + 1))) }
                scripts[role] = out
            }
            let frozen = scripts
            let sessions = { HostSessions(config: ControllerConfig(), connector: HostileConnector(script: { frozen[$0] ?? [] })) }
            let jobs: [(String, () throws -> Void)] = [
                ("list", { let s = sessions(); defer { s.close() }; _ = try Catalog.list(sessions: s) }),
                ("status", { let s = sessions(); defer { s.close() }; _ = try Status.run(sessions: s) }),
                ("backup", { let s = sessions(); defer { s.close() }; _ = try BackupRunner(sessions: s).run() }),
                ("restore", { let s = sessions(); defer { s.close() }
                    let r = RestoreRunner(sessions: s, options: RestoreOptions(), archive: ReceiptArchive(directory: NSTemporaryDirectory() + "akb-hostile"))
                    _ = try r.execute(try r.plan()) }),
                ("doctor", { let s = sessions(); defer { s.close() }; _ = Doctor.run(sessions: s) }),
            ]
            for (label, job) in jobs {
                let started = Date()
                do { try job() } catch {
                    XCTAssertTrue(error is HintedError, "iteration \(i), \(label): not an operator error: \(error)")
                    XCTAssertFalse(describeForOperator(error).contains("\u{1B}"), "iteration \(i), \(label): a control character reached the terminal")
                }
                XCTAssertLessThan(Date().timeIntervalSince(started), 20, "iteration \(i), \(label): too slow")
            }
        }
    }
}
