import AKProtocol
import Crypto
import Foundation
import ProtocolSession
import Transport
import XCTest

// MARK: - Locating the repository (no SwiftPM resources)

enum Repo {
    /// The package root, found from this file's path: Tests/AKProtocolTests/Support.swift.
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let vectors = root.appendingPathComponent("protocol/vectors")

    static func hexFiles(_ dir: String) throws -> [URL] {
        let url = vectors.appendingPathComponent(dir)
        return try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "hex" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }
}

/// The second implementations in protocol/ (Python): runs one and returns its output when it passed.
/// Skips with its message when python3 (exit 127) or the script's module (exit 3) is missing, except
/// in CI (CI=true), where that fails.
enum PythonChecker {
    static func run(_ script: String, file: StaticString = #filePath, line: UInt = #line) throws -> String? {
        let inCI = ProcessInfo.processInfo.environment["CI"] == "true"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Repo.root.appendingPathComponent(script).path]
        process.currentDirectoryURL = Repo.root
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        do {
            try process.run()
        } catch {
            if inCI { XCTFail("cannot run python3: \(error)", file: file, line: line); return nil }
            throw XCTSkip("python3 is not available: \(error)")
        }
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let status = process.terminationStatus
        if (status == 127 || status == 3) && !inCI {
            throw XCTSkip("\(script) skipped: \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        XCTAssertEqual(status, 0, "\(script) failed:\n\(output)", file: file, line: line)
        return status == 0 ? output : nil
    }
}

enum Hex {
    /// Bytes of a hex file; whitespace and `#` comments to the end of a line are ignored.
    static func decode(_ text: String) throws -> [UInt8] {
        var digits: [UInt8] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            for c in content.utf8 where !(c == 0x20 || c == 0x09 || c == 0x0D) {
                digits.append(c)
            }
        }
        guard digits.count % 2 == 0 else { throw HexError.oddLength }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let hi = nibble(digits[i]), let lo = nibble(digits[i + 1]) else { throw HexError.badDigit }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    static func encode(_ bytes: [UInt8]) -> String {
        let table = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(table[Int(b >> 4)])
            out.append(table[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }

    enum HexError: Error { case oddLength, badDigit }

    static func read(_ url: URL) throws -> [UInt8] {
        try decode(String(contentsOf: url, encoding: .utf8))
    }
}

/// The Swift case name of a ProtocolError, as written in `invalid/NAME.expect`.
func caseName(_ error: ProtocolError) -> String {
    switch error {
    case .frameTooLarge: return "frameTooLarge"
    case .truncatedFrame: return "truncatedFrame"
    case .invalidUTF8: return "invalidUTF8"
    case .invalidJSON: return "invalidJSON"
    case .limitExceeded: return "limitExceeded"
    case .unknownMessageType: return "unknownMessageType"
    case .outOfSequence: return "outOfSequence"
    case .nonProtocolOutput: return "nonProtocolOutput"
    case .versionMismatch: return "versionMismatch"
    case .wrongRole: return "wrongRole"
    }
}

// MARK: - Frame/codec pipeline

enum Pipeline {
    /// Everything a stream of bytes decodes to, or the first ProtocolError.
    /// Tracks data streams the way FramedChannel does: after a `data` message, frames are raw until an empty one.
    static func decodeStream(_ chunks: [[UInt8]]) throws -> [Incoming] {
        var decoder = FrameDecoder()
        var items: [Incoming] = []
        var openData: UInt64?
        func drain() throws {
            while let payload = try decoder.next() {
                if let id = openData {
                    if payload.isEmpty { openData = nil; items.append(.endOfData(id: id)) } else { items.append(.chunk(payload)) }
                    continue
                }
                let m = try MessageCodec.decode(payload)
                if let h = m.as(DataHeader.self) { openData = h.id }
                items.append(.message(m))
            }
        }
        for chunk in chunks {
            decoder.push(chunk)
            try drain()
        }
        try decoder.finish()
        if let id = openData { throw ProtocolError.outOfSequence("stream ended inside data of request \(id)") }
        return items
    }

    /// `bytes` (a valid stream of whole frames) with a heartbeat frame after every frame but the last:
    /// between messages and inside data streams, never before the first frame.
    static func withHeartbeats(_ bytes: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i + 4 <= bytes.count {
            let n = Int(UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3]))
            out += bytes[i..<(i + 4 + n)]
            i += 4 + n
            if i < bytes.count { out += Frame.heartbeat }
        }
        return out
    }

    /// Splits `bytes` at random points.
    static func randomSplits(_ bytes: [UInt8], using rng: inout SplitMix64) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        while i < bytes.count {
            let n = Int(rng.next() % UInt64(min(bytes.count - i, 97))) + 1
            out.append(Array(bytes[i..<(i + n)]))
            i += n
        }
        return out
    }
}

// MARK: - Reproducible PRNG

struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// MARK: - In-memory ByteChannel test double

/// One direction of an in-memory byte stream. Writes never block (unbounded), reads block until
/// data or end of stream. Once the reader is gone, writes fail like EPIPE.
final class MemoryPipe: @unchecked Sendable {
    private let cond = NSCondition()
    private var buffer: [UInt8] = []
    private var writerClosed = false
    private var readerClosed = false
    /// Total bytes ever written (for tests that inspect the stream).
    private(set) var written: [UInt8] = []

    func write(_ bytes: [UInt8], peer: String) throws {
        cond.lock(); defer { cond.unlock() }
        if readerClosed || writerClosed {
            throw TransportError(.io, host: peer, "write to a closed pipe", hint: "the peer went away")
        }
        buffer.append(contentsOf: bytes)
        written.append(contentsOf: bytes)
        cond.broadcast()
    }

    /// Nil when `deadline` passed with nothing to read.
    func read(maxLength: Int, deadline: Date? = nil) -> [UInt8]? {
        cond.lock(); defer { cond.unlock() }
        while buffer.isEmpty && !writerClosed && !readerClosed {
            if let deadline {
                if !cond.wait(until: deadline) && Date() >= deadline && buffer.isEmpty && !writerClosed && !readerClosed { return nil }
            } else {
                cond.wait()
            }
        }
        if buffer.isEmpty { return [] }
        let n = min(maxLength, buffer.count)
        let out = Array(buffer[0..<n])
        buffer.removeFirst(n)
        return out
    }

    func closeWriter() { cond.lock(); writerClosed = true; cond.broadcast(); cond.unlock() }
    func closeReader() { cond.lock(); readerClosed = true; buffer.removeAll(); cond.broadcast(); cond.unlock() }

    var allWritten: [UInt8] { cond.lock(); defer { cond.unlock() }; return written }
}

final class MemoryChannel: ByteChannel, @unchecked Sendable {
    let inbound: MemoryPipe
    let outbound: MemoryPipe
    let peerName: String
    /// Largest number of bytes one `read` returns (1 = byte by byte).
    var readLimit: Int
    /// What `close()` reports (the test plays the role of the process supervisor).
    var termination: ChannelTermination
    private let lock = NSLock()
    private var closed = false

    init(inbound: MemoryPipe, outbound: MemoryPipe, peerName: String, readLimit: Int = .max,
         termination: ChannelTermination = ChannelTermination()) {
        self.inbound = inbound
        self.outbound = outbound
        self.peerName = peerName
        self.readLimit = readLimit
        self.termination = termination
    }

    /// Two connected ends: what `a` writes, `b` reads, and the other way round.
    static func pair(readLimit: Int = .max) -> (controller: MemoryChannel, remote: MemoryChannel) {
        let toRemote = MemoryPipe(), toController = MemoryPipe()
        return (MemoryChannel(inbound: toController, outbound: toRemote, peerName: "infra-core", readLimit: readLimit),
                MemoryChannel(inbound: toRemote, outbound: toController, peerName: "controller", readLimit: readLimit))
    }

    /// A channel whose peer already wrote `bytes` and closed its side.
    static func scripted(_ bytes: [UInt8], readLimit: Int = .max) -> MemoryChannel {
        let inbound = MemoryPipe()
        try! inbound.write(bytes, peer: "script")
        inbound.closeWriter()
        return MemoryChannel(inbound: inbound, outbound: MemoryPipe(), peerName: "infra-core", readLimit: readLimit)
    }

    func write(_ bytes: [UInt8]) throws { try outbound.write(bytes, peer: peerName) }
    func read(maxLength: Int, timeout: TimeInterval?) throws -> [UInt8] {
        guard let bytes = inbound.read(maxLength: min(maxLength, readLimit), deadline: timeout.map { Date().addingTimeInterval($0) }) else {
            throw TransportError.silent(peerName, seconds: timeout ?? 0)
        }
        return bytes
    }
    func closeWrite() throws { outbound.closeWriter() }

    @discardableResult func close() -> ChannelTermination {
        lock.lock(); defer { lock.unlock() }
        if !closed {
            closed = true
            outbound.closeWriter()
            inbound.closeReader()
        }
        return termination
    }
}

// MARK: - Running a server with a bound

enum Fixtures {
    static let fixedChecks = [Check(name: "disk", ok: true, detail: "42 GiB free"),
                              Check(name: "zfs", ok: false, detail: "pool tank degraded", hint: "zpool status tank")]

    /// Answers probe with a fixed result, anything else with `unsupported`.
    static func handler(_ message: Message, _ session: ServerSession) throws {
        switch message.body {
        case let p as ProbeRequest:
            try session.send(ProbeResult(id: p.id, checks: fixedChecks))
        default:
            throw ErrorMessage(id: message.requestID, code: .unsupported, message: "\(message.type) is not supported here",
                               hint: "upgrade the remote program")
        }
    }

    /// Runs `body` on another thread and waits at most `seconds`; nil if it did not finish (a hang).
    static func bounded<T>(seconds: Double = 10, _ body: @escaping @Sendable () -> T) -> T? {
        let done = DispatchSemaphore(value: 0)
        let box = Box<T>()
        Thread.detachNewThread {
            box.value = body()
            done.signal()
        }
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        return box.value
    }

    final class Box<T>: @unchecked Sendable { var value: T? }

    /// Waits until `condition` holds, polling, for at most `seconds`; whether it held.
    static func eventually(seconds: Double = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return condition()
    }
}

/// Counts heartbeat frames and payload frames in what a side wrote (a whole stream of frames).
func frameCensus(_ bytes: [UInt8]) -> (heartbeats: Int, payloads: Int) {
    var decoder = FrameDecoder()
    decoder.push(bytes)
    var heartbeats = 0, payloads = 0
    while let frame = try? decoder.nextFrame() {
        if frame == .heartbeat { heartbeats += 1 } else { payloads += 1 }
    }
    return (heartbeats, payloads)
}

// MARK: - Fixed signing keys (protocol/vectors/signature/README.md)

/// The test vectors' Ed25519 keys: the secret keys (seeds) of RFC 8032 §7.1 TEST 1 and TEST 2, so
/// anyone can check them against the RFC. Never use them for anything but tests.
enum TestKeys {
    /// RFC 8032 §7.1 TEST 1: the key "the agent" signs the vectors with.
    static let agentSeedHex = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
    /// RFC 8032 §7.1 TEST 2: "another agent", one the verifier does not trust.
    static let otherSeedHex = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"

    static var agent: Curve25519.Signing.PrivateKey { try! Curve25519.Signing.PrivateKey(rawRepresentation: try! Hex.decode(agentSeedHex)) }
    static var other: Curve25519.Signing.PrivateKey { try! Curve25519.Signing.PrivateKey(rawRepresentation: try! Hex.decode(otherSeedHex)) }
    static var agentPublic: AgentPublicKey { AgentPublicKey(raw: [UInt8](agent.publicKey.rawRepresentation))! }
    static var otherPublic: AgentPublicKey { AgentPublicKey(raw: [UInt8](other.publicKey.rawRepresentation))! }

    /// `document` signed with `key` (default: the agent's).
    static func signed<D: SignedDocument>(_ document: D, with key: Curve25519.Signing.PrivateKey = agent) -> D {
        var d = document
        try! d.sign(with: key)
        return d
    }
}
