import Foundation
import XCTest
import AKBase
import Transport

/// The programs a conformance case needs on the other end of a channel.
enum TestPeer: Sendable {
    case echo                       // copies input to output until EOF (cat)
    case exit(Int32)                // exits at once with this status, reading nothing
    case stderrThenExit(String)     // writes a line to stderr, exits 0
    case silentEcho                 // cat that never gets our EOF in time: used to test a cut link

    /// The shell command line for transports that run one (SSH exec).
    var command: String {
        switch self {
        case .echo, .silentEcho: return "cat"
        case .exit(let s): return "exit \(s)"
        case .stderrThenExit(let msg): return "echo '\(msg)' >&2"
        }
    }

    var argv: [String] {
        switch self {
        case .echo, .silentEcho: return ["/bin/cat"]
        case .exit(let s): return ["/bin/sh", "-c", "exit \(s)"]
        case .stderrThenExit(let msg): return ["/bin/sh", "-c", "echo \"$1\" >&2", "sh", msg]
        }
    }
}

/// What an implementation under test can report; in-process ends have no exit status or stderr.
struct ChannelFactory: Sendable {
    var reportsTermination: Bool
    var make: @Sendable (TestPeer) throws -> ByteChannel
}

/// The cases every ByteChannel must pass, written once.
struct ConformanceSuite: Sendable {
    let factory: ChannelFactory

    func readAll(_ ch: ByteChannel, deadline: TimeInterval = 60) throws -> [UInt8] {
        var out: [UInt8] = []
        let end = Date().addingTimeInterval(deadline)
        while Date() < end {
            let chunk = try ch.read(maxLength: 65536)
            if chunk.isEmpty { return out }
            out += chunk
        }
        XCTFail("no EOF within \(deadline)s")
        return out
    }

    func roundTripSmall() throws {
        let ch = try factory.make(.echo)
        defer { ch.close() }
        let msg = Array("hello, channel\n".utf8)
        try ch.write(msg)
        var got: [UInt8] = []
        while got.count < msg.count {
            let chunk = try ch.read(maxLength: 1024)
            XCTAssertFalse(chunk.isEmpty, "EOF before the echo arrived")
            if chunk.isEmpty { return }
            got += chunk
        }
        XCTAssertEqual(got, msg)
    }

    /// 32 MiB through an echo peer while reading concurrently: with any hidden
    /// half-duplex step this deadlocks once both directions' buffers fill.
    func roundTripLargeFullDuplex(size: Int = 32 << 20) throws {
        let ch = try factory.make(.echo)
        defer { ch.close() }
        var data = [UInt8](repeating: 0, count: size)
        var x: UInt32 = 2463534242
        for i in 0..<size { x ^= x << 13; x ^= x >> 17; x ^= x << 5; data[i] = UInt8(truncatingIfNeeded: x) }

        let received = ResultBox<[UInt8]>()
        let reader = Thread {
            do { received.set(.success(try self.readAll(ch, deadline: 120))) } catch { received.set(.failure(error)) }
        }
        reader.start()
        var offset = 0
        while offset < size {
            let n = min(100_003, size - offset)   // odd size: crosses packet boundaries
            try ch.write(Array(data[offset..<(offset + n)]))
            offset += n
        }
        try ch.closeWrite()
        guard let result = received.wait(seconds: 120) else { return XCTFail("reader did not finish: deadlock?") }
        let got = try result.get()
        XCTAssertEqual(got.count, size)
        XCTAssertTrue(got == data, "echoed bytes differ")
    }

    func eofAfterCloseWrite() throws {
        let ch = try factory.make(.echo)
        defer { ch.close() }
        try ch.write(Array("abc".utf8))
        try ch.closeWrite()
        XCTAssertEqual(try readAll(ch, deadline: 20), Array("abc".utf8))
        XCTAssertEqual(try ch.read(maxLength: 10), [], "EOF must be sticky")
    }

    func readAfterPeerExitIsEmpty() throws {
        let ch = try factory.make(.exit(0))
        defer { ch.close() }
        XCTAssertEqual(try readAll(ch, deadline: 20), [])
    }

    func exitStatusCollected() throws {
        guard factory.reportsTermination else { return }
        let ch = try factory.make(.exit(3))
        _ = try readAll(ch, deadline: 20)
        let t = ch.close()
        XCTAssertEqual(t.exitStatus, 3, t.summary)
        XCTAssertNil(t.signal)
        XCTAssertEqual(ch.close(), t, "close must be idempotent")
    }

    func stderrTailCaptured() throws {
        guard factory.reportsTermination else { return }
        let ch = try factory.make(.stderrThenExit("oops"))
        _ = try readAll(ch, deadline: 20)
        let t = ch.close()
        XCTAssertEqual(t.exitStatus, 0)
        XCTAssertEqual(t.stderrTail, ["oops"])
    }

    /// A peer that says nothing: a read with a timeout gives up with kind `timeout`, not a hang.
    func readWithTimeoutGivesUp() throws {
        let ch = try factory.make(.silentEcho)
        defer { ch.close() }
        let started = Date()
        XCTAssertThrowsError(try ch.read(maxLength: 1024, timeout: 0.3)) { error in
            XCTAssertEqual((error as? TransportError)?.kind, .timeout, "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        // The channel still works afterwards.
        try ch.write(Array("x".utf8))
        XCTAssertEqual(try ch.read(maxLength: 1, timeout: 10), Array("x".utf8))
    }

    /// The peer is gone; writing must fail rather than block forever once buffers fill.
    func writeToDeadPeerThrows() throws {
        let ch = try factory.make(.exit(0))
        defer { ch.close() }
        XCTAssertEqual(try readAll(ch, deadline: 20), [])   // peer is now gone
        let done = ResultBox<Error?>()
        let writer = Thread {
            let chunk = [UInt8](repeating: 7, count: 1 << 16)
            for _ in 0..<(64 << 4) {   // 64 MiB: more than any buffer along the way
                do { try ch.write(chunk) } catch { done.set(.success(error)); return }
            }
            done.set(.success(nil))
        }
        writer.start()
        guard let r = done.wait(seconds: 30) else { return XCTFail("write to a dead peer hangs") }
        let err = try r.get()
        XCTAssertNotNil(err, "64 MiB written to a dead peer without error")
        if let te = err as? TransportError { XCTAssertTrue([.io, .remoteProgram, .closed].contains(te.kind), "\(te)") }
        else { XCTFail("not a TransportError: \(String(describing: err))") }
    }
}

/// A one-shot result handed from a worker thread, waited for with a deadline.
final class ResultBox<T: Sendable>: Sendable {
    private let value = Monitor<Result<T, SendableError>?>(nil)
    struct SendableError: Error, @unchecked Sendable { let error: Error }   // errors cross threads once, read-only
    func set(_ v: Result<T, Error>) { value.update { $0 = v.mapError { SendableError(error: $0) } } }
    func wait(seconds: TimeInterval) -> Result<T, Error>? {
        value.wait(until: Date().addingTimeInterval(seconds)) { $0 }.map { $0.mapError { $0.error } }
    }
}

/// Polls a condition until it holds or the deadline passes (no fixed sleeps as synchronisation).
func waitUntil(seconds: TimeInterval, _ cond: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if cond() { return true }
        usleep(10_000)
    }
    return cond()
}
