import Foundation

/// Two connected in-memory channel ends, for tests and for running a server in the same process.
public enum InProcessPipe {
    /// `capacity` bounds each direction, so a writer blocks when its reader falls behind
    /// (the same backpressure a real pipe or SSH window gives).
    public static func makePair(capacity: Int = 1 << 20) -> (ByteChannel, ByteChannel) {
        let ab = BoundedByteBuffer(capacity: max(1, capacity))
        let ba = BoundedByteBuffer(capacity: max(1, capacity))
        return (InProcessEnd(name: "in-process peer B", outbound: ab, inbound: ba),
                InProcessEnd(name: "in-process peer A", outbound: ba, inbound: ab))
    }
}

/// One direction: a single writer end and a single reader end.
final class BoundedByteBuffer: @unchecked Sendable {
    private let cond = NSCondition()
    private var storage: [UInt8] = []
    private var head = 0
    private let capacity: Int
    private var writerClosed = false   // EOF for the reader once drained
    private var readerClosed = false   // writes fail: nobody will ever read them

    init(capacity: Int) { self.capacity = capacity }

    private var count: Int { storage.count - head }

    func write(_ bytes: [UInt8], peer: String) throws {
        var offset = 0
        cond.lock()
        defer { cond.unlock() }
        while offset < bytes.count {
            while count >= capacity && !readerClosed && !writerClosed { cond.wait() }
            if writerClosed {
                throw TransportError(.closed, host: peer, "write after closeWrite/close",
                                     hint: "this is a bug in the caller: the channel's input was already closed")
            }
            if readerClosed {
                throw TransportError(.io, host: peer, "peer closed the channel; \(bytes.count - offset) bytes not delivered",
                                     hint: "the other end stopped reading; check why it ended")
            }
            let n = min(capacity - count, bytes.count - offset)
            if head > 0 && head >= storage.count / 2 {
                storage.removeFirst(head)
                head = 0
            }
            storage.append(contentsOf: bytes[offset..<(offset + n)])
            offset += n
            cond.broadcast()
        }
    }

    func read(maxLength: Int) -> [UInt8]? {
        cond.lock()
        defer { cond.unlock() }
        while count == 0 && !writerClosed && !readerClosed { cond.wait() }
        if readerClosed { return nil }
        if count == 0 { return [] }
        let n = min(max(1, maxLength), count)
        let out = Array(storage[head..<(head + n)])
        head += n
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        }
        cond.broadcast()
        return out
    }

    func closeWriter() {
        cond.lock()
        writerClosed = true
        cond.broadcast()
        cond.unlock()
    }

    func closeReader() {
        cond.lock()
        readerClosed = true
        storage.removeAll()
        head = 0
        cond.broadcast()
        cond.unlock()
    }
}

final class InProcessEnd: ByteChannel, @unchecked Sendable {
    let peerName: String
    private let outbound: BoundedByteBuffer
    private let inbound: BoundedByteBuffer
    private let lock = NSLock()
    private var closed = false

    init(name: String, outbound: BoundedByteBuffer, inbound: BoundedByteBuffer) {
        self.peerName = name
        self.outbound = outbound
        self.inbound = inbound
    }

    private func checkOpen() throws {
        lock.lock()
        defer { lock.unlock() }
        if closed {
            throw TransportError(.closed, host: peerName, "channel used after close",
                                 hint: "this is a bug in the caller")
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try checkOpen()
        try outbound.write(bytes, peer: peerName)
    }

    func read(maxLength: Int) throws -> [UInt8] {
        try checkOpen()
        guard let bytes = inbound.read(maxLength: maxLength) else {
            throw TransportError(.closed, host: peerName, "channel closed while reading",
                                 hint: "another thread closed this channel")
        }
        return bytes
    }

    func closeWrite() throws {
        try checkOpen()
        outbound.closeWriter()
    }

    @discardableResult
    func close() -> ChannelTermination {
        lock.lock()
        let wasClosed = closed
        closed = true
        lock.unlock()
        if !wasClosed {
            outbound.closeWriter()
            inbound.closeReader()
        }
        return ChannelTermination()
    }
}
