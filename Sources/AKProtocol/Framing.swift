import Foundation

/// Length-prefixed framing: a 4-byte big-endian payload length, then the payload.
public enum Frame {
    /// The frame that carries `payload`. Callers must respect `ProtocolLimits.maxFramePayload`.
    public static func encode(_ payload: [UInt8]) -> [UInt8] {
        precondition(payload.count <= ProtocolLimits.maxFramePayload, "frame payload over the limit")
        let n = UInt32(payload.count)
        var out: [UInt8] = [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)]
        out.reserveCapacity(4 + payload.count)
        out.append(contentsOf: payload)
        return out
    }

    public static func header(length: Int) -> [UInt8] {
        let n = UInt32(length)
        return [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)]
    }

    /// The length word of a heartbeat: no payload follows. Outside the range of real lengths
    /// (at most 1 MiB), so it can stand anywhere, between messages or inside a data stream.
    public static let heartbeatWord: UInt32 = 0x8000_0000

    /// A heartbeat frame: "I am alive", sent when a side has written nothing for a while (§1.4).
    public static let heartbeat: [UInt8] = [0x80, 0, 0, 0]
}

/// What the decoder yields: a frame's payload, or a heartbeat.
public enum DecodedFrame: Equatable, Sendable {
    case payload([UInt8])
    case heartbeat
}

/// Incremental frame decoder: push bytes as they arrive, pop complete payloads.
/// It never buffers more than one maximal frame plus what was pushed.
public struct FrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0
    /// True until the first complete header was seen; used to tell a login banner from a frame.
    public private(set) var sawFirstHeader = false

    public init() {}

    public mutating func push(_ bytes: some Collection<UInt8>) {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Bytes received but not yet returned as a frame.
    public var pendingCount: Int { buffer.count - start }

    /// The next complete payload, or nil if more bytes are needed. Heartbeats are skipped.
    public mutating func next() throws -> [UInt8]? {
        while let frame = try nextFrame() {
            if case .payload(let p) = frame { return p }
        }
        return nil
    }

    /// The next complete frame (payload or heartbeat), or nil if more bytes are needed.
    public mutating func nextFrame() throws -> DecodedFrame? {
        guard pendingCount >= 4 else { return nil }
        let b = buffer
        let n = UInt32(b[start]) << 24 | UInt32(b[start + 1]) << 16 | UInt32(b[start + 2]) << 8 | UInt32(b[start + 3])
        if n == Frame.heartbeatWord && sawFirstHeader {
            start += 4
            return .heartbeat
        }
        guard n <= UInt32(ProtocolLimits.maxFramePayload) else {
            if !sawFirstHeader, let preview = FrameDecoder.textPreview(Array(b[start...])) {
                throw ProtocolError.nonProtocolOutput(preview: preview)
            }
            throw ProtocolError.frameTooLarge(announced: n)
        }
        sawFirstHeader = true
        let total = 4 + Int(n)
        guard pendingCount >= total else { return nil }
        let payload = Array(b[(start + 4)..<(start + total)])
        start += total
        return .payload(payload)
    }

    /// Call at end of stream: throws if a frame was cut short.
    public func finish() throws {
        let pending = pendingCount
        if pending == 0 { return }
        if !sawFirstHeader, let preview = FrameDecoder.textPreview(Array(buffer[start...]), atEnd: true) {
            throw ProtocolError.nonProtocolOutput(preview: preview)
        }
        if pending < 4 { throw ProtocolError.truncatedFrame(expected: 4, received: pending) }
        let b = buffer
        let n = Int(UInt32(b[start]) << 24 | UInt32(b[start + 1]) << 16 | UInt32(b[start + 2]) << 8 | UInt32(b[start + 3]))
        throw ProtocolError.truncatedFrame(expected: 4 + n, received: pending)
    }

    /// If the bytes look like human text (a banner), a short printable preview of them.
    ///
    /// The decision rests on the would-be header alone, so it does not depend on how the bytes were split:
    /// it is text when its 4 bytes are all text bytes (a valid header starts with 0x00, which never is).
    /// At the end of the stream, fewer than 4 bytes that are all text also count (a short "ok\n").
    static func textPreview(_ bytes: [UInt8], atEnd: Bool = false) -> String? {
        guard bytes.count >= 4 || (atEnd && !bytes.isEmpty) else { return nil }
        guard bytes.prefix(4).allSatisfy(isTextByte) else { return nil }
        let text = String(decoding: bytes.prefix(80), as: UTF8.self)
            .replacingOccurrences(of: "\r", with: "")
            .split(separator: "\n", omittingEmptySubsequences: true)
            .joined(separator: " / ")
        return text
    }

    /// Printable ASCII, tab, LF, CR, or a byte that can occur in UTF-8 text (not C0, C1, F5–FF).
    private static func isTextByte(_ b: UInt8) -> Bool {
        (b >= 0x20 && b < 0x7F) || b == 0x0A || b == 0x0D || b == 0x09 || (b >= 0x80 && b <= 0xF4 && b != 0xC0 && b != 0xC1)
    }
}
