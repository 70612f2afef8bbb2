#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a pg_dump plain-SQL stream as it passes and learns what the artifact holds:
/// the rows of every COPY section, and whether pg_dump wrote its completion trailer.
/// Lines of any length are handled without buffering them whole.
public struct DumpInspector: Sendable {
    /// "-- PostgreSQL database dump complete" is pg_dump's last comment; without it the dump was cut.
    public static let trailer = "-- PostgreSQL database dump complete"

    public private(set) var rowCounts: [String: Int64] = [:]
    public private(set) var sawTrailer = false
    public private(set) var bytes: Int64 = 0
    /// Non-empty lines after the trailer that are not pg_dump's own epilogue (`\unrestrict`, comments).
    public private(set) var contentAfterTrailer = false

    private var copyTable: String?
    private var copyRows: Int64 = 0
    /// The first bytes of the current line (enough to recognise COPY headers, `\.` and the trailer).
    private var head: [UInt8] = []
    private var lineLength = 0
    private static let headLimit = 1024

    public init() {}

    public mutating func push(_ chunk: some Collection<UInt8>) {
        // Contiguous bytes (every caller's [UInt8]) go through memchr: this runs on the agent's
        // streaming thread for every byte of the dump, where a generic byte loop was the bottleneck.
        let done: Void? = chunk.withContiguousStorageIfAvailable { push(bytes: UnsafeRawBufferPointer($0)) }
        if done == nil { Array(chunk).withUnsafeBytes { push(bytes: $0) } }
    }

    private mutating func push(bytes raw: UnsafeRawBufferPointer) {
        bytes += Int64(raw.count)
        guard var p = raw.baseAddress else { return }
        var remaining = raw.count
        while remaining > 0 {
            guard let newline = memchr(p, 0x0A, remaining) else {
                appendToLine(p, remaining)
                return
            }
            let n = p.distance(to: UnsafeRawPointer(newline))
            appendToLine(p, n)
            endLine()
            p = UnsafeRawPointer(newline) + 1
            remaining -= n + 1
        }
    }

    private mutating func appendToLine(_ p: UnsafeRawPointer, _ n: Int) {
        // Inside COPY data only "\." matters: keep 3 bytes so longer lines are never taken for it.
        let limit = copyTable == nil ? DumpInspector.headLimit : 3
        let room = limit - head.count
        if room > 0 && n > 0 { head.append(contentsOf: UnsafeRawBufferPointer(start: p, count: min(room, n))) }
        lineLength += n
    }

    /// Call at end of stream. True when the dump is complete: trailer seen, no COPY left open.
    public mutating func finish() -> Bool {
        if lineLength > 0 { endLine() }
        return sawTrailer && copyTable == nil
    }

    /// Why `finish()` said the dump is incomplete, for error messages.
    public var incompleteReason: String? {
        if let table = copyTable { return "the dump ends inside the data of \(table)" }
        if !sawTrailer { return "the dump has no completion trailer (\"\(DumpInspector.trailer)\")" }
        return nil
    }

    private mutating func endLine() {
        defer {
            head.removeAll(keepingCapacity: true)
            lineLength = 0
        }
        if let table = copyTable {
            if lineLength == 2 && head == [0x5C, 0x2E] {  // "\."
                rowCounts[table, default: 0] += copyRows
                copyTable = nil
                copyRows = 0
            } else {
                copyRows += 1
            }
            return
        }
        guard lineLength == head.count else { return }  // long lines are data or DDL, never markers
        let line = String(decoding: head, as: UTF8.self)
        if line.hasPrefix("COPY "), line.hasSuffix(" FROM stdin;") {
            copyTable = DumpInspector.tableName(inCopyHeader: line)
            copyRows = 0
            if sawTrailer { contentAfterTrailer = true }
        } else if line == DumpInspector.trailer {
            sawTrailer = true
        } else if sawTrailer, !line.isEmpty, !line.hasPrefix("--"), !line.hasPrefix("\\unrestrict") {
            contentAfterTrailer = true
        }
    }

    /// `COPY public.authentik_core_user (id, name) FROM stdin;` → `public.authentik_core_user`.
    static func tableName(inCopyHeader line: String) -> String {
        var rest = line.dropFirst(5)
        var name = ""
        var inQuotes = false
        while let c = rest.first {
            if c == "\"" {
                inQuotes.toggle()
            } else if !inQuotes && (c == " " || c == "(") {
                break
            }
            name.append(c)
            rest = rest.dropFirst()
        }
        return name
    }
}
