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
        bytes += Int64(chunk.count)
        for byte in chunk {
            if byte == 0x0A {
                endLine()
            } else {
                if head.count < DumpInspector.headLimit { head.append(byte) }
                lineLength += 1
            }
        }
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
