import AKProtocol
import Foundation
import ProtocolSession
import Transport
import XCTest

/// Random and mutated frames through FrameDecoder + MessageCodec and through a ServerSession.
/// The seed is printed; rerun a failure with AKPROTO_FUZZ_SEED=<seed>. AKPROTO_FUZZ_CASES overrides the count.
final class FuzzTests: XCTestCase {
    private struct Gen {
        var rng: SplitMix64

        mutating func int(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        mutating func chance(_ percent: Int) -> Bool { int(100) < percent }

        mutating func string() -> String {
            let pieces = ["a", "Z", "0", " ", "/", "\\", "\"", "\n", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "日本", "🙂", "\u{2028}",
                          "{", "}", "[", "]", ",", ":", "hello", "type", "probe"]
            return (0..<int(12)).map { _ in pieces[int(pieces.count)] }.joined()
        }

        mutating func id() -> UInt64 { chance(20) ? [0, 1, UInt64.max, UInt64(Int64.max)][int(4)] : UInt64(int(50)) }

        mutating func message() -> Message {
            switch int(9) {
            case 0:
                let role: Role = [.agent, .receiver, .controller][int(3)]
                return Message(Hello(role: role, protocolVersion: chance(90) ? AKVersion.protocolVersion : int(4), software: string(), host: string(),
                                     capabilities: (0..<int(4)).map { _ in string() }))
            case 1: return Message(ProbeRequest(id: id()))
            case 2:
                return Message(ProbeResult(id: id(), checks: (0..<int(4)).map { _ in
                    Check(name: string(), ok: chance(50), detail: string(), hint: chance(50) ? string() : nil, warning: chance(20) ? chance(50) : nil)
                }))
            case 3:
                let codes: [ErrorCode] = [.protocolError, .versionMismatch, .badRequest, .unsupported, .busy, .notFound, .ioError,
                                          .noSpace, .failed, .cancelled, .untrusted, .internalError, .other]
                return Message(ErrorMessage(id: chance(30) ? nil : id(), code: codes[int(codes.count)], message: string(), hint: string()))
            case 4: return Message(CancelRequest(id: id()))
            case 5: return Message(ProgressReport(id: id(), phase: string(), bytes: chance(10) ? Int64.min : Int64(int(1 << 30))))
            case 6: return Message(BackupRequest(id: id(), threads: chance(50) ? nil : int(20) - 2))
            case 7:
                // Any message of the catalogue, signed documents included.
                return ValidCatalogue.messages[int(ValidCatalogue.messages.count)].1
            default: return Message(DataHeader(id: id(), stream: string()))
            }
        }

        /// A plausible controller → remote stream: requests, cancels, data streams, heartbeats after the first frame.
        mutating func validStream() -> [UInt8] {
            var out: [UInt8] = []
            func beat() { if !out.isEmpty && chance(15) { out += Frame.heartbeat } }
            for _ in 0..<int(5) {
                beat()
                switch int(4) {
                case 0:
                    let h = DataHeader(id: id(), stream: string())
                    out += MessageCodec.frame(Message(h))
                    for _ in 0..<int(3) {
                        beat()
                        out += Frame.encode((0..<int(40)).map { _ in UInt8(truncatingIfNeeded: int(256)) } + [1])
                    }
                    beat()
                    out += Frame.encode([])
                case 1: out += MessageCodec.frame(Message(CancelRequest(id: id())))
                case 2: out += MessageCodec.frame(message())
                default: out += MessageCodec.frame(Message(ProbeRequest(id: id())))
                }
            }
            return out
        }

        mutating func randomBytes() -> [UInt8] { (0..<int(64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }

        /// JSON-looking text in a well-formed frame.
        mutating func jsonish() -> [UInt8] {
            let tokens = ["{", "}", "[", "]", ",", ":", "\"type\"", "\"id\"", "\"hello\"", "\"probe\"", "\"probe.result\"", "\"error\"",
                          "\"cancel\"", "\"progress\"", "\"data\"", "\"checks\"", "\"code\"", "1", "-1", "1e3", "true", "null", "\"x\"",
                          "\"\\u00e9\"", "\"\\ud800\"", " ", "\"", "\\", String(repeating: "[", count: 17)]
            var s = chance(80) ? "{" : ""
            for _ in 0..<int(30) { s += tokens[int(tokens.count)] }
            if chance(60) { s += "}" }
            return Frame.encode(Array(s.utf8))
        }

        mutating func mutate(_ input: [UInt8]) -> [UInt8] {
            var b = input
            for _ in 0..<(1 + int(3)) {
                switch int(11) {
                case 0 where !b.isEmpty: b[int(b.count)] ^= UInt8(1 << int(8))                         // bit flip
                case 1 where !b.isEmpty: b = Array(b.prefix(int(b.count)))                             // truncate
                case 2: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: int(b.count + 1))         // insert
                case 3 where !b.isEmpty: b.remove(at: int(b.count))                                    // delete
                case 4 where b.count >= 4:                                                             // length prefix off by a bit
                    let n = UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
                    let m = [n &+ 1, n &- 1, UInt32(ProtocolLimits.maxFramePayload), UInt32(ProtocolLimits.maxFramePayload + 1),
                             UInt32.max, 0][int(6)]
                    b.replaceSubrange(0..<4, with: Frame.header(length: Int(m)))
                case 5 where !b.isEmpty:                                                               // duplicate a slice
                    let i = int(b.count), j = min(b.count, i + int(16))
                    b.insert(contentsOf: b[i..<j], at: int(b.count + 1))
                case 6: b = Array("Welcome to infra-core\n".utf8).prefix(int(23)) + b                 // banner in front
                case 7 where !b.isEmpty: b[int(b.count)] = [0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0xFF, 0xC0, 0x00][int(10)]
                case 8: b.insert(contentsOf: Frame.heartbeat, at: int(b.count + 1))                      // a heartbeat anywhere
                case 9 where !b.isEmpty:                                                               // a digit changed: ranges
                    if let i = b.indices.filter({ (0x30...0x39).contains(b[$0]) }).randomElement(using: &rng) { b[i] = UInt8(0x30 + int(10)) }
                default: b += MessageCodec.frame(message())                                            // splice
                }
            }
            return b
        }

        mutating func fuzzCase() -> [UInt8] {
            switch int(6) {
            case 0: return randomBytes()
            case 1: return jsonish()
            case 2: return validStream()
            case 3: return mutate(validStream())
            case 4: return mutate(MessageCodec.frame(message()))
            default: return mutate(jsonish())
            }
        }
    }

    private var seed: UInt64 {
        if let s = ProcessInfo.processInfo.environment["AKPROTO_FUZZ_SEED"], let v = UInt64(s) { return v }
        return UInt64.random(in: 1...UInt64(UInt32.max))
    }
    private var cases: Int { ProcessInfo.processInfo.environment["AKPROTO_FUZZ_CASES"].flatMap(Int.init) ?? 10_000 }

    private func result(_ chunks: [[UInt8]]) -> Result<[Incoming], ProtocolError>? {
        do { return .success(try Pipeline.decodeStream(chunks)) } catch let e as ProtocolError { return .failure(e) } catch { return nil }
    }

    private static func normalized(_ r: Result<[Incoming], ProtocolError>) -> Result<[Incoming], ProtocolError> {
        if case .failure(.nonProtocolOutput) = r { return .failure(.nonProtocolOutput(preview: "")) }
        return r
    }

    func testFuzzFrameDecoderAndCodec() throws {
        let seed = self.seed
        print("FuzzTests.testFuzzFrameDecoderAndCodec seed: \(seed) (rerun with AKPROTO_FUZZ_SEED=\(seed))")
        var gen = Gen(rng: SplitMix64(seed: seed))
        var accepted = 0, rejected = [String: Int]()
        for n in 0..<cases {
            let input = gen.fuzzCase()
            guard let whole = result([input]) else { return XCTFail("case \(n): a non-ProtocolError was thrown; seed \(seed)") }
            // The outcome does not depend on how the bytes were split.
            // (A banner's preview shows what had arrived; only its kind must agree.)
            let split = result(Pipeline.randomSplits(input, using: &gen.rng)).map(Self.normalized)
            XCTAssertEqual(split, Self.normalized(whole), "case \(n): split decoding differs; seed \(seed); input \(Hex.encode(input))")
            switch whole {
            case .success(let items):
                accepted += 1
                for case .message(let m) in items {
                    // Whatever is accepted re-encodes canonically, decodes to the same value, and may be sent again.
                    XCTAssertEqual(try MessageCodec.decode(MessageCodec.encode(m)), m, "case \(n); seed \(seed)")
                    XCTAssertNoThrow(try MessageCodec.checkedFrame(m), "case \(n); seed \(seed)")
                }
            case .failure(let e):
                rejected[caseName(e), default: 0] += 1
            }
            if testRun?.failureCount ?? 0 > 20 { return }
        }
        print("fuzz: \(cases) cases, \(accepted) accepted, rejected: \(rejected.sorted { $0.key < $1.key })")
        XCTAssertGreaterThan(accepted, cases / 20, "the generator should produce some valid streams")
        XCTAssertGreaterThan(rejected.count, 5, "the generator should hit many kinds of error")
    }

    func testFuzzServerSession() throws {
        let seed = self.seed
        print("FuzzTests.testFuzzServerSession seed: \(seed) (rerun with AKPROTO_FUZZ_SEED=\(seed))")
        var gen = Gen(rng: SplitMix64(seed: seed))
        var outcomes = [ServerSession.SessionEnd: Int]()
        for n in 0..<cases {
            let role: Role = n % 2 == 0 ? .agent : .receiver
            var input: [UInt8] = gen.chance(90) ? MessageCodec.frame(Message(Hello(role: .controller, host: "laptop"))) : []
            input += gen.fuzzCase()
            let toServer = MemoryPipe(), fromServer = MemoryPipe()
            try toServer.write(input, peer: "fuzz")
            toServer.closeWriter()
            let channel = MemoryChannel(inbound: toServer, outbound: fromServer, peerName: "controller",
                                        readLimit: gen.chance(20) ? 1 + gen.int(8) : .max)
            let hello = Hello(role: role, host: "infra-core", capabilities: ["probe"])
            guard let outcome = Fixtures.bounded(seconds: 20, {
                ServerSession(channel: channel, hello: hello, log: { _ in }).run(handler: Fixtures.handler)
            }) else {
                return XCTFail("case \(n): the server session hung; seed \(seed); input \(Hex.encode(input))")
            }
            outcomes[outcome, default: 0] += 1
            XCTAssertNotEqual(outcome, .linkLost, "case \(n): nothing cut the link; seed \(seed)")
            // Everything the server wrote is valid protocol: its hello first, and an error last if it gave up.
            fromServer.closeWriter()
            do {
                let out = try Pipeline.decodeStream([fromServer.allWritten])
                XCTAssertEqual(out.first, .message(Message(hello)), "case \(n); seed \(seed)")
                if outcome == .protocolViolation || outcome == .versionMismatch {
                    guard let e = out.last?.message(ErrorMessage.self) else {
                        XCTFail("case \(n): no error before exit \(outcome.rawValue); seed \(seed)"); continue
                    }
                    XCTAssertEqual(e.code, outcome == .protocolViolation ? .protocolError : .versionMismatch)
                    XCTAssertNil(e.id)
                }
            } catch {
                XCTFail("case \(n): the server wrote invalid protocol: \(error); seed \(seed); input \(Hex.encode(input))")
            }
            if testRun?.failureCount ?? 0 > 20 { return }
        }
        print("fuzz server: \(cases) cases, outcomes: \(outcomes.map { "\($0.key)=\($0.value)" }.sorted())")
        XCTAssertGreaterThan(outcomes[.clean, default: 0], 0)
        XCTAssertGreaterThan(outcomes[.protocolViolation, default: 0], 0)
    }
}
