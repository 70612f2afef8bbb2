import AKProtocol
import Transport

/// What arrives on a framed channel: a control message, or a piece of an announced data stream.
public enum Incoming: Equatable {
    case message(Message)
    case chunk([UInt8])
    /// The empty frame that closes the data stream of request `id`.
    case endOfData(id: UInt64)
}

/// Messages and bulk frames over a `ByteChannel`. Tracks whether raw frames are expected
/// (after a `data` message) so JSON and bulk never get confused.
public final class FramedChannel {
    public let channel: ByteChannel
    private var decoder = FrameDecoder()
    private var openIncomingData: UInt64?
    private var openOutgoingData: UInt64?
    private var ended = false
    public static let readSize = 256 * 1024

    public init(_ channel: ByteChannel) {
        self.channel = channel
    }

    /// True between our `data` message and its closing empty frame.
    public var isSendingData: Bool { openOutgoingData != nil }

    public func send(_ message: Message) throws {
        if case .data(let header) = message {
            guard openOutgoingData == nil else { preconditionFailure("a data stream is already open") }
            openOutgoingData = header.id
        } else {
            precondition(openOutgoingData == nil, "control message inside a data stream")
        }
        let frame: [UInt8]
        do {
            frame = try MessageCodec.checkedFrame(message)
        } catch let error as ProtocolError {
            if case .data = message { openOutgoingData = nil }
            throw OutgoingLimitError(messageType: message.type, error: error)
        }
        try channel.write(frame)
    }

    /// The request whose incoming data stream is open (a `data` message was received, its empty end frame not yet).
    public var incomingDataID: UInt64? { openIncomingData }

    /// Reads and discards the rest of the open incoming data stream, if any.
    public func discardIncomingData() throws {
        while openIncomingData != nil {
            guard let item = try receive() else { return }
            if case .message = item { return }
        }
    }

    /// Sends raw bytes of the open data stream, split into frames no larger than the limit.
    public func sendChunk(_ bytes: [UInt8]) throws {
        precondition(openOutgoingData != nil, "chunk outside a data stream")
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + ProtocolLimits.maxFramePayload, bytes.count)
            var frame = Frame.header(length: end - offset)
            frame.append(contentsOf: bytes[offset..<end])
            try channel.write(frame)
            offset = end
        }
    }

    /// Ends the open data stream with an empty frame.
    public func endData() throws {
        precondition(openOutgoingData != nil, "no data stream open")
        openOutgoingData = nil
        try channel.write(Frame.header(length: 0))
    }

    /// The next item, or nil when the peer closed the stream cleanly between frames.
    public func receive() throws -> Incoming? {
        while true {
            if let payload = try decoder.next() {
                if let id = openIncomingData {
                    if payload.isEmpty {
                        openIncomingData = nil
                        return .endOfData(id: id)
                    }
                    return .chunk(payload)
                }
                let message = try MessageCodec.decode(payload)
                if case .data(let header) = message { openIncomingData = header.id }
                return .message(message)
            }
            if ended {
                try decoder.finish()
                if let id = openIncomingData {
                    throw ProtocolError.truncatedFrame(expected: 4, received: 0).withContext("stream ended inside data of request \(id)")
                }
                return nil
            }
            let bytes = try channel.read(maxLength: FramedChannel.readSize)
            if bytes.isEmpty { ended = true } else { decoder.push(bytes) }
        }
    }
}

/// A message this side was about to send breaks a protocol limit (a bug or an oversized answer):
/// it was not sent, and the session can go on.
public struct OutgoingLimitError: HintedError, CustomStringConvertible {
    public var messageType: String
    public var error: ProtocolError
    public var summary: String { "not sending \(messageType): \(error.description)" }
    public var hint: String { "this is a bug in akbackup: an answer must stay within the protocol limits (protocol/PROTOCOL.md)" }
    public var description: String { summary }
}

extension ProtocolError {
    func withContext(_ context: String) -> ProtocolError {
        switch self {
        case .truncatedFrame: return .outOfSequence(context)
        default: return self
        }
    }
}
