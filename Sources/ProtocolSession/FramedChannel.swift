import AKBase
import AKProtocol
import Foundation
import Synchronization
import Transport

/// What arrives on a framed channel: a control message, or a piece of an announced data stream.
public enum Incoming: Equatable, Sendable {
    case message(Message)
    case chunk([UInt8])
    /// The empty frame that closes the data stream of request `id`.
    case endOfData(id: UInt64)

    /// The message, if this is one of type `T`.
    public func message<T: WireMessage>(_: T.Type) -> T? {
        if case .message(let m) = self { return m.as(T.self) }
        return nil
    }
}

/// Messages and bulk frames over a `ByteChannel`. Tracks whether raw frames are expected (after a
/// `data` message) so JSON and bulk never get confused, and keeps the link's clocks (§5.6): once
/// `startHeartbeats` is called it writes a heartbeat frame whenever nothing else was written for
/// `ProtocolTiming.heartbeatInterval`, and `receive` gives up after `peerTimeout` seconds without a
/// byte from the peer (heartbeats count).
///
/// One thread at a time receives; any thread may send (writes are serialised).
public final class FramedChannel: Sendable {
    public let channel: ByteChannel
    public static let readSize = 256 * 1024

    private struct ReadState: Sendable {
        var decoder = FrameDecoder()
        var openIncomingData: UInt64?
        var ended = false
    }
    private struct WriteState: Sendable {
        var openOutgoingData: UInt64?
        var lastWrite = Date()
        var heartbeating = false
        var heartbeatFailed = false
    }
    private let reading = Mutex(ReadState())
    private let writing = Monitor(WriteState())
    /// Held for the whole of one frame's write, so frames never interleave.
    private let writeLock = NSLock()
    /// Seconds without a byte from the peer before `receive` fails (nil: wait as long as the
    /// transport does).
    private let peerTimeoutSetting = Mutex<TimeInterval?>(nil)

    public init(_ channel: ByteChannel) {
        self.channel = channel
    }

    public var peerTimeout: TimeInterval? {
        get { peerTimeoutSetting.withLock { $0 } }
        set { peerTimeoutSetting.withLock { $0 = newValue } }
    }

    // MARK: sending

    /// True between our `data` message and its closing empty frame.
    public var isSendingData: Bool { writing.read { $0.openOutgoingData != nil } }

    private func writeFrame(_ frame: [UInt8]) throws {
        writeLock.lock()
        defer { writeLock.unlock() }
        try channel.write(frame)
        writing.update { $0.lastWrite = Date() }
    }

    public func send(_ message: Message) throws {
        let frame: [UInt8]
        do {
            frame = try MessageCodec.checkedFrame(message)
        } catch let error as ProtocolError {
            throw OutgoingLimitError(messageType: message.type, error: error)
        }
        writing.update { s in
            precondition(s.openOutgoingData == nil, "control message inside a data stream")
            if let header = message.as(DataHeader.self) { s.openOutgoingData = header.id }
        }
        try writeFrame(frame)
    }

    public func send(_ body: some WireMessage) throws { try send(Message(body)) }

    /// Sends raw bytes of the open data stream, split into frames no larger than the limit.
    public func sendChunk(_ bytes: [UInt8]) throws {
        precondition(isSendingData, "chunk outside a data stream")
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + ProtocolLimits.maxFramePayload, bytes.count)
            var frame = Frame.header(length: end - offset)
            frame.append(contentsOf: bytes[offset..<end])
            try writeFrame(frame)
            offset = end
        }
    }

    /// Ends the open data stream with an empty frame.
    public func endData() throws {
        writing.update { s in
            precondition(s.openOutgoingData != nil, "no data stream open")
            s.openOutgoingData = nil
        }
        try writeFrame(Frame.header(length: 0))
    }

    // MARK: heartbeats

    /// From now on, a heartbeat goes out whenever nothing was written for `interval` seconds, until
    /// `stopHeartbeats` (or a write fails). Call after the handshake: a peer of another version
    /// must see a clean version mismatch, not a heartbeat.
    public func startHeartbeats(interval: TimeInterval = ProtocolTiming.heartbeatInterval) {
        let start = writing.update { s -> Bool in
            defer { s.heartbeating = true }
            return !s.heartbeating
        }
        guard start else { return }
        let thread = Thread { [self] in
            while true {
                let due = writing.read { s -> Date? in s.heartbeating && !s.heartbeatFailed ? s.lastWrite.addingTimeInterval(interval) : nil }
                guard let due else { return }
                let stop = writing.wait(until: due) { s -> Bool? in s.heartbeating ? nil : true }
                if stop == true { return }
                guard writing.read({ Date().timeIntervalSince($0.lastWrite) >= interval }) else { continue }
                // A frame being written is proof of life enough; never wait behind it.
                guard writeLock.try() else {
                    writing.update { $0.lastWrite = Date() }
                    continue
                }
                let ok = (try? channel.write(Frame.heartbeat)) != nil
                writeLock.unlock()
                writing.update { s in
                    s.lastWrite = Date()
                    if !ok { s.heartbeatFailed = true }
                }
            }
        }
        thread.name = "heartbeat \(channel.peerName)"
        thread.start()
    }

    public func stopHeartbeats() {
        writing.update { $0.heartbeating = false }
    }

    // MARK: receiving

    /// The request whose incoming data stream is open (a `data` message was received, its empty end frame not yet).
    public var incomingDataID: UInt64? { reading.withLock { $0.openIncomingData } }

    /// Reads and discards the rest of the open incoming data stream, if any.
    public func discardIncomingData() throws {
        while incomingDataID != nil {
            guard let item = try receive() else { return }
            if case .message = item { return }
        }
    }

    /// The next item, or nil when the peer closed the stream cleanly between frames. Throws
    /// `TransportError` kind `timeout` after `timeout` (default: `peerTimeout`) seconds without a byte.
    public func receive(timeout: TimeInterval? = nil) throws -> Incoming? {
        let limit = timeout ?? peerTimeout
        return try reading.withLock { s -> Incoming? in
            var lastHeard = Date()
            while true {
                if let frame = try s.decoder.nextFrame() {
                    lastHeard = Date()
                    guard case .payload(let payload) = frame else { continue }   // a heartbeat
                    if let id = s.openIncomingData {
                        if payload.isEmpty {
                            s.openIncomingData = nil
                            return .endOfData(id: id)
                        }
                        return .chunk(payload)
                    }
                    let message = try MessageCodec.decode(payload)
                    if let header = message.as(DataHeader.self) { s.openIncomingData = header.id }
                    return .message(message)
                }
                if s.ended {
                    try s.decoder.finish()
                    if let id = s.openIncomingData {
                        throw ProtocolError.outOfSequence("stream ended inside data of request \(id)")
                    }
                    return nil
                }
                let wait = limit.map { max(0.001, $0 - Date().timeIntervalSince(lastHeard)) }
                let bytes: [UInt8]
                do {
                    bytes = try channel.read(maxLength: FramedChannel.readSize, timeout: wait)
                } catch let e as TransportError where e.kind == .timeout && limit != nil {
                    throw TransportError(.timeout, host: channel.peerName,
                                         "no data or heartbeat from \(channel.peerName) for \(Int(limit!))s",
                                         hint: "the link or the program on the other end is dead or stuck")
                }
                if bytes.isEmpty {
                    s.ended = true
                } else {
                    lastHeard = Date()
                    s.decoder.push(bytes)
                }
            }
        }
    }
}

/// A message this side was about to send breaks a protocol limit (a bug or an oversized answer):
/// it was not sent, and the session can go on.
public struct OutgoingLimitError: HintedError, CustomStringConvertible, Sendable {
    public var messageType: String
    public var error: ProtocolError
    public var summary: String { "not sending \(messageType): \(error.description)" }
    public var hint: String { "this is a bug in akbackup: an answer must stay within the protocol limits (protocol/PROTOCOL.md)" }
    public var description: String { summary }
}
