import AKBase
import Foundation

/// A duplex byte stream to one remote program: its stdin is what we write, its stdout is what we read.
///
/// This is the one narrow interface every transport implements (in-process pipe, local
/// subprocess, libssh2). Calls may block; `write` blocks while the peer applies backpressure.
/// Implementations must never deadlock when the peer writes while we write (full duplex).
public protocol ByteChannel: AnyObject, Sendable {
    /// Writes all bytes or throws. Blocks for backpressure, but not forever: an implementation gives
    /// up with `TransportError` kind `timeout` when the peer takes nothing for its write-stall limit.
    func write(_ bytes: [UInt8]) throws
    /// Returns up to `maxLength` bytes, blocking until at least one is available, or an empty array at
    /// end of stream. With a `timeout`, throws `TransportError` kind `timeout` when nothing arrives in
    /// that many seconds; without one, the implementation's own idle limit (if any) applies.
    func read(maxLength: Int, timeout: TimeInterval?) throws -> [UInt8]
    /// Signals end of input to the peer (its stdin sees EOF).
    func closeWrite() throws
    /// Closes the channel and collects how the peer ended. Idempotent.
    @discardableResult func close() -> ChannelTermination
    /// Who is on the other end, for messages ("infra-core", "pid 1234").
    var peerName: String { get }
}

extension ByteChannel {
    public func read(maxLength: Int) throws -> [UInt8] { try read(maxLength: maxLength, timeout: nil) }
}

/// How the remote program ended, and the last lines it wrote to stderr.
public struct ChannelTermination: Sendable, Equatable {
    public var exitStatus: Int32?
    public var signal: String?
    public var stderrTail: [String]

    public init(exitStatus: Int32? = nil, signal: String? = nil, stderrTail: [String] = []) {
        self.exitStatus = exitStatus
        self.signal = signal
        self.stderrTail = stderrTail
    }

    public var summary: String {
        var parts: [String] = []
        if let s = exitStatus { parts.append("exit status \(s)") }
        if let sig = signal { parts.append("killed by signal \(sig)") }
        if parts.isEmpty { parts.append("exit status unknown") }
        return parts.joined(separator: ", ")
    }
}

/// Transport failures, with the host they concern. Each carries a hint for the operator.
public struct TransportError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        case resolve            // ssh config could not be resolved
        case unsupportedConfig  // ProxyJump / ProxyCommand and friends
        case connect            // TCP connect failed or timed out
        case handshake          // SSH handshake failed
        case hostKeyUnknown
        case hostKeyChanged
        case auth
        case channel            // opening the session channel or exec failed
        case remoteProgram      // remote program missing or exited early
        case io                 // read/write failed, link cut
        case timeout            // idle timeout while waiting
        case closed             // used after close
    }
    public var kind: Kind
    public var host: String
    public var message: String
    public var hint: String

    public init(_ kind: Kind, host: String, _ message: String, hint: String) {
        self.kind = kind
        self.host = host
        self.message = message
        self.hint = hint
    }

    public var description: String { "\(host): \(message)\nhint: \(hint)" }
    public var summary: String { "\(host): \(message)" }

    /// Nothing arrived from the peer in time.
    public static func silent(_ peer: String, seconds: TimeInterval) -> TransportError {
        TransportError(.timeout, host: peer, "no data from \(peer) for \(Int(seconds))s",
                       hint: "the link or the program on the other end is dead or stuck")
    }

    /// The peer took nothing we wrote for too long.
    public static func stalled(_ peer: String, seconds: TimeInterval) -> TransportError {
        TransportError(.timeout, host: peer, "\(peer) took no data for \(Int(seconds))s",
                       hint: "the program on the other end stopped reading, or the link is dead")
    }
}

extension TransportError: HintedError {}

/// Keeps the last lines of a stderr stream, bounded in memory.
public struct StderrTail: Sendable {
    public private(set) var lines: [String] = []
    private var partial: [UInt8] = []
    public let keep: Int

    public init(keep: Int = 20) { self.keep = keep }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        for b in bytes {
            if b == 0x0A {
                flushLine()
            } else if partial.count < 4096 {
                partial.append(b)
            }
        }
    }

    public mutating func finish() -> [String] {
        if !partial.isEmpty { flushLine() }
        return lines
    }

    private mutating func flushLine() {
        let line = String(decoding: partial, as: UTF8.self)
        partial.removeAll(keepingCapacity: true)
        lines.append(line)
        if lines.count > keep { lines.removeFirst(lines.count - keep) }
    }
}
