#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// ReplayFilter: the gate between a gzip-inflated plain pg_dump and `psql`.
//
// psql replays our output as a superuser inside one transaction that the caller opens (`BEGIN;`) and
// commits (`COMMIT;`). Attackers control the dump bytes. The filter forwards, byte for byte, what a
// normal `pg_dump` (13–17) of one database emits and throws on the first construct that could escape
// the caller's transaction, run a psql meta-command, or do something pg_dump's plain output never does.
//
// STATEMENT BOUNDARIES. psql decides where a statement ends with its own lexer (src/fe_utils/psqlscan.l;
// line numbers below are PostgreSQL 15.15's). A filter that splits differently lets an attacker hide a
// `COMMIT` inside what the filter believes is one statement, so the lexer mirrors psqlscan.l:
//   * '…' with '' doubling; E'…' with backslash escapes; B'…', X'…' (no doubling), N'…', U&'…', U&"…";
//     a prefix letter counts only at a token start (flex longest match: abcE'x' is the identifier abcE
//     and a standard string; {dolqfailed} "$E'…'" rescans E'…' as an escape string);
//   * "…" with "" doubling; $tag$…$tag$ (tag [A-Za-z_\x80-\xFF][A-Za-z0-9_\x80-\xFF]*, only at a token
//     start: foo$$ is an identifier, $1 a parameter, and every "$" inside the body is a candidate end);
//   * -- comments to \n or \r, nested /* */ comments (xcdepth);
//   * ';' ends a statement only at parenthesis depth 0 and BEGIN depth 0, where BEGIN depth follows the
//     {identifier} rule's heuristic for CREATE [OR REPLACE] FUNCTION|PROCEDURE exactly (identifiers[4],
//     begin +1, case +1 only when already inside, end −1, only at parenthesis depth 0);
//   * numbers (l.843-876) end where psql's number rules end them, so a letter after them never starts a
//     B''/E''/N''/U&'' literal; the {*_junk} forms themselves are refused (below);
//   * psql's own rules: "\" outside quotes starts a meta-command anywhere on a line; :name, :'name',
//     :"name" and :{?name} are variable references ("::" and ":=" are tokens of their own).
// psql lexes line by line (mainloop.c) with std_strings and the client encoding as they are *now*; the
// server lexes whole query strings; psql 13, 14, 15 and 16+ differ in their number rules. Where those
// readings could differ, the filter refuses rather than pick one:
//   * a string literal continued across a line break ('a'\n'b': psql and the server disagree for E'');
//   * a backslash run of odd length (or right after a non-ASCII byte) before a quote in a standard
//     string, and a backslash right after a non-ASCII byte in an E'' string: such text lexes differently
//     if functions run by the restore turn standard_conforming_strings off or switch to SJIS/BIG5/GBK/…;
//   * a number directly followed by letters ("1e'x'", "1begin", "1_000", "0x1F", "1e-x");
//   * unquoted non-ASCII bytes and control characters (pg_dump quotes every such identifier);
//   * NUL bytes anywhere, COPY data included (psql's line reader stops at NUL and loses sync);
//   * a ';' that psql's heuristic does not treat as an end, unless the statement is a well-formed
//     CREATE FUNCTION|PROCEDURE … BEGIN ATOMIC … END (else the server would end it early: "AS case").
//
// WHAT IS ALLOWED: statements classified by their leading keywords (see `classify`): the SET settings
// pg_dump writes; SELECT only as pg_catalog.set_config('search_path', …, false), setval, lo_create and,
// inside a large-object block, lo_open/lowrite/lo_close; COPY name [(cols)] FROM stdin; the CREATE and
// ALTER object kinds pg_dump writes (functions only in LANGUAGE sql/plpgsql or with a SQL-standard body);
// COMMENT ON, SECURITY LABEL, REFRESH MATERIALIZED VIEW, GRANT/REVOKE … ON …; empty statements.
//
// WHAT IS DROPPED (never forwarded; everything else is forwarded unchanged):
//   * a `\restrict KEY` or `\unrestrict KEY` line (pg_dump ≥ 13.22/14.19/15.14/16.10/17.6), from its
//     backslash through its terminating "\n" inclusive; the caller runs psql in its own restricted mode.
//   * the `BEGIN;` and `COMMIT;` that pg_dump wraps around large-object data: from the statement's first
//     token through its `;` inclusive. Whitespace and comments before the keyword and the newline after
//     the `;` are forwarded as they are. The caller's own transaction covers the large objects.
//
// CALLER OBLIGATIONS (the guarantees rest on them):
//   * run psql with `-X -v ON_ERROR_STOP=1` and no variables of its own beyond psql's defaults: a COPY
//     that fails before its data (missing table) makes psql without ON_ERROR_STOP read the data as SQL;
//   * start psql in a server-safe client encoding (its default) under a C or UTF-8 locale;
//   * on any thrown ReplayRefusal, abort: never send `COMMIT`, end psql, let the server roll back.
// The filter cannot stop code that pg_dump output legitimately runs (CHECK constraints, triggers fired
// by COPY, index expressions, REFRESH MATERIALIZED VIEW, extension scripts): as a superuser, that code
// can do anything. Restoring as a non-superuser role closes that; the filter's ambiguity rules above
// keep such code from desynchronising psql's lexer from this one.

/// Why the replay filter refused its input (first refused construct).
public struct ReplayRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    public var line: Int          // 1-based line where the refused statement (or construct) starts
    public var reason: String     // e.g. "transaction control (COMMIT) outside a large-object block"
    public var excerpt: String    // at most 80 characters of the statement, control characters replaced by spaces
    public var description: String { "line \(line): \(reason): \(excerpt)" }

    public init(line: Int, reason: String, excerpt: String) {
        self.line = line
        self.reason = reason
        self.excerpt = excerpt
    }
}

/// Streams a plain pg_dump towards psql: forwards what pg_dump emits, byte for byte, and refuses the rest.
public struct ReplayFilter: Sendable {
    public init(maxStatementBytes: Int = 64 << 20) {
        self.maxStatementBytes = max(16, maxStatementBytes)
    }

    /// The bytes to forward for this piece of input (possibly empty: statements are held until complete;
    /// COPY data lines stream through). Throws ReplayRefusal.
    public mutating func push(_ bytes: [UInt8]) throws -> [UInt8] {
        if let failure { throw failure }
        if finished { throw remember(ReplayRefusal(line: line, reason: "input pushed after finish()", excerpt: "")) }
        var out: [UInt8] = []
        do {
            try bytes.withUnsafeBufferPointer { try feed($0, &out) }
        } catch let refusal as ReplayRefusal {
            throw remember(refusal)
        }
        return out
    }

    /// End of input: the last bytes to forward; throws if the input ended inside anything.
    public mutating func finish() throws -> [UInt8] {
        if let failure { throw failure }
        if finished { return [] }
        var out: [UInt8] = []
        do {
            try runBuffered(eof: true, &out)
            try checkEnd()
            if base < buf.count { out.append(contentsOf: buf[base...]) }  // trailing whitespace only
            buf = []
            base = 0
            pos = 0
            finished = true
        } catch let refusal as ReplayRefusal {
            throw remember(refusal)
        }
        return out
    }

    /// Statements forwarded (not counting dropped BEGIN/COMMIT/\restrict lines).
    public private(set) var statements: Int = 0
    /// COPY data lines forwarded (excluding the \. terminator).
    public private(set) var copyRows: Int = 0

    // MARK: - State

    private let maxStatementBytes: Int

    /// Input not yet forwarded: buf[base...]. The lexer's next byte is buf[pos].
    private var buf: [UInt8] = []
    private var base = 0
    private var pos = 0
    /// Absolute index in buf of the first NUL byte at or after pos (NUL is refused everywhere: psql's
    /// line reader stops at NUL (strlen), which would desynchronise it from any byte-based lexer).
    private var nulAt = Int.max
    /// The byte before buf[0] ("\n" at the start of the stream), to know whether buf[pos] starts a line.
    private var byteBeforeBuf: UInt8 = 0x0A
    /// Line number (1-based) of buf[pos] in SQL mode, of the next byte in COPY mode.
    private var line = 1

    private var inCopy = false
    private var copyLineLen = 0
    private var copyHead0: UInt8 = 0
    private var copyHead1: UInt8 = 0
    private var copyHead2: UInt8 = 0
    private var copyLine = 0
    private var copyHeader: [UInt8] = []   // the COPY statement's first bytes, for refusal excerpts

    private var failure: ReplayRefusal?
    private var finished = false

    private var inLOBlock = false
    private var loBlockLine = 0
    private var loBlockHeader: [UInt8] = []
    private var restrictKey: [UInt8]?
    private var sawUnrestrict = false

    // Lexer (psqlscan.l start conditions; see LexState).
    private var st: LexState = .initial
    private var tokStart = 0          // absolute index of the construct being lexed
    private var tokLine = 1
    private var strKind: UInt8 = 0
    private var commentDepth = 0      // psqlscan's xcdepth
    private var commentPrev: UInt8 = 0
    private var afterNewline = false  // <xqs>: a newline was seen since the closing quote
    private var afterInComment = false
    private var colonAllDigits = true
    private var dolqDelim: [UInt8] = []
    /// Start (absolute) and line of the current statement's first token, or of a comment that precedes
    /// any token (so that the size limit and error excerpts are defined independently of chunking).
    private var guardStart = -1
    private var guardLine = 0
    private var s = Statement()

    private static let tokenCap = 8192

    private mutating func remember(_ refusal: ReplayRefusal) -> ReplayRefusal {
        failure = refusal
        return refusal
    }

    // MARK: - Feeding

    private mutating func feed(_ chunk: UnsafeBufferPointer<UInt8>, _ out: inout [UInt8]) throws {
        guard let chunkBase = chunk.baseAddress, chunk.count > 0 else { return }
        var i = 0
        if inCopy && pos == buf.count {
            // Fast path: COPY data straight from the caller's chunk.
            compact()
            let nul = memchr(chunkBase, 0, chunk.count).map { UnsafeRawPointer(chunkBase).distance(to: UnsafeRawPointer($0)) } ?? Int.max
            i = try copyScan(chunk, from: 0, nul: nul, &out)
            if i > 0 { byteBeforeBuf = chunk[i - 1] }
            if i == chunk.count { return }
        }
        let old = buf.count
        buf.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[i...]))
        if nulAt == Int.max {
            let found: Int? = buf.withUnsafeBufferPointer { p in
                memchr(p.baseAddress! + old, 0, p.count - old).map { UnsafeRawPointer(p.baseAddress!).distance(to: UnsafeRawPointer($0)) }
            }
            if let found { nulAt = found }
        }
        try runBuffered(eof: false, &out)
        compact()
    }

    private mutating func runBuffered(eof: Bool, _ out: inout [UInt8]) throws {
        while true {
            let bytes = buf
            let again: Bool = try bytes.withUnsafeBufferPointer { p in
                if inCopy {
                    pos = try copyScan(p, from: pos, nul: nulAt, &out)
                    base = pos
                    return !inCopy && pos < p.count
                }
                return try lex(p, eof: eof, &out)
            }
            if !again { return }
        }
    }

    /// Drops the forwarded prefix of buf (once per push, so the cost is linear).
    private mutating func compact() {
        guard base > 0 else { return }
        byteBeforeBuf = buf[base - 1]
        buf.removeSubrange(0..<base)
        pos -= base
        tokStart -= base
        if guardStart >= 0 { guardStart -= base }
        if nulAt != Int.max { nulAt -= base }
        base = 0
    }

    // MARK: - COPY data

    /// Forwards COPY data from p[from...] up to and including the `\.` line; returns where it stopped.
    /// psql (copy.c handleCopyIn) ends the data at a line that is exactly "\\.\n" or "\\.\r\n".
    private mutating func copyScan(_ p: UnsafeBufferPointer<UInt8>, from: Int, nul: Int, _ out: inout [UInt8]) throws -> Int {
        let pb = p.baseAddress!
        let lim = min(p.count, nul)
        var i = from
        var ended = false
        while i < lim {
            guard let hit = memchr(pb + i, 0x0A, lim - i) else {
                noteCopyBytes(p, i, lim)
                i = lim
                break
            }
            let j = UnsafeRawPointer(pb).distance(to: UnsafeRawPointer(hit))
            noteCopyBytes(p, i, j)
            let isEnd = (copyLineLen == 2 && copyHead0 == 0x5C && copyHead1 == 0x2E)
                || (copyLineLen == 3 && copyHead0 == 0x5C && copyHead1 == 0x2E && copyHead2 == 0x0D)
            copyLineLen = 0
            line += 1
            i = j + 1
            if isEnd {
                ended = true
                break
            }
            copyRows += 1
        }
        if i > from { out.append(contentsOf: UnsafeBufferPointer(rebasing: p[from..<i])) }
        if ended {
            inCopy = false
            return i
        }
        if i == nul && nul < p.count {
            throw ReplayRefusal(line: line, reason: "NUL byte in COPY data", excerpt: ReplayFilter.excerpt(copyHeader))
        }
        return i
    }

    @inline(__always)
    private mutating func noteCopyBytes(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int) {
        var k = a
        while k < b && copyLineLen < 3 {
            switch copyLineLen {
            case 0: copyHead0 = p[k]
            case 1: copyHead1 = p[k]
            default: copyHead2 = p[k]
            }
            copyLineLen += 1
            k += 1
        }
        if k < b { copyLineLen = 4 }  // longer than any terminator
    }

    // MARK: - Lexer

    /// psqlscan.l start conditions, plus the sub-token "runs" that flex matches in one go.
    private enum LexState: UInt8 {
        case initial        // INITIAL
        case lineComment    // {comment} (psqlscan.l l.163), matched by the {whitespace} rule (l.381)
        case blockComment   // <xc> (l.393-428), nested through xcdepth
        case squote         // <xq>/<xe>/<xb>/<xh>/<xus>, kind in strKind (l.430-532)
        case afterString    // <xqs>: after a closing quote, looking for a continuation (l.471-503)
        case dquote         // <xd>/<xui> (l.573-594)
        case dollarBody     // <xdolq> (l.544-571)
        case dollarTag      // after "$x": {dolqdelim} or {dolqfailed} (l.534-543)
        case ident          // {identifier} (l.878-929)
        case numInt         // {integer}/{decimal}/{decimalfail}/{real}/{realfail}/{*_junk} (l.850-876)
        case numFrac
        case numExp
        case param          // {param}/{param_junk} (l.843-849)
        case colonVar       // :{variable_char}+ (l.680-724)
    }

    // String kinds (Tok.ch for string tokens).
    private static let sXQ: UInt8 = 1, sXE: UInt8 = 2, sXB: UInt8 = 3, sXH: UInt8 = 4, sXUS: UInt8 = 5, sNat: UInt8 = 6

    private static let needMore = -2
    private static let none = -1

    /// Lookahead: the byte at q, `none` at end of input, `needMore` if it has not arrived yet.
    @inline(__always)
    private static func peek(_ p: UnsafeBufferPointer<UInt8>, _ q: Int, _ eof: Bool) -> Int {
        if q < p.count { return Int(p[q]) }
        return eof ? none : needMore
    }

    /// Lexes buf from pos. Returns true if it stopped because COPY data mode began (call again),
    /// false if it needs more input (or, at EOF, consumed everything it can).
    private mutating func lex(_ p: UnsafeBufferPointer<UInt8>, eof: Bool, _ out: inout [UInt8]) throws -> Bool {
        let n = p.count

        scan: while true {
            let hard = guardStart >= 0 ? guardStart + maxStatementBytes : Int.max
            if pos >= hard {
                throw ReplayRefusal(line: guardLine,
                                    reason: "statement longer than \(maxStatementBytes) bytes",
                                    excerpt: excerpt(p, guardStart, min(n, guardStart + 400)))
            }
            if pos >= nulAt {
                throw lexRefusal(p, at: nulAt, reason: "NUL byte")
            }
            if pos >= n {
                if !eof { break scan }
                switch st {
                case .ident, .numInt, .numFrac, .numExp, .param, .colonVar, .dollarTag, .afterString:
                    break  // finish the run below
                default:
                    break scan
                }
            }
            let lim = min(n, nulAt, hard)

            switch st {
            case .initial:
                let c = p[pos]
                switch c {
                case 0x20, 0x09, 0x0C, 0x0D:                 // {space} (l.158)
                    pos += 1
                case 0x0A:
                    pos += 1
                    line += 1
                case 0x2D:                                   // '-'
                    let d = ReplayFilter.peek(p, pos + 1, eof)
                    if d == ReplayFilter.needMore { break scan }
                    if d == 0x2D {                           // {comment}: {whitespace} is longest (l.381)
                        beginComment()
                        st = .lineComment
                        pos += 2
                    } else {
                        punct(p, c)
                    }
                case 0x2F:                                   // '/'
                    let d = ReplayFilter.peek(p, pos + 1, eof)
                    if d == ReplayFilter.needMore { break scan }
                    if d == 0x2A {                           // {xcstart}, yyless(2) (l.393)
                        beginComment()
                        st = .blockComment
                        commentDepth = 0
                        commentPrev = 0
                        pos += 2
                    } else {
                        punct(p, c)
                    }
                case 0x3B:                                   // ';' (l.651-661)
                    if s.parenDepth == 0 && s.beginDepth == 0 {
                        let d = ReplayFilter.peek(p, pos + 1, eof)
                        if d == ReplayFilter.needMore { break scan }
                        startToken()
                        pos += 1
                        addToken(p, kind: Tok.semi, ch: c, start: tokStart, end: pos, terminating: true)
                        if try completeStatement(p, next: d, &out) { return true }
                    } else {
                        startToken()
                        pos += 1
                        addToken(p, kind: Tok.semi, ch: c, start: tokStart, end: pos, terminating: false)
                    }
                case 0x28:                                   // '(' (l.640)
                    punct(p, c)
                    s.parenDepth += 1
                case 0x29:                                   // ')' (l.645)
                    if s.parenDepth > 0 { s.parenDepth -= 1 }
                    punct(p, c)
                case 0x27:                                   // {xqstart} (l.455)
                    startToken()
                    strKind = ReplayFilter.sXQ
                    enterString()
                    pos += 1
                case 0x22:                                   // {xdstart} (l.573)
                    startToken()
                    strKind = 1
                    st = .dquote
                    pos += 1
                case 0x24:                                   // '$'
                    let d = ReplayFilter.peek(p, pos + 1, eof)
                    if d == ReplayFilter.needMore { break scan }
                    if d >= 0x30 && d <= 0x39 {              // {param}, {param_junk}
                        startToken()
                        st = .param
                        pos += 1
                    } else if d == 0x24 {                    // {dolqdelim} with an empty tag
                        startToken()
                        dolqDelim = [0x24, 0x24]
                        st = .dollarBody
                        pos += 2
                    } else if d >= 0 && isTagStart(UInt8(d)) {
                        startToken()
                        st = .dollarTag
                        pos += 1
                    } else {
                        punct(p, c)                          // {other}
                    }
                case 0x3A:                                   // ':' (l.602-614, 680-767)
                    let d = ReplayFilter.peek(p, pos + 1, eof)
                    if d == ReplayFilter.needMore { break scan }
                    if d == 0x3A || d == 0x3D {              // {typecast} "::", {colon_equals} ":="
                        startToken()
                        pos += 2
                        addToken(p, kind: Tok.punct, ch: c, start: tokStart, end: pos)
                    } else if d >= 0 && isVarChar(UInt8(d)) {
                        startToken()
                        colonAllDigits = true
                        st = .colonVar
                        pos += 1
                    } else if d == 0x27 || d == 0x22 || d == 0x7B {
                        // :'name' :"name" :{?name} — psql would interpolate or test a variable.
                        let e = ReplayFilter.peek(p, pos + 2, eof)
                        if e == ReplayFilter.needMore { break scan }
                        let quoted = d != 0x7B && e >= 0 && isVarChar(UInt8(e))
                        if quoted || (d == 0x7B && e == 0x3F) {
                            guard let stop = runEnd(p, from: pos + (quoted ? 2 : 3), max: 64, eof: eof, pred: isVarChar)
                            else { break scan }
                            let end = Swift.min(n, stop + 1)
                            let name = ReplayFilter.sanitize(String(decoding: p[pos..<end], as: UTF8.self))
                            throw lexRefusal(p, at: pos, end: end, reason: "psql variable \(name)")
                        }
                        punct(p, c)
                    } else {
                        punct(p, c)
                    }
                case 0x5C:                                   // '\\' (l.667-678)
                    if try backslash(p, eof: eof, &out) { continue scan }
                    break scan
                case 0x2E:                                   // '.'
                    let d = ReplayFilter.peek(p, pos + 1, eof)
                    if d == ReplayFilter.needMore { break scan }
                    if d >= 0x30 && d <= 0x39 {              // {decimal} ".5"
                        startToken()
                        st = .numFrac
                        pos += 1
                    } else if d == 0x2E {                    // {dot_dot}
                        startToken()
                        pos += 2
                        addToken(p, kind: Tok.punct, ch: c, start: tokStart, end: pos)
                    } else {
                        punct(p, c)
                    }
                case 0x30...0x39:
                    startToken()
                    st = .numInt
                    pos += 1
                case 0x41...0x5A, 0x61...0x7A, 0x5F:
                    let lower = c | 0x20
                    if lower == 0x62 || lower == 0x78 || lower == 0x65 || lower == 0x6E {
                        // {xbstart} B', {xhstart} X', {xestart} E', {xnstart} N' (l.430-465)
                        let d = ReplayFilter.peek(p, pos + 1, eof)
                        if d == ReplayFilter.needMore { break scan }
                        if d == 0x27 {
                            startToken()
                            strKind = lower == 0x62 ? ReplayFilter.sXB : lower == 0x78 ? ReplayFilter.sXH
                                : lower == 0x65 ? ReplayFilter.sXE : ReplayFilter.sNat
                            enterString()
                            pos += 2
                            continue scan
                        }
                    } else if lower == 0x75 {
                        // {xusstart} U&' (l.466), {xuistart} U&" (l.577), {xufailed} U& (l.596)
                        let d = ReplayFilter.peek(p, pos + 1, eof)
                        if d == ReplayFilter.needMore { break scan }
                        if d == 0x26 {
                            let e = ReplayFilter.peek(p, pos + 2, eof)
                            if e == ReplayFilter.needMore { break scan }
                            startToken()
                            if e == 0x27 {
                                strKind = ReplayFilter.sXUS
                                enterString()
                                pos += 3
                            } else if e == 0x22 {
                                strKind = 2
                                st = .dquote
                                pos += 3
                            } else {                         // yyless(1): "U" is echoed, not an identifier
                                pos += 1
                                addToken(p, kind: Tok.other, ch: c, start: tokStart, end: pos)
                            }
                            continue scan
                        }
                    }
                    startToken()
                    st = .ident
                    pos += 1
                case 0x80...0xFF:
                    // Unquoted non-ASCII: pg_dump quotes every such identifier. Refusing it keeps psql's
                    // locale-dependent keyword matching (pg_strcasecmp) and client-encoding byte
                    // replacement (psqlscan_prepare_buffer) out of the picture.
                    throw lexRefusal(p, at: pos, reason: "non-ASCII byte outside quotes")
                case 0x00...0x1F, 0x7F:
                    throw lexRefusal(p, at: pos, reason: "control character outside quotes")
                default:
                    punct(p, c)                              // {self}, {operator}, {other}
                }

            case .lineComment:
                while pos < lim {
                    let c = p[pos]
                    if c == 0x0A || c == 0x0D { break }
                    pos += 1
                }
                if pos < lim { endComment() }

            case .blockComment:
                // <xc>: "/*" nests (xcstart, yyless(2)), "*+/" closes (xcstop); l.401-428.
                while pos < lim {
                    let c = p[pos]
                    pos += 1
                    if commentPrev == 0x2A && c == 0x2F {
                        commentPrev = 0
                        if commentDepth == 0 {
                            endComment()
                            break
                        }
                        commentDepth -= 1
                    } else if commentPrev == 0x2F && c == 0x2A {
                        commentPrev = 0
                        commentDepth += 1
                    } else {
                        commentPrev = (c == 0x2A || c == 0x2F) ? c : 0
                        if c == 0x0A { line += 1 }
                    }
                }

            case .squote:
                if try lexString(p, lim: lim, eof: eof) == false { break scan }

            case .afterString:
                // <xqs> (l.471-503). SQL continues a literal across whitespace containing a
                // newline; psql only does so within one input line (it lexes line by line), the server
                // across lines. Ambiguity: refuse any continuation (pg_dump never writes one).
                if pos >= n {                                // EOF: the string simply ended
                    st = .initial
                    continue scan
                }
                while pos < lim {
                    let c = p[pos]
                    if afterInComment {
                        if c == 0x0A || c == 0x0D { afterInComment = false } else { pos += 1 }
                        continue
                    }
                    if c == 0x20 || c == 0x09 || c == 0x0C {
                        pos += 1
                    } else if c == 0x0A {
                        pos += 1
                        line += 1
                        afterNewline = true
                    } else if c == 0x0D {
                        pos += 1
                        afterNewline = true
                    } else if c == 0x2D {
                        let d = ReplayFilter.peek(p, pos + 1, eof)
                        if d == ReplayFilter.needMore { break scan }
                        if d == 0x2D {
                            afterInComment = true
                            pos += 2
                        } else {
                            st = .initial
                            continue scan
                        }
                    } else if c == 0x27 && afterNewline {
                        throw lexRefusal(p, at: pos, reason: "string literal continued after a line break (psql and the server would split it differently)")
                    } else {
                        st = .initial
                        continue scan
                    }
                }

            case .dquote:
                // <xd>/<xui>: "" doubles, " ends (l.581-594).
                while pos < lim {
                    let c = p[pos]
                    if c == 0x22 {
                        let d = ReplayFilter.peek(p, pos + 1, eof)
                        if d == ReplayFilter.needMore { break scan }
                        if d == 0x22 {
                            pos += 2
                            continue
                        }
                        pos += 1
                        addToken(p, kind: Tok.qident, ch: strKind, start: tokStart, end: pos)
                        st = .initial
                        continue scan
                    }
                    if c == 0x0A { line += 1 }
                    pos += 1
                }

            case .dollarBody:
                // <xdolq>: every "$" starts a token, so the body ends at the first occurrence of the
                // opening delimiter (l.544-571: a mismatched $tag$ puts back its last "$").
                let pb = p.baseAddress!
                let dl = dolqDelim.count
                while pos < lim {
                    guard let hit = memchr(pb + pos, 0x24, lim - pos) else {
                        line += countNewlines(p, pos, lim)
                        pos = lim
                        break
                    }
                    let q = UnsafeRawPointer(pb).distance(to: UnsafeRawPointer(hit))
                    line += countNewlines(p, pos, q)
                    pos = q
                    if q + dl > n {
                        if !eof { break scan }
                        pos = q + 1
                        continue
                    }
                    var match = true
                    for k in 1..<dl where p[q + k] != dolqDelim[k] { match = false; break }
                    if match {
                        pos = q + dl
                        addToken(p, kind: Tok.dollar, ch: 0, start: tokStart, end: pos)
                        st = .initial
                        continue scan
                    }
                    pos = q + 1
                }

            case .dollarTag:
                while pos < lim && isTagCont(p[pos]) { pos += 1 }
                if pos == n && !eof { break scan }
                if pos < n && p[pos] == 0x24 {               // {dolqdelim}
                    for k in (tokStart + 1)..<pos where p[k] >= 0x80 {
                        throw lexRefusal(p, at: k, reason: "non-ASCII dollar-quote tag")
                    }
                    pos += 1
                    dolqDelim = Array(p[tokStart..<pos])
                    st = .dollarBody
                } else {                                     // {dolqfailed}: yyless(1), rescan after "$"
                    pos = tokStart + 1
                    addToken(p, kind: Tok.other, ch: 0x24, start: tokStart, end: pos)
                    st = .initial
                }

            case .ident:
                while pos < lim && isIdentCont(p[pos]) {
                    if p[pos] >= 0x80 { throw lexRefusal(p, at: pos, reason: "non-ASCII byte outside quotes") }
                    pos += 1
                }
                if pos == n && !eof { break scan }
                st = .initial
                identifier(p, tokStart, pos)

            case .numInt, .numFrac:
                while pos < lim && isDigit(p[pos]) { pos += 1 }
                if pos == n && !eof { break scan }
                let c = pos < n ? Int(p[pos]) : ReplayFilter.none
                if c == 0x2E && st == .numInt {
                    let d = ReplayFilter.peek(p, pos + 1, eof)
                    if d == ReplayFilter.needMore { break scan }
                    if d == 0x2E {                           // {decimalfail}: yyless(yyleng - 2)
                        finishNumber(p)
                    } else {
                        pos += 1
                        st = .numFrac
                    }
                } else if c == 0x45 || c == 0x65 {
                    if try !exponent(p, eof: eof) { break scan }
                } else if c >= 0 && isIdentStart(UInt8(c)) {
                    throw junkNumber(p)                      // {integer_junk}, {decimal_junk}
                } else {
                    finishNumber(p)
                }

            case .numExp:
                while pos < lim && isDigit(p[pos]) { pos += 1 }
                if pos == n && !eof { break scan }
                if pos < n && isIdentStart(p[pos]) { throw junkNumber(p) }   // {real_junk}
                finishNumber(p)

            case .param:
                while pos < lim && isDigit(p[pos]) { pos += 1 }
                if pos == n && !eof { break scan }
                if pos < n && isIdentStart(p[pos]) { throw junkNumber(p) }   // {param_junk}
                finishNumber(p)

            case .colonVar:
                // :{variable_char}+ — psql substitutes a variable of that name if one is set. Digits
                // only (array slices such as a[1:2]) are allowed; anything else is refused.
                while pos < lim && isVarChar(p[pos]) {
                    if !isDigit(p[pos]) { colonAllDigits = false }
                    pos += 1
                    if !colonAllDigits && pos - tokStart > 64 { break }
                }
                let tooLong = !colonAllDigits && pos - tokStart > 64
                if !tooLong && pos == n && !eof { break scan }
                if !colonAllDigits {
                    let name = String(decoding: p[tokStart..<min(pos, tokStart + 65)], as: UTF8.self)
                    throw lexRefusal(p, at: tokStart, end: pos, reason: "psql variable \(name)")
                }
                addToken(p, kind: Tok.other, ch: 0x3A, start: tokStart, end: pos)
                st = .initial
            }
        }

        // Forward whitespace and finished comments that precede any token.
        if st == .initial && guardStart < 0 && pos > base {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: p[base..<pos]))
            base = pos
        }
        return false
    }

    /// Inside '…' (kind in strKind). Returns false if it needs more input.
    /// Backslash runs are measured backwards from the byte that matters: the bytes before p[pos] in
    /// the literal are always in buf (a literal is part of a statement, which is never compacted away).
    private mutating func lexString(_ p: UnsafeBufferPointer<UInt8>, lim: Int, eof: Bool) throws -> Bool {
        let kind = strKind
        let pb = p.baseAddress!
        while pos < lim {
            // Fast path: ordinary bytes.
            var q = pos
            while q < lim {
                let c = pb[q]
                if c == 0x27 || c == 0x5C || c == 0x0A { break }
                q += 1
            }
            pos = q
            if pos == lim { break }
            let c = pb[pos]
            if c == 0x0A {
                line += 1
                pos += 1
                continue
            }
            if c == 0x5C {
                if kind == ReplayFilter.sXE {
                    // {xeescape} and friends consume the backslash and the next byte.
                    if pb[pos - 1] >= 0x80 {
                        // Ambiguity: in SJIS/BIG5/GBK/GB18030/JOHAB psql takes a byte after a non-ASCII
                        // lead byte as a trail byte (psqlscan_prepare_buffer), so this backslash might
                        // not escape anything for psql if a function switched client_encoding.
                        throw lexRefusal(p, at: pos, reason: "backslash after a non-ASCII byte in an E'' string")
                    }
                    if pos + 1 == nulAt { pos += 1; return true }
                    let d = ReplayFilter.peek(p, pos + 1, eof)
                    if d == ReplayFilter.needMore { return false }
                    if d == ReplayFilter.none { pos += 1; continue }
                    if d == 0x0A { line += 1 }
                    pos += 2
                    continue
                }
                pos += 1
                continue
            }
            // c == "'"
            if kind == ReplayFilter.sXB || kind == ReplayFilter.sXH {    // no '' in <xb>/<xh>
                pos += 1
                closeString(p)
                return true
            }
            if kind == ReplayFilter.sXQ || kind == ReplayFilter.sNat {
                var k = pos
                while pb[k - 1] == 0x5C { k -= 1 }
                let run = pos - k
                if run > 0 && (run & 1 == 1 || pb[k - 1] >= 0x80) {
                    // Ambiguity: psql lexes '…' as <xe> when standard_conforming_strings is off
                    // (psqlscan.l l.455-461), and functions run during the restore can change that
                    // setting (or switch to a client encoding whose trail bytes hide a backslash).
                    // Such a string would then end at a different quote.
                    throw lexRefusal(p, at: k, end: pos + 1,
                                     reason: "backslash before a quote in a standard string (ambiguous for psql)")
                }
            }
            let d = ReplayFilter.peek(p, pos + 1, eof)
            if d == ReplayFilter.needMore { return false }
            if d == 0x27 {                                    // {xqdouble}
                pos += 2
                continue
            }
            pos += 1
            closeString(p)
            return true
        }
        return true
    }

    private mutating func enterString() {
        st = .squote
    }

    private mutating func closeString(_ p: UnsafeBufferPointer<UInt8>) {
        addToken(p, kind: Tok.string, ch: strKind, start: tokStart, end: pos)
        st = .afterString
        afterNewline = false
        afterInComment = false
    }

    /// At [eE] after digits: {real} continues; {realfail} ("1e-x") and junk ("1e", "1ex") are refused.
    /// Returns false if it needs more input.
    private mutating func exponent(_ p: UnsafeBufferPointer<UInt8>, eof: Bool) throws -> Bool {
        let d = ReplayFilter.peek(p, pos + 1, eof)
        if d == ReplayFilter.needMore { return false }
        if d == 0x2B || d == 0x2D {
            let e = ReplayFilter.peek(p, pos + 2, eof)
            if e == ReplayFilter.needMore { return false }
            if e >= 0x30 && e <= 0x39 {
                pos += 2
                st = .numExp
                return true
            }
        } else if d >= 0x30 && d <= 0x39 {
            pos += 1
            st = .numExp
            return true
        }
        throw junkNumber(p)
    }

    /// psqlscan.l 15+ swallows letters after a number ({integer_junk} etc.); psql 13/14 end the number
    /// there ({realfail1}: "1e'x'" is 1 then an E'' string, "1begin" is 1 then BEGIN for the BEGIN … END
    /// heuristic); psql 16+ reads "1_000", "0x1F", "1_2.e" as numbers. pg_dump never writes a number
    /// followed by letters, so refuse instead of picking one version's reading.
    private func junkNumber(_ p: UnsafeBufferPointer<UInt8>) -> ReplayRefusal {
        return lexRefusal(p, at: tokStart, end: Swift.min(p.count, pos + 1),
                          reason: "number immediately followed by letters or a bare exponent (psql versions lex it differently)")
    }

    private mutating func finishNumber(_ p: UnsafeBufferPointer<UInt8>) {
        addToken(p, kind: Tok.number, ch: 0, start: tokStart, end: pos)
        st = .initial
    }

    private mutating func punct(_ p: UnsafeBufferPointer<UInt8>, _ c: UInt8) {
        startToken()
        pos += 1
        addToken(p, kind: Tok.punct, ch: c, start: tokStart, end: pos)
    }

    private mutating func startToken() {
        tokStart = pos
        tokLine = line
        if !s.started {
            s.started = true
            guardStart = pos
            guardLine = line
        }
    }

    private mutating func beginComment() {
        tokStart = pos
        tokLine = line
        if !s.started {
            guardStart = pos
            guardLine = line
        }
    }

    private mutating func endComment() {
        st = .initial
        if !s.started { guardStart = -1 }
    }

    /// A backslash outside quotes: psql's meta-command start. Returns true if it consumed a pg_dump
    /// `\restrict`/`\unrestrict` line, false if it needs more input; throws otherwise.
    private mutating func backslash(_ p: UnsafeBufferPointer<UInt8>, eof: Bool, _ out: inout [UInt8]) throws -> Bool {
        let n = p.count
        let startsLine = (pos > 0 ? p[pos - 1] : byteBeforeBuf) == 0x0A
        if !s.started && startsLine && st == .initial {
            guard let nl = runEnd(p, from: pos, max: 300, eof: eof, pred: { $0 != 0x0A }) else { return false }
            if nl < n && p[nl] == 0x0A {
                let lineBytes = Array(p[pos..<nl])
                if let (isRestrict, key) = ReplayFilter.parseRestrict(lineBytes) {
                    if isRestrict {
                        if restrictKey != nil {
                            throw lexRefusal(p, at: pos, end: nl, reason: "second \\restrict line")
                        }
                        restrictKey = key
                    } else {
                        guard let k = restrictKey else {
                            throw lexRefusal(p, at: pos, end: nl, reason: "\\unrestrict without a preceding \\restrict")
                        }
                        if sawUnrestrict {
                            throw lexRefusal(p, at: pos, end: nl, reason: "second \\unrestrict line")
                        }
                        if k != key {
                            throw lexRefusal(p, at: pos, end: nl, reason: "\\unrestrict key does not match \\restrict")
                        }
                        sawUnrestrict = true
                    }
                    // Drop the line including its "\n"; forward what precedes it.
                    if pos > base { out.append(contentsOf: UnsafeBufferPointer(rebasing: p[base..<pos])) }
                    pos = nl + 1
                    line += 1
                    base = pos
                    return true
                }
            }
        }
        // Any other backslash: psql would run a meta-command (psqlscanslash.l: the name ends at
        // whitespace or a backslash). Wait for the rest of the line (≤ 80 bytes) for the excerpt.
        guard let stop = runEnd(p, from: pos, max: 80, eof: eof, pred: { $0 != 0x0A }) else { return false }
        var nameEnd = pos + 1
        while nameEnd < stop && nameEnd < pos + 33 {
            let c = p[nameEnd]
            if c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0C || c == 0x5C { break }
            nameEnd += 1
        }
        let name = ReplayFilter.sanitize(String(decoding: p[pos..<nameEnd], as: UTF8.self))
        throw lexRefusal(p, at: pos, end: stop, reason: "psql meta-command \(name)")
    }

    /// `\restrict KEY` / `\unrestrict KEY` with KEY = [A-Za-z0-9]{1,256}, nothing else on the line.
    private static func parseRestrict(_ line: [UInt8]) -> (Bool, [UInt8])? {
        let r = Array("\\restrict ".utf8), u = Array("\\unrestrict ".utf8)
        let isRestrict: Bool
        let key: ArraySlice<UInt8>
        if line.starts(with: r) {
            isRestrict = true
            key = line[r.count...]
        } else if line.starts(with: u) {
            isRestrict = false
            key = line[u.count...]
        } else {
            return nil
        }
        guard !key.isEmpty, key.count <= 256,
              key.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) })
        else { return nil }
        return (isRestrict, Array(key))
    }

    /// Bounded lookahead: the index of the first byte at or after `from` that fails `pred`, or
    /// `from + max` if the first `max` bytes all satisfy it; nil if that is not known yet (at EOF: p.count).
    private func runEnd(_ p: UnsafeBufferPointer<UInt8>, from: Int, max: Int, eof: Bool, pred: (UInt8) -> Bool) -> Int? {
        var k = from
        let stop = Swift.min(p.count, from + max)
        while k < stop {
            if !pred(p[k]) { return k }
            k += 1
        }
        if from + max <= p.count { return from + max }
        return eof ? p.count : nil
    }

    // MARK: Tokens and psql's statement state

    private struct Tok {
        static let ident: UInt8 = 1, qident: UInt8 = 2, string: UInt8 = 3, dollar: UInt8 = 4, number: UInt8 = 5,
                   punct: UInt8 = 6, semi: UInt8 = 7, other: UInt8 = 8
        var kind: UInt8
        var ch: UInt8
        var depth: Int32
        var start: Int   // relative to base
        var end: Int
    }

    /// Per-statement state: psqlscan's paren_depth, begin_depth, identifier_count, identifiers[4], and
    /// summaries the classifier needs for statements longer than `tokenCap` tokens.
    private struct Statement {
        var started = false
        var tokens: [Tok] = []
        var count = 0
        var truncated = false
        var parenDepth = 0
        var beginDepth = 0
        var identCount = 0
        var ids: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
        // summaries (identifiers at parenthesis depth 0)
        var on = false
        var onAt = -1          // ordinal of the first ON at parenthesis depth 0
        var asWord = false
        var languages = 0
        var languagePending = false
        var badLanguage: String?
        var begins = 0
        var firstBegin = -1
        var atomicAt = -1
        var semiEnds = 0
        var lastSemiEnd = -1
        var internalSemis = 0
        var hasReturn = false
        var prevKind: UInt8 = 0
        var prevCh: UInt8 = 0
        var prevDepth = 0
        // the last three tokens before the terminator
        var last0 = Tok(kind: 0, ch: 0, depth: 0, start: 0, end: 0)
        var last1 = Tok(kind: 0, ch: 0, depth: 0, start: 0, end: 0)
        var last2 = Tok(kind: 0, ch: 0, depth: 0, start: 0, end: 0)
    }

    /// The few keywords the lexer and the classifier track, recognised once per identifier.
    private enum KW: UInt8 {
        case none, create, function, procedure, or, replace, begin, case_, end, on, as_, return_, atomic, language,
             sql, plpgsql
    }

    private func keyword(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int) -> KW {
        switch b - a {
        case 2:
            if word(p, a, b, "or") { return .or }
            if word(p, a, b, "on") { return .on }
            if word(p, a, b, "as") { return .as_ }
        case 3:
            if word(p, a, b, "end") { return .end }
            if word(p, a, b, "sql") { return .sql }
        case 4:
            if word(p, a, b, "case") { return .case_ }
        case 5:
            if word(p, a, b, "begin") { return .begin }
        case 6:
            if word(p, a, b, "create") { return .create }
            if word(p, a, b, "return") { return .return_ }
            if word(p, a, b, "atomic") { return .atomic }
        case 7:
            if word(p, a, b, "replace") { return .replace }
            if word(p, a, b, "plpgsql") { return .plpgsql }
        case 8:
            if word(p, a, b, "function") { return .function }
            if word(p, a, b, "language") { return .language }
        case 9:
            if word(p, a, b, "procedure") { return .procedure }
        default:
            break
        }
        return .none
    }

    private mutating func identifier(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int) {
        let kw = keyword(p, a, b)
        addToken(p, kind: Tok.ident, ch: 0, start: a, end: b, kw: kw)
        // psqlscan.l l.878-929: track CREATE [OR REPLACE] FUNCTION|PROCEDURE … BEGIN … END.
        if s.identCount == 0 { s.ids = (0, 0, 0, 0) }
        if kw == .create || kw == .function || kw == .procedure || kw == .or || kw == .replace {
            let first = p[a] | 0x20
            switch s.identCount {
            case 0: s.ids.0 = first
            case 1: s.ids.1 = first
            case 2: s.ids.2 = first
            case 3: s.ids.3 = first
            default: break
            }
        }
        s.identCount += 1
        let ids = s.ids
        if ids.0 == 0x63 && (ids.1 == 0x66 || ids.1 == 0x70
            || (ids.1 == 0x6F && ids.2 == 0x72 && (ids.3 == 0x66 || ids.3 == 0x70))) && s.parenDepth == 0 {
            if kw == .begin {
                s.beginDepth += 1
            } else if kw == .case_ {
                if s.beginDepth >= 1 { s.beginDepth += 1 }
            } else if kw == .end {
                if s.beginDepth > 0 { s.beginDepth -= 1 }
            }
        }
    }

    private mutating func addToken(_ p: UnsafeBufferPointer<UInt8>, kind: UInt8, ch: UInt8, start: Int, end: Int,
                                   terminating: Bool = false, kw: KW = .none) {
        let depth = s.parenDepth   // '(' is added before its increment, ')' after its decrement
        let tok = Tok(kind: kind, ch: ch, depth: Int32(depth), start: start - base, end: end - base)
        let ordinal = s.count
        let d0 = depth == 0
        // LANGUAGE <name>: the token after every depth-0 LANGUAGE outside a BEGIN ATOMIC body.
        if s.languagePending {
            s.languagePending = false
            let ok = (kind == Tok.ident && (kw == .sql || kw == .plpgsql))
                || (kind == Tok.qident && ch == 1 && (exact(p, start, end, "\"sql\"") || exact(p, start, end, "\"plpgsql\"")))
            if !ok && s.badLanguage == nil {
                s.badLanguage = terminating ? "(none)" : String(decoding: p[start..<min(end, start + 40)], as: UTF8.self)
            }
        } else if kw == .language && d0 && s.atomicAt < 0 {
            s.languages += 1
            s.languagePending = true
        }
        if kw != .none && d0 {
            switch kw {
            case .on:
                if !s.on { s.onAt = ordinal }
                s.on = true
            case .as_: s.asWord = true
            case .return_: if s.atomicAt < 0 { s.hasReturn = true }
            case .begin:
                s.begins += 1
                if s.firstBegin < 0 { s.firstBegin = ordinal }
            case .atomic:
                if s.firstBegin >= 0 && s.firstBegin == ordinal - 1 && s.atomicAt < 0 { s.atomicAt = ordinal }
            case .end:
                if (s.prevKind == Tok.semi && s.prevDepth == 0) || (s.atomicAt >= 0 && s.atomicAt == ordinal - 1) {
                    s.semiEnds += 1
                    s.lastSemiEnd = ordinal
                }
            default:
                break
            }
        }
        if kind == Tok.semi && d0 && !terminating { s.internalSemis += 1 }
        s.prevKind = kind
        s.prevCh = ch
        s.prevDepth = depth
        if !terminating {
            s.last0 = s.last1
            s.last1 = s.last2
            s.last2 = tok
        }
        if s.tokens.count < ReplayFilter.tokenCap { s.tokens.append(tok) } else { s.truncated = true }
        s.count += 1
    }

    // MARK: Statements

    private enum Action { case forward, drop, copy }

    /// Called after the terminating ';' (pos is just past it). Returns true if COPY data mode began.
    private mutating func completeStatement(_ p: UnsafeBufferPointer<UInt8>, next: Int, _ out: inout [UInt8]) throws -> Bool {
        let start = guardStart
        let end = pos
        let action = try classify(p, start: start, end: end, next: next)
        switch action {
        case .forward:
            out.append(contentsOf: UnsafeBufferPointer(rebasing: p[base..<end]))
            statements += 1
        case .drop:
            if start > base { out.append(contentsOf: UnsafeBufferPointer(rebasing: p[base..<start])) }
        case .copy:
            // pos is at the "\n" that must follow "FROM stdin;" (checked by classify).
            pos += 1
            line += 1
            out.append(contentsOf: UnsafeBufferPointer(rebasing: p[base..<pos]))
            statements += 1
            inCopy = true
            copyLineLen = 0
            copyLine = guardLine
            copyHeader = Array(p[start..<Swift.min(end, start + 400)])
        }
        base = pos
        var tokens = s.tokens
        s.tokens = []
        tokens.removeAll(keepingCapacity: true)
        s = Statement()
        s.tokens = tokens
        guardStart = -1
        st = .initial
        return action == .copy
    }

    private func refuse(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ reason: String) -> ReplayRefusal {
        ReplayRefusal(line: guardLine, reason: reason, excerpt: excerpt(p, start, end))
    }

    /// Words that may follow a statement's first keyword in a refusal reason (object kinds, options).
    private static let kindWords: Set<String> = [
        "or", "replace", "event", "trigger", "foreign", "data", "wrapper", "table", "user", "mapping", "access",
        "method", "trusted", "procedural", "language", "transform", "subscription", "server", "role", "group",
        "database", "tablespace", "temp", "temporary", "unlogged", "global", "local", "text", "search",
        "materialized", "view", "extension", "schema", "function", "procedure", "routine", "aggregate", "cast",
        "operator", "class", "family", "rule", "policy", "publication", "sequence", "index", "unique",
        "statistics", "type", "domain", "collation", "conversion", "default", "constraint", "recursive",
        "system", "owned", "privileges", "large", "object", "session", "authorization", "all",
    ]
    private static let transactionWords: Set<String> = [
        "transaction", "work", "isolation", "level", "prepared", "and", "chain", "no", "savepoint", "read",
        "write", "only", "deferrable", "not",
    ]

    private mutating func classify(_ p: UnsafeBufferPointer<UInt8>, start: Int, end: Int, next: Int) throws -> Action {
        let toks = s.tokens
        let m = Matcher(p: p, base: base, toks: toks, count: s.truncated ? Int.max : toks.count - 1)
        func fail(_ reason: String) -> ReplayRefusal { refuse(p, start, end, reason) }

        if s.count == 1 { return .forward }                   // empty statement ";"

        guard toks[0].kind == Tok.ident else {
            throw fail("statement does not start with a keyword")
        }
        let w0 = m.lower(0)
        let w1 = m.count > 1 ? m.lower(1) : ""
        let w2 = m.count > 2 ? m.lower(2) : ""

        if s.internalSemis > 0 {
            // psql did not split at a ';' because of its BEGIN … END heuristic. The server splits
            // wherever its grammar ends a statement, so only a well-formed BEGIN ATOMIC body may pass.
            let head = w0 == "create" && (w1 == "function" || w1 == "procedure"
                || (w1 == "or" && w2 == "replace" && (m.lower(3) == "function" || m.lower(3) == "procedure")))
            let lastOrdinal = s.count - 2
            guard head, s.atomicAt >= 0, s.begins == 1, s.semiEnds == 1, s.lastSemiEnd == lastOrdinal else {
                throw fail("';' inside a statement that is not a well-formed BEGIN ATOMIC … END body")
            }
        }

        if inLOBlock {
            if m.count == 1 && w0 == "commit" {
                inLOBlock = false
                return .drop
            }
            if m.loCall("lo_open") || m.loCall("lowrite") || m.loCall("lo_close") { return .forward }
            throw fail("statement inside a large-object block other than lo_open/lowrite/lo_close")
        }

        switch w0 {
        case "set":
            try classifySet(m, fail)
            return .forward
        case "select":
            if m.loCall("set_config") || m.loCall("setval") || m.loCall("lo_create") { return .forward }
            if m.loCall("lo_open") || m.loCall("lowrite") || m.loCall("lo_close") {
                throw fail("large-object write outside a BEGIN/COMMIT large-object block")
            }
            throw fail("SELECT other than pg_dump's set_config/setval/lo_create calls")
        case "copy":
            try classifyCopy(m, next: next, fail)
            return .copy
        case "begin":
            if m.count == 1 {
                inLOBlock = true
                loBlockLine = guardLine
                loBlockHeader = Array(p[start..<Swift.min(end, start + 400)])
                return .drop
            }
            throw fail("transaction control (\(m.phrase(3, ReplayFilter.transactionWords)))")
        case "commit":
            if m.count == 1 { throw fail("transaction control (COMMIT) outside a large-object block") }
            throw fail("transaction control (\(m.phrase(3, ReplayFilter.transactionWords)))")
        case "end", "rollback", "abort", "start", "savepoint", "release":
            throw fail("transaction control (\(m.phrase(3, ReplayFilter.transactionWords)))")
        case "prepare":
            if w1 == "transaction" { throw fail("transaction control (PREPARE TRANSACTION)") }
            throw fail("PREPARE")
        case "create":
            try classifyCreate(m, fail)
            return .forward
        case "alter":
            try classifyAlter(m, fail)
            return .forward
        case "comment":
            if w1 == "on" { return .forward }
        case "security":
            if w1 == "label" { return .forward }
        case "refresh":
            if w1 == "materialized" && w2 == "view" { return .forward }
        case "grant", "revoke":
            guard s.on else { throw fail("\(w0.uppercased()) of role membership (no ON clause)") }
            // Cluster-wide objects: only `pg_dump --create` (refused anyway) or pg_dumpall write these.
            let target = s.onAt + 1 < toks.count ? m.lower(s.onAt + 1) : "?"
            if target == "database" || target == "tablespace" || target == "parameter" || target == "?" {
                throw fail("\(w0.uppercased()) ON \(target == "?" ? "…" : target.uppercased())")
            }
            return .forward
        case "reset":
            throw fail(m.phrase(3, ReplayFilter.kindWords.union(["role", "all"])))
        case "drop", "import":
            throw fail(m.phrase(3, ReplayFilter.kindWords))
        default:
            break
        }
        throw fail(m.phrase(2, ["definer", "invoker", "label", "materialized", "view", "on"]))
    }

    private static let settableParameters: Set<String> = [
            "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout", "transaction_timeout",
            "client_encoding", "standard_conforming_strings", "check_function_bodies", "xmloption",
            "client_min_messages", "escape_string_warning", "row_security", "default_tablespace",
            "default_table_access_method", "search_path", "default_with_oids",
    ]

    private func classifySet(_ m: Matcher, _ fail: (String) -> ReplayRefusal) throws {
        guard m.count >= 2, m.toks[1].kind == Tok.ident else { throw fail("SET of something other than a plain setting") }
        let name = m.lower(1)
        switch name {
        case "role": throw fail("SET ROLE")
        case "session":
            if m.lower(2) == "authorization" { throw fail("SET SESSION AUTHORIZATION") }
            throw fail("SET SESSION")
        case "local": throw fail("SET LOCAL")
        case "transaction": throw fail("SET TRANSACTION")
        default: break
        }
        guard ReplayFilter.settableParameters.contains(name) else { throw fail("SET \(name)") }
        guard m.count >= 4, (m.isPunct(2, 0x3D) || m.isWord(2, "to")) else { throw fail("SET \(name) with unexpected syntax") }
        // value: item (',' item)*, item = string | identifier | quoted identifier | [+-] number
        var values: [Int] = []
        var i = 3
        while true {
            guard i < m.count else { throw fail("SET \(name) with unexpected syntax") }
            if m.isPunct(i, 0x2D) || m.isPunct(i, 0x2B) {
                guard i + 1 < m.count, m.toks[i + 1].kind == Tok.number else { throw fail("SET \(name) with unexpected syntax") }
                values.append(i + 1)
                i += 2
            } else {
                let k = m.toks[i].kind
                guard k == Tok.ident || k == Tok.qident || k == Tok.number
                    || (k == Tok.string && m.toks[i].ch == ReplayFilter.sXQ) else {
                    throw fail("SET \(name) with unexpected syntax")
                }
                values.append(i)
                i += 1
            }
            if i == m.count { break }
            guard m.isPunct(i, 0x2C) else { throw fail("SET \(name) with unexpected syntax") }
            i += 1
        }
        func single() -> String? {
            guard values.count == 1 else { return nil }
            let t = m.toks[values[0]]
            if t.kind == Tok.ident { return m.lower(values[0]) }
            if t.kind == Tok.string { return m.stringContent(values[0]) }
            return nil
        }
        switch name {
        case "standard_conforming_strings":
            guard single()?.lowercased() == "on" else { throw fail("SET standard_conforming_strings to something other than on") }
        case "default_with_oids":
            guard let v = single()?.lowercased(), v == "false" || v == "off" else {
                throw fail("SET default_with_oids to something other than false")
            }
        case "client_encoding":
            guard let v = single(), ReplayFilter.safeEncodings.contains(ReplayFilter.normalizeEncoding(v)) else {
                throw fail("SET client_encoding to an encoding psql lexes differently (or unknown)")
            }
        default:
            break
        }
    }

    /// Server encodings (pg_enc2name_tbl up to PG_KOI8U); psql lexes these byte for byte. Client-only
    /// encodings (SJIS, BIG5, GBK, UHC, GB18030, JOHAB) make psql hide trail bytes from its lexer.
    private static let safeEncodings: Set<String> = [
        "sqlascii", "eucjp", "euccn", "euckr", "euctw", "eucjis2004", "utf8", "muleinternal",
        "latin1", "latin2", "latin3", "latin4", "latin5", "latin6", "latin7", "latin8", "latin9", "latin10",
        "win1256", "win1258", "win866", "win874", "koi8r", "win1251", "win1252", "iso88595", "iso88596",
        "iso88597", "iso88598", "win1250", "win1253", "win1254", "win1255", "win1257", "koi8u",
    ]

    private static func normalizeEncoding(_ s: String) -> String {
        String(s.lowercased().unicodeScalars.filter { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") })
    }

    private func classifyCopy(_ m: Matcher, next: Int, _ fail: (String) -> ReplayRefusal) throws {
        // COPY name[.name[.name]] [(col, …)] FROM stdin ;  then "\n" immediately.
        var i = 1
        func name(_ k: Int) -> Bool { k < m.count && (m.toks[k].kind == Tok.ident || m.toks[k].kind == Tok.qident) }
        var ok = name(i)
        if ok {
            i += 1
            var parts = 1
            while parts < 3 && m.isPunct(i, 0x2E) && name(i + 1) {
                i += 2
                parts += 1
            }
            if m.isPunct(i, 0x28) {
                i += 1
                ok = name(i)
                i += 1
                while ok && m.isPunct(i, 0x2C) {
                    ok = name(i + 1)
                    i += 2
                }
                ok = ok && m.isPunct(i, 0x29)
                i += 1
            }
            ok = ok && m.isWord(i, "from") && m.isWord(i + 1, "stdin") && i + 2 == m.count
        }
        if !ok {
            if m.isPunct(1, 0x28) { throw fail("COPY (query)") }
            if m.anyWord("to") { throw fail("COPY ... TO") }
            if m.anyWord("program") { throw fail("COPY ... FROM PROGRAM") }
            if m.anyWord("from") && m.anyKind(Tok.string) { throw fail("COPY ... FROM a file") }
            throw fail("COPY other than COPY table FROM stdin")
        }
        if next != 0x0A { throw fail("COPY ... FROM stdin; not followed by a newline") }
    }

    private func classifyCreate(_ m: Matcher, _ fail: (String) -> ReplayRefusal) throws {
        var i = 1
        var orReplace = false
        if m.isWord(1, "or") {
            guard m.isWord(2, "replace") else { throw fail(m.phrase(3, ReplayFilter.kindWords)) }
            orReplace = true
            i = 3
        }
        let w = m.lower(i)
        let w2 = m.lower(i + 1)
        if orReplace && !(w == "function" || w == "procedure" || w == "view") {
            throw fail(m.phrase(5, ReplayFilter.kindWords))
        }
        switch w {
        case "schema", "type", "domain", "collation", "conversion", "aggregate", "cast", "operator",
             "view", "sequence", "index", "statistics", "rule", "trigger", "policy", "publication":
            return
        case "unique" where w2 == "index": return
        case "default" where w2 == "conversion": return
        case "constraint" where w2 == "trigger": return
        case "unlogged" where w2 == "table" || w2 == "sequence":
            if w2 == "table" && s.asWord { throw fail("CREATE TABLE ... AS") }
            return
        case "text" where w2 == "search":
            let w3 = m.lower(i + 2)
            if ["parser", "template", "dictionary", "configuration"].contains(w3) { return }
        case "materialized" where w2 == "view":
            // pg_dump always creates materialized views empty and fills them with REFRESH.
            if m.word(s.last0, "with") && m.word(s.last1, "no") && m.word(s.last2, "data") { return }
            throw fail("CREATE MATERIALIZED VIEW without WITH NO DATA")
        case "table":
            if s.asWord { throw fail("CREATE TABLE ... AS") }
            return
        case "extension":
            // CREATE EXTENSION IF NOT EXISTS name WITH SCHEMA name
            let ok = m.isWord(i + 1, "if") && m.isWord(i + 2, "not") && m.isWord(i + 3, "exists")
                && m.isName(i + 4) && m.isWord(i + 5, "with") && m.isWord(i + 6, "schema") && m.isName(i + 7)
                && m.count == i + 8
            if ok { return }
            throw fail("CREATE EXTENSION other than IF NOT EXISTS … WITH SCHEMA …")
        case "function", "procedure":
            let what = w.uppercased()
            if let bad = s.badLanguage { throw fail("CREATE \(what) with LANGUAGE \(bad)") }
            if s.languagePending { throw fail("CREATE \(what) with LANGUAGE (none)") }
            if s.languages == 0 && s.atomicAt < 0 && !s.hasReturn {
                throw fail("CREATE \(what) without LANGUAGE sql/plpgsql")
            }
            return
        default:
            break
        }
        throw fail(m.phrase(5, ReplayFilter.kindWords))
    }

    private func classifyAlter(_ m: Matcher, _ fail: (String) -> ReplayRefusal) throws {
        let w = m.lower(1)
        let w2 = m.lower(2)
        switch w {
        case "table", "sequence", "index", "type", "domain", "function", "procedure", "aggregate", "schema",
             "view", "collation", "conversion", "operator", "statistics", "publication":
            return
        case "materialized" where w2 == "view": return
        case "large" where w2 == "object": return
        case "default" where w2 == "privileges": return
        case "text" where w2 == "search": return
        case "trigger":
            // pg_dump: ALTER TRIGGER name ON table DEPENDS ON EXTENSION ext
            let n = m.count
            if n >= 7 && m.isWord(n - 4, "depends") && m.isWord(n - 3, "on") && m.isWord(n - 2, "extension") && m.isName(n - 1) {
                return
            }
            throw fail("ALTER TRIGGER other than DEPENDS ON EXTENSION")
        default:
            break
        }
        throw fail(m.phrase(5, ReplayFilter.kindWords))
    }

    // MARK: End of input

    private func checkEnd() throws {
        let bytes = buf
        try bytes.withUnsafeBufferPointer { p in
            if inCopy {
                throw ReplayRefusal(line: copyLine, reason: "input ended inside COPY data (no \\. line)",
                                    excerpt: ReplayFilter.excerpt(copyHeader))
            }
            let what: String?
            switch st {
            case .initial: what = s.started ? "a statement (no terminating ';')" : nil
            case .lineComment: what = "a -- comment without a final newline"
            case .blockComment: what = "a /* comment"
            case .squote: what = "a string literal"
            case .dquote: what = "a quoted identifier"
            case .dollarBody: what = "a dollar-quoted string"
            default: what = "a statement (no terminating ';')"
            }
            if let what {
                let a = guardStart >= 0 ? guardStart : tokStart
                throw ReplayRefusal(line: guardStart >= 0 ? guardLine : tokLine,
                                    reason: "input ended inside \(what)",
                                    excerpt: excerpt(p, a, min(p.count, a + 400)))
            }
            if inLOBlock {
                throw ReplayRefusal(line: loBlockLine, reason: "input ended inside a large-object block (BEGIN without COMMIT)",
                                    excerpt: ReplayFilter.excerpt(loBlockHeader))
            }
        }
    }

    // MARK: Refusal excerpts

    /// A lexical refusal at p[q]: context from the statement start (or the start of q's line, at most
    /// 40 bytes back) through `end`.
    private func lexRefusal(_ p: UnsafeBufferPointer<UInt8>, at q: Int, end: Int? = nil, reason: String) -> ReplayRefusal {
        var lineAtQ = line
        if q < pos { lineAtQ -= countNewlines(p, q, pos) } else if q > pos { lineAtQ += countNewlines(p, pos, q) }
        // Context before q: from the statement's first token (never from flushed whitespace, so that
        // the excerpt does not depend on how the input was chunked), at most 40 bytes, same line.
        var a = q
        if s.started && guardStart >= 0 && guardStart < q {
            a = Swift.max(guardStart, q - 40)
            var k = q
            while k > a && p[k - 1] != 0x0A { k -= 1 }
            a = k
        }
        let e = Swift.min(p.count, Swift.max(end ?? (q + 1), q + 1))
        let before = ReplayFilter.sanitize(String(decoding: p[a..<q], as: UTF8.self))
        let after = ReplayFilter.sanitize(String(decoding: p[q..<e], as: UTF8.self))
        let text: String
        if after.count >= 80 {
            text = String(after.prefix(80))
        } else {
            text = String(before.suffix(80 - after.count)) + after
        }
        return ReplayRefusal(line: lineAtQ, reason: reason, excerpt: text)
    }

    private func excerpt(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int) -> String {
        let e = Swift.min(b, a + 400, p.count)
        guard a < e else { return "" }
        return String(ReplayFilter.sanitize(String(decoding: p[a..<e], as: UTF8.self)).prefix(80))
    }

    private static func excerpt(_ bytes: [UInt8]) -> String {
        String(sanitize(String(decoding: bytes, as: UTF8.self)).prefix(80))
    }

    private static func sanitize(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            out.append(u.properties.generalCategory == .control ? " " : u)
        }
        return String(out)
    }

    private func countNewlines(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int) -> Int {
        var c = 0
        var k = a
        while k < b {
            if p[k] == 0x0A { c += 1 }
            k += 1
        }
        return c
    }

    // MARK: Character classes (psqlscan.l l.158, 230-237, 282-283, 347)

    @inline(__always) private static func lowerASCII(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c | 0x20 : c }
    @inline(__always) private func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    /// ident_start [A-Za-z\200-\377_]; also dolq_start.
    @inline(__always) private func isIdentStart(_ c: UInt8) -> Bool {
        (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A || c == 0x5F || c >= 0x80
    }
    /// ident_cont [A-Za-z\200-\377_0-9\$]
    @inline(__always) private func isIdentCont(_ c: UInt8) -> Bool { isIdentStart(c) || isDigit(c) || c == 0x24 }
    @inline(__always) private func isTagStart(_ c: UInt8) -> Bool { isIdentStart(c) }
    /// dolq_cont [A-Za-z\200-\377_0-9]; also variable_char.
    @inline(__always) private func isTagCont(_ c: UInt8) -> Bool { isIdentStart(c) || isDigit(c) }
    @inline(__always) private func isVarChar(_ c: UInt8) -> Bool { isIdentStart(c) || isDigit(c) }

    private func word(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int, _ w: StaticString) -> Bool {
        guard b - a == w.utf8CodeUnitCount else { return false }
        let wp = w.utf8Start
        for k in 0..<(b - a) where ReplayFilter.lowerASCII(p[a + k]) != wp[k] { return false }
        return true
    }

    private func exact(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int, _ w: StaticString) -> Bool {
        guard b - a == w.utf8CodeUnitCount else { return false }
        let wp = w.utf8Start
        for k in 0..<(b - a) where p[a + k] != wp[k] { return false }
        return true
    }

    // MARK: Token matcher for classification

    private struct Matcher {
        let p: UnsafeBufferPointer<UInt8>
        let base: Int
        let toks: [Tok]
        /// Tokens before the terminating ';' (Int.max when the statement had more than tokenCap tokens).
        let count: Int

        func text(_ i: Int) -> Slice<UnsafeBufferPointer<UInt8>> { p[(base + toks[i].start)..<(base + toks[i].end)] }

        func lower(_ i: Int) -> String {
            guard i < count, i < toks.count, toks[i].kind == Tok.ident else { return "" }
            return String(decoding: text(i).map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
        }

        func word(_ t: Tok, _ w: String) -> Bool {
            guard t.kind == Tok.ident else { return false }
            let b = p[(base + t.start)..<(base + t.end)]
            return b.count == w.utf8.count && zip(b, w.utf8).allSatisfy { ReplayFilter.lowerASCII($0) == $1 }
        }

        func isWord(_ i: Int, _ w: String) -> Bool { i < count && i < toks.count && word(toks[i], w) }
        func isPunct(_ i: Int, _ c: UInt8) -> Bool {
            i < count && i < toks.count && toks[i].kind == Tok.punct && toks[i].ch == c && toks[i].end - toks[i].start == 1
        }
        func isName(_ i: Int) -> Bool { i < count && i < toks.count && (toks[i].kind == Tok.ident || toks[i].kind == Tok.qident) }
        func anyWord(_ w: String) -> Bool { toks.prefix(Swift.min(count, toks.count)).contains { word($0, w) } }
        func anyKind(_ k: UInt8) -> Bool { toks.prefix(Swift.min(count, toks.count)).contains { $0.kind == k } }

        /// Up to `k` identifiers from `from` that are in `vocabulary` (the first one always), upper-cased.
        func phrase(_ k: Int, from: Int = 0, _ vocabulary: Set<String>) -> String {
            var words: [String] = []
            var i = from
            while i < Swift.min(count, toks.count) && words.count < k && toks[i].kind == Tok.ident
                && (words.isEmpty || vocabulary.contains(lower(i))) {
                words.append(lower(i).uppercased())
                i += 1
            }
            return words.joined(separator: " ")
        }

        /// Content of a standard string literal token ('' undoubled).
        func stringContent(_ i: Int) -> String? {
            let t = toks[i]
            guard t.kind == Tok.string, t.ch == ReplayFilter.sXQ else { return nil }
            let b = Array(text(i))
            guard b.count >= 2 else { return nil }
            var out: [UInt8] = []
            var k = 1
            while k < b.count - 1 {
                out.append(b[k])
                k += (b[k] == 0x27) ? 2 : 1
            }
            return String(decoding: out, as: UTF8.self)
        }

        func isDigits(_ s: String?) -> Bool { if let s, !s.isEmpty { return s.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } } else { return false } }
        func isInteger(_ i: Int) -> Bool {
            i < count && toks[i].kind == Tok.number && text(i).allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        }
        func isNumber(_ i: Int, _ v: String) -> Bool { isInteger(i) && Array(text(i)) == Array(v.utf8) }

        /// SELECT pg_catalog.<fn>(<args>) exactly as pg_dump writes it.
        func loCall(_ fn: String) -> Bool {
            guard count != Int.max, isWord(0, "select"), isWord(1, "pg_catalog"), isPunct(2, 0x2E), isWord(3, fn),
                  isPunct(4, 0x28), isPunct(count - 1, 0x29) else { return false }
            let nargs = count - 6      // tokens between "(" and ")"
            func str(_ k: Int) -> Bool { k < count && toks[k].kind == Tok.string && toks[k].ch == ReplayFilter.sXQ }
            switch fn {
            case "set_config":   // ('search_path', '<literal>', false)
                return nargs == 5 && stringContent(5) == "search_path" && isPunct(6, 0x2C) && str(7)
                    && isPunct(8, 0x2C) && isWord(9, "false")
            case "setval":       // ('<literal>', [-]<integer>, true|false)
                if nargs == 5 {
                    return str(5) && isPunct(6, 0x2C) && isInteger(7) && isPunct(8, 0x2C) && (isWord(9, "true") || isWord(9, "false"))
                }
                return nargs == 6 && str(5) && isPunct(6, 0x2C) && isPunct(7, 0x2D) && isInteger(8)
                    && isPunct(9, 0x2C) && (isWord(10, "true") || isWord(10, "false"))
            case "lo_create":    // ('<digits>')
                return nargs == 1 && isDigits(stringContent(5))
            case "lo_open":      // ('<digits>', 131072)
                return nargs == 3 && isDigits(stringContent(5)) && isPunct(6, 0x2C) && isNumber(7, "131072")
            case "lowrite":      // (0, '<literal>')
                return nargs == 3 && isNumber(5, "0") && isPunct(6, 0x2C) && str(7)
            case "lo_close":     // (0)
                return nargs == 1 && isNumber(5, "0")
            default:
                return false
            }
        }
    }
}
