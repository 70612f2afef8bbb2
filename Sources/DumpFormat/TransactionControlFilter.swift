#if canImport(Glibc)
import Glibc
#endif

/// Removes pg_dump's own top-level `BEGIN;` and `COMMIT;` lines from a plain-SQL stream.
///
/// pg_dump wraps large-object data in `BEGIN;` … `COMMIT;`. Replayed inside the restore's single
/// transaction, that inner COMMIT would commit everything before it, and a failure after it could no
/// longer be rolled back. Lines inside COPY data are never touched; everything else passes unchanged.
public struct TransactionControlFilter: Sendable {
    /// The current line's bytes, held back while it could still be one of the removed lines.
    private var held: [UInt8] = []
    private var holding = true
    private var lineLength = 0
    private var head: [UInt8] = []
    private var tail: [UInt8] = []
    private var inCopy = false
    public private(set) var removedLines = 0

    private static let begin = Array("BEGIN;".utf8)
    private static let commit = Array("COMMIT;".utf8)
    private static let copyPrefix = Array("COPY ".utf8)
    private static let copySuffix = Array(" FROM stdin;".utf8)
    private static let holdLimit = 7

    public init() {}

    public mutating func filter(_ chunk: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(chunk.count + held.count)
        chunk.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var start = 0
            while start < raw.count {
                let remaining = raw.count - start
                let newline = memchr(base + start, 0x0A, remaining)
                let end = newline.map { base.distance(to: UnsafeRawPointer($0)) } ?? raw.count
                let segment = UnsafeRawBufferPointer(rebasing: raw[start..<end])
                track(segment)
                if holding && lineLength <= TransactionControlFilter.holdLimit {
                    held.append(contentsOf: segment)
                } else {
                    if holding {
                        out.append(contentsOf: held)
                        held.removeAll(keepingCapacity: true)
                        holding = false
                    }
                    out.append(contentsOf: segment)
                }
                guard newline != nil else { break }
                endLine(into: &out)
                start = end + 1
            }
        }
        return out
    }

    /// What is still held at the end of the stream (a last line without newline).
    public mutating func finish() -> [UInt8] {
        defer { held.removeAll() }
        return holding ? held : []
    }

    private mutating func track(_ segment: UnsafeRawBufferPointer) {
        if head.count < 5 { head.append(contentsOf: segment.prefix(5 - head.count)) }
        tail.append(contentsOf: segment.suffix(12))
        if tail.count > 12 { tail.removeFirst(tail.count - 12) }
        lineLength += segment.count
    }

    private mutating func endLine(into out: inout [UInt8]) {
        let line = holding ? held : nil
        if inCopy {
            if line == [0x5C, 0x2E] { inCopy = false }  // "\."
        } else if line == TransactionControlFilter.begin || line == TransactionControlFilter.commit {
            removedLines += 1
            reset()
            return
        } else if head == TransactionControlFilter.copyPrefix && tail == TransactionControlFilter.copySuffix {
            inCopy = true
        }
        if holding { out.append(contentsOf: held) }
        out.append(0x0A)
        reset()
    }

    private mutating func reset() {
        held.removeAll(keepingCapacity: true)
        holding = true
        lineLength = 0
        head.removeAll(keepingCapacity: true)
        tail.removeAll(keepingCapacity: true)
    }
}
