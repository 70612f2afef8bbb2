import Foundation
import Synchronization

/// Compresses a stream in fixed-size blocks on `threads` threads, each block an independent gzip
/// member, and hands the members to `sink` in input order. Memory stays bounded: at most
/// `2 × threads` blocks are in flight.
public final class ParallelGzip {
    public static let blockSize = 1 << 20

    private let threads: Int
    private let level: Int32
    private let sink: ([UInt8]) throws -> Void
    private var pending: [UInt8] = []
    private var nextSubmit = 0
    private var nextEmit = 0
    private let done = FinishedMembers()
    private let queue: DispatchQueue
    private let slots: DispatchSemaphore

    public init(threads: Int, level: Int32 = Gzip.defaultLevel, sink: @escaping ([UInt8]) throws -> Void) {
        self.threads = max(1, threads)
        self.level = level
        self.sink = sink
        self.queue = DispatchQueue(label: "akbackup.gzip", attributes: .concurrent)
        // Created at 0 and signalled up: libdispatch traps when a semaphore is freed below its
        // initial value, which happens when a stream is abandoned midway (the controller went away).
        self.slots = DispatchSemaphore(value: 0)
        self.workers = DispatchSemaphore(value: 0)
        for _ in 0..<(2 * max(1, threads)) { slots.signal() }
        for _ in 0..<max(1, threads) { workers.signal() }
    }

    private let workers: DispatchSemaphore

    public func write(_ bytes: [UInt8]) throws {
        pending.append(contentsOf: bytes)
        while pending.count >= ParallelGzip.blockSize {
            let block = Array(pending[0..<ParallelGzip.blockSize])
            pending.removeFirst(ParallelGzip.blockSize)
            try submit(block)
        }
    }

    /// Compresses what is left and emits everything. An empty stream still yields one (empty) member,
    /// so the output is always a valid gzip file.
    public func finish() throws {
        if !pending.isEmpty || nextSubmit == 0 {
            try submit(pending)
            pending = []
        }
        while nextEmit < nextSubmit {
            try emitReady(waitForOne: true)
        }
    }

    private func submit(_ block: [UInt8]) throws {
        // Emit finished members first so the in-flight bound is respected without deadlock.
        while slots.wait(timeout: .now()) == .timedOut {
            try emitReady(waitForOne: true)
        }
        let seq = nextSubmit
        nextSubmit += 1
        let level = self.level
        queue.async { [workers, done] in
            workers.wait()
            let member = Gzip.member(block, level: level)
            workers.signal()
            done.put(seq, member)
        }
        try emitReady(waitForOne: false)
    }

    private func emitReady(waitForOne: Bool) throws {
        var ready: [[UInt8]] = []
        if waitForOne { done.waitFor(nextEmit) }
        while let member = done.take(nextEmit) {
            ready.append(member)
            nextEmit += 1
        }
        for member in ready {
            slots.signal()
            try sink(member)
        }
    }
}

/// Compressed members handed from the worker threads to the emitting thread, by sequence number.
private final class FinishedMembers: Sendable {
    private let members = Mutex<[Int: [UInt8]]>([:])
    private let arrived = NSCondition()

    func put(_ seq: Int, _ member: [UInt8]) {
        members.withLock { $0[seq] = member }
        arrived.lock()
        arrived.broadcast()
        arrived.unlock()
    }

    func take(_ seq: Int) -> [UInt8]? { members.withLock { $0.removeValue(forKey: seq) } }

    func waitFor(_ seq: Int) {
        arrived.lock()
        while members.withLock({ $0[seq] == nil }) { arrived.wait() }
        arrived.unlock()
    }
}
