import AKBase
import Foundation

/// Two connected in-memory channel ends, for tests and for running a server in the same process.
public enum InProcessPipe {
    /// `capacity` bounds each direction, so a writer blocks when its reader falls behind (the same
    /// backpressure a real pipe or SSH window gives). A writer blocked for `writeStallTimeout`
    /// seconds gives up, as the real channels do.
    public static func makePair(capacity: Int = 1 << 20, writeStallTimeout: TimeInterval? = nil) -> (ByteChannel, ByteChannel) {
        let ab = BoundedByteBuffer(capacity: max(1, capacity))
        let ba = BoundedByteBuffer(capacity: max(1, capacity))
        return (InProcessEnd(name: "in-process peer B", outbound: ab, inbound: ba, writeStallTimeout: writeStallTimeout),
                InProcessEnd(name: "in-process peer A", outbound: ba, inbound: ab, writeStallTimeout: writeStallTimeout))
    }
}

/// One direction: a single writer end and a single reader end.
final class BoundedByteBuffer: Sendable {
    private struct State: Sendable {
        var storage: [UInt8] = []
        var head = 0
        var writerClosed = false   // EOF for the reader once drained
        var readerClosed = false   // writes fail: nobody will ever read them
        var count: Int { storage.count - head }
    }
    private let state = Monitor(State())
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    private enum Room: Sendable { case room(Int), writerClosed, readerClosed }

    func write(_ bytes: [UInt8], peer: String, stallTimeout: TimeInterval?) throws {
        var offset = 0
        while offset < bytes.count {
            let deadline = stallTimeout.map { Date().addingTimeInterval($0) }
            let room = state.wait(until: deadline) { s -> Room? in
                if s.writerClosed { return .writerClosed }
                if s.readerClosed { return .readerClosed }
                return s.count < capacity ? .room(capacity - s.count) : nil
            }
            switch room {
            case nil:
                throw TransportError.stalled(peer, seconds: stallTimeout ?? 0)
            case .writerClosed?:
                throw TransportError(.closed, host: peer, "write after closeWrite/close",
                                     hint: "this is a bug in the caller: the channel's input was already closed")
            case .readerClosed?:
                throw TransportError(.io, host: peer, "peer closed the channel; \(bytes.count - offset) bytes not delivered",
                                     hint: "the other end stopped reading; check why it ended")
            case .room(let free)?:
                let n = min(free, bytes.count - offset)
                let piece = Array(bytes[offset..<(offset + n)])
                state.update { s in
                    if s.head > 0 && s.head >= s.storage.count / 2 {
                        s.storage.removeFirst(s.head)
                        s.head = 0
                    }
                    s.storage.append(contentsOf: piece)
                }
                offset += n
            }
        }
    }

    private enum Got: Sendable { case bytes([UInt8]), end, closed }

    /// Nil when the reader end was closed; throws on timeout.
    func read(maxLength: Int, timeout: TimeInterval?, peer: String) throws -> [UInt8]? {
        let got = state.wait(until: timeout.map { Date().addingTimeInterval($0) }) { s -> Got? in
            if s.readerClosed { return .closed }
            if s.count == 0 { return s.writerClosed ? .end : nil }
            let n = min(max(1, maxLength), s.count)
            let out = Array(s.storage[s.head..<(s.head + n)])
            s.head += n
            if s.head == s.storage.count {
                s.storage.removeAll(keepingCapacity: true)
                s.head = 0
            }
            return .bytes(out)
        }
        switch got {
        case nil: throw TransportError.silent(peer, seconds: timeout ?? 0)
        case .closed?: return nil
        case .end?: return []
        case .bytes(let b)?: return b
        }
    }

    func closeWriter() { state.update { $0.writerClosed = true } }

    func closeReader() {
        state.update { s in
            s.readerClosed = true
            s.storage.removeAll()
            s.head = 0
        }
    }
}

final class InProcessEnd: ByteChannel {
    let peerName: String
    private let outbound: BoundedByteBuffer
    private let inbound: BoundedByteBuffer
    private let writeStallTimeout: TimeInterval?
    private let closed = Monitor(false)

    init(name: String, outbound: BoundedByteBuffer, inbound: BoundedByteBuffer, writeStallTimeout: TimeInterval?) {
        self.peerName = name
        self.outbound = outbound
        self.inbound = inbound
        self.writeStallTimeout = writeStallTimeout
    }

    private func checkOpen() throws {
        if closed.read({ $0 }) {
            throw TransportError(.closed, host: peerName, "channel used after close", hint: "this is a bug in the caller")
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try checkOpen()
        try outbound.write(bytes, peer: peerName, stallTimeout: writeStallTimeout)
    }

    func read(maxLength: Int, timeout: TimeInterval?) throws -> [UInt8] {
        try checkOpen()
        guard let bytes = try inbound.read(maxLength: maxLength, timeout: timeout, peer: peerName) else {
            throw TransportError(.closed, host: peerName, "channel closed while reading", hint: "another thread closed this channel")
        }
        return bytes
    }

    func closeWrite() throws {
        try checkOpen()
        outbound.closeWriter()
    }

    @discardableResult
    func close() -> ChannelTermination {
        let wasClosed = closed.update { c -> Bool in
            defer { c = true }
            return c
        }
        if !wasClosed {
            outbound.closeWriter()
            inbound.closeReader()
        }
        return ChannelTermination()
    }
}
