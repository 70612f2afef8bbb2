import AKBase
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The server side of a session: our stdin is what the controller writes, our stdout what it reads.
/// Used by the agent and the receiver when run as `serve` (an SSH forced command).
///
/// Nothing here waits forever: a read gives up after its timeout, and a write that the controller
/// does not take for `writeStallTimeout` seconds (it stopped reading, or the link died with a full
/// window) fails, so a hostile or dead controller cannot hold a lock or a pg_dump open. Wraps the
/// process's descriptors 0 and 1, hence `@unchecked Sendable`: they are closed once, under `lock`.
public final class StdioChannel: ByteChannel, @unchecked Sendable {
    private let input: Int32
    private let output: Int32
    private let lock = NSLock()
    private var writeClosed = false
    private let writeStallTimeout: TimeInterval
    public let peerName: String

    public init(input: Int32 = 0, output: Int32 = 1, peerName: String = "controller", writeStallTimeout: TimeInterval = 60) {
        self.input = input
        self.output = output
        self.peerName = peerName
        self.writeStallTimeout = writeStallTimeout
        Signals.ignoreSIGPIPE()
        // Non-blocking stdout: a write waits in poll(), where it can give up.
        _ = fcntl(output, F_SETFL, fcntl(output, F_GETFL) | O_NONBLOCK)
    }

    public func write(_ bytes: [UInt8]) throws {
        lock.lock()
        let closed = writeClosed
        lock.unlock()
        guard !closed else { throw TransportError(.closed, host: peerName, "write after close", hint: "this is a bug in akbackup") }
        switch FileIO.writeAll(output, bytes, stallTimeout: writeStallTimeout) {
        case .written: return
        case .failed(let code):
            throw TransportError(.io, host: peerName, "writing to stdout failed: \(String(cString: strerror(code)))",
                                 hint: "the controller or the SSH link went away")
        case .stalled:
            throw TransportError.stalled(peerName, seconds: writeStallTimeout)
        }
    }

    public func read(maxLength: Int, timeout: TimeInterval?) throws -> [UInt8] {
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        var buffer = [UInt8](repeating: 0, count: maxLength)
        while true {
            if let deadline {
                let left = deadline.timeIntervalSinceNow
                if left <= 0 { throw TransportError.silent(peerName, seconds: timeout ?? 0) }
                var p = pollfd(fd: input, events: Int16(POLLIN), revents: 0)
                let r = poll(&p, 1, Int32(min(left, 1) * 1000) + 1)
                if r == 0 || (r < 0 && errno == EINTR) { continue }
            }
            let n = buffer.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress!, maxLength) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw TransportError(.io, host: peerName, "reading stdin failed: \(String(cString: strerror(errno)))",
                                     hint: "the controller or the SSH link went away")
            }
            return Array(buffer[0..<n])
        }
    }

    public func closeWrite() throws {
        lock.lock()
        defer { lock.unlock() }
        if !writeClosed {
            writeClosed = true
            Glibc.close(output)
        }
    }

    @discardableResult public func close() -> ChannelTermination {
        try? closeWrite()
        return ChannelTermination()
    }
}
