import DumpFormat
import Foundation
import XCTest

/// ReplayFilter: what reaches psql during a restore. The fixtures under Fixtures/ are real pg_dump
/// 15.18 plain dumps (pg15-t1.sql: many object kinds; pg15-tricky.sql: generated from
/// pg15-tricky-source.sql.txt — large objects, dollar bodies containing COMMIT;, BEGIN ATOMIC bodies,
/// `\.` look-alikes, newlines in identifiers and literals).
final class ReplayFilterTests: XCTestCase {

    // MARK: - Helpers

    private struct Run {
        var output: [UInt8]
        var refusal: ReplayRefusal?
        var statements: Int
        var copyRows: Int
    }

    private static func run(_ input: [UInt8], chunkSizes: [Int]? = nil, maxStatementBytes: Int = 64 << 20) -> Run {
        var filter = ReplayFilter(maxStatementBytes: maxStatementBytes)
        var output: [UInt8] = []
        var i = 0
        var k = 0
        do {
            while i < input.count {
                let size = chunkSizes.map { $0[k % $0.count] } ?? input.count
                let j = min(input.count, i + max(1, size))
                output += try filter.push(Array(input[i..<j]))
                i = j
                k += 1
            }
            output += try filter.finish()
            return Run(output: output, refusal: nil, statements: filter.statements, copyRows: filter.copyRows)
        } catch let r as ReplayRefusal {
            return Run(output: output, refusal: r, statements: filter.statements, copyRows: filter.copyRows)
        } catch {
            XCTFail("unexpected error \(error)")
            return Run(output: output, refusal: nil, statements: 0, copyRows: 0)
        }
    }

    /// Runs `input` whole, then split at every point (two pushes) and in 1-byte pushes; every run must
    /// give the same output (when accepted) or the same refusal.
    @discardableResult
    private static func runEverySplit(_ input: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> Run {
        let whole = run(input)
        for cut in 0...input.count {
            var filter = ReplayFilter()
            var out: [UInt8] = []
            var refusal: ReplayRefusal?
            do {
                out += try filter.push(Array(input[..<cut]))
                out += try filter.push(Array(input[cut...]))
                out += try filter.finish()
            } catch let r as ReplayRefusal {
                refusal = r
            } catch {
                XCTFail("unexpected error \(error)", file: file, line: line)
            }
            XCTAssertEqual(refusal, whole.refusal, "split at \(cut)", file: file, line: line)
            if refusal == nil {
                XCTAssertEqual(out, whole.output, "split at \(cut)", file: file, line: line)
                XCTAssertEqual(filter.statements, whole.statements, "split at \(cut)", file: file, line: line)
                XCTAssertEqual(filter.copyRows, whole.copyRows, "split at \(cut)", file: file, line: line)
            }
        }
        let bytewise = run(input, chunkSizes: [1])
        XCTAssertEqual(bytewise.refusal, whole.refusal, "1-byte chunks", file: file, line: line)
        if whole.refusal == nil {
            XCTAssertEqual(bytewise.output, whole.output, "1-byte chunks", file: file, line: line)
        }
        return whole
    }

    @discardableResult
    private func assertPasses(_ sql: String, expected: String? = nil, statements: Int? = nil, copyRows: Int? = nil,
                              everySplit: Bool = true, file: StaticString = #filePath, line: UInt = #line) -> Run {
        let input = Array(sql.utf8)
        let r = everySplit ? Self.runEverySplit(input, file: file, line: line) : Self.run(input)
        XCTAssertNil(r.refusal, "refused: \(r.refusal.map { $0.description } ?? "")", file: file, line: line)
        if r.refusal == nil {
            XCTAssertEqual(String(decoding: r.output, as: UTF8.self), expected ?? sql, file: file, line: line)
        }
        if let statements { XCTAssertEqual(r.statements, statements, "statements", file: file, line: line) }
        if let copyRows { XCTAssertEqual(r.copyRows, copyRows, "copyRows", file: file, line: line) }
        return r
    }

    @discardableResult
    private func assertRefused(_ sql: String, _ reason: String, line expectedLine: Int? = nil, everySplit: Bool = true,
                               file: StaticString = #filePath, line: UInt = #line) -> ReplayRefusal? {
        assertRefused(bytes: Array(sql.utf8), reason, line: expectedLine, everySplit: everySplit, file: file, line: line)
    }

    @discardableResult
    private func assertRefused(bytes input: [UInt8], _ reason: String, line expectedLine: Int? = nil, everySplit: Bool = true,
                               file: StaticString = #filePath, line: UInt = #line) -> ReplayRefusal? {
        let r = everySplit ? Self.runEverySplit(input, file: file, line: line) : Self.run(input)
        guard let refusal = r.refusal else {
            XCTFail("accepted, expected refusal containing \"\(reason)\": \(String(decoding: input, as: UTF8.self))", file: file, line: line)
            return nil
        }
        XCTAssertTrue(refusal.reason.contains(reason), "reason \"\(refusal.reason)\" lacks \"\(reason)\"", file: file, line: line)
        if let expectedLine { XCTAssertEqual(refusal.line, expectedLine, "line", file: file, line: line) }
        XCTAssertLessThanOrEqual(refusal.excerpt.count, 80, file: file, line: line)
        XCTAssertFalse(refusal.excerpt.unicodeScalars.contains { $0.properties.generalCategory == .control },
                       "control character in excerpt", file: file, line: line)
        return refusal
    }

    private static func fixture(_ name: String) throws -> [UInt8] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures").appendingPathComponent(name)
        return Array(try Data(contentsOf: url))
    }

    /// Removes `\restrict`/`\unrestrict` lines (with their newline), as the filter does.
    private static func withoutRestrictLines(_ s: String) -> String {
        s.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("\\restrict ") && !$0.hasPrefix("\\unrestrict ") }
            .joined(separator: "\n")
    }

    // MARK: - Real dumps

    /// pg15-t1.sql covers many object kinds, some of which the allowlist refuses (C/internal functions,
    /// procedural languages, transforms, FDWs, servers, user mappings, foreign tables, subscriptions,
    /// event triggers, SET SESSION AUTHORIZATION for grants by another grantor). The first one is refused;
    /// with every refused statement removed, the rest passes byte for byte.
    func testRealDumpT1() throws {
        let original = String(decoding: try Self.fixture("pg15-t1.sql"), as: UTF8.self)
        let first = Self.run(Array(original.utf8)).refusal
        XCTAssertEqual(first?.line, 61)
        XCTAssertEqual(first?.reason, "CREATE FUNCTION with LANGUAGE c")
        XCTAssertEqual(first?.excerpt.hasPrefix("CREATE FUNCTION s1.handler() RETURNS language_handler"), true)

        var text = original
        var reasons: [String] = []
        while let r = Self.run(Array(text.utf8)).refusal {
            reasons.append(r.reason)
            // Remove the refused statement: its lines up to the one ending with ';'.
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            var end = r.line - 1
            while !lines[end].hasSuffix(";") { end += 1 }
            lines.removeSubrange((r.line - 1)...end)
            text = lines.joined(separator: "\n")
            if reasons.count > 40 { break }
        }
        XCTAssertEqual(reasons, [
            "CREATE FUNCTION with LANGUAGE c",
            "CREATE PROCEDURAL LANGUAGE", "ALTER PROCEDURAL LANGUAGE",
            "CREATE FUNCTION with LANGUAGE internal", "CREATE FUNCTION with LANGUAGE internal",
            "CREATE TRANSFORM",
            "CREATE FUNCTION with LANGUAGE internal", "CREATE FUNCTION with LANGUAGE internal",
            "CREATE ACCESS METHOD",
            "CREATE FOREIGN DATA WRAPPER", "ALTER FOREIGN DATA WRAPPER",
            "CREATE SERVER", "ALTER SERVER",
            "CREATE USER MAPPING", "CREATE USER MAPPING",
            "CREATE FOREIGN TABLE", "ALTER FOREIGN TABLE", "ALTER FOREIGN TABLE",
            "CREATE SUBSCRIPTION", "ALTER SUBSCRIPTION",
            "SET SESSION AUTHORIZATION", "RESET SESSION AUTHORIZATION",
            "CREATE EVENT TRIGGER", "ALTER EVENT TRIGGER", "ALTER EVENT TRIGGER",
        ])
        let r = Self.run(Array(text.utf8), chunkSizes: [4096, 1, 7, 65536, 3])
        XCTAssertNil(r.refusal)
        var expected = Self.withoutRestrictLines(text)
        expected = expected.replacingOccurrences(of: "\nBEGIN;\n\nSELECT pg_catalog.lo_open", with: "\n\n\nSELECT pg_catalog.lo_open")
        expected = expected.replacingOccurrences(of: "SELECT pg_catalog.lo_close(0);\n\nCOMMIT;\n", with: "SELECT pg_catalog.lo_close(0);\n\n\n")
        XCTAssertEqual(String(decoding: r.output, as: UTF8.self), expected)
        XCTAssertEqual(r.statements, 271)
        XCTAssertEqual(r.copyRows, 8)
    }

    /// A real dump with large objects, function bodies containing `COMMIT;` lines and `$$;$$`, BEGIN
    /// ATOMIC bodies with `;` and CASE … END, `\.` look-alikes in data and literals, `'--'`/`'/*'`, and
    /// identifiers and literals containing newlines: forwarded byte for byte minus the dropped parts.
    func testRealDumpTricky() throws {
        let input = try Self.fixture("pg15-tricky.sql")
        let text = String(decoding: input, as: UTF8.self)
        var expected = Self.withoutRestrictLines(text)
        expected = expected.replacingOccurrences(of: "\nBEGIN;\n\nSELECT pg_catalog.lo_open", with: "\n\n\nSELECT pg_catalog.lo_open")
        expected = expected.replacingOccurrences(of: "SELECT pg_catalog.lo_close(0);\n\nCOMMIT;\n", with: "SELECT pg_catalog.lo_close(0);\n\n\n")
        XCTAssertNotEqual(expected, text)
        for sizes in [nil, [1], [65536], [3, 1000, 17, 1, 8192], [1 << 20]] as [[Int]?] {
            let r = Self.run(input, chunkSizes: sizes)
            XCTAssertNil(r.refusal, "\(String(describing: sizes)): \(r.refusal?.description ?? "")")
            XCTAssertEqual(String(decoding: r.output, as: UTF8.self), expected, "\(String(describing: sizes))")
            XCTAssertEqual(r.statements, 83)
            XCTAssertEqual(r.copyRows, 306)
        }
        // The procedure body's own COMMIT; line and the function bodies come back unchanged.
        XCTAssertTrue(expected.contains("  INSERT INTO s.t VALUES (99, 'x', 'y', NULL, NULL);\nCOMMIT;\n  ROLLBACK;\n"))
        XCTAssertTrue(expected.contains("RETURN '$$;$$' || $x$;COMMIT;$x$;"))
        XCTAssertTrue(expected.contains("2\tCOMMIT;\t$$;$$\t{4}\ttab\\there\n"))
        XCTAssertTrue(expected.contains("SELECT pg_catalog.lowrite(0, '\\x68656c6c6f20776f726c643b20434f4d4d49543b0a5c2e');"))
    }

    /// psql's BEGIN … END heuristic miscounts a column named `begin` inside a BEGIN ATOMIC body: real
    /// psql 15 then reads the rest of the dump, COPY data included, into that statement and stops at
    /// the first `\.` ("backslash commands are restricted"). The filter mirrors psql and refuses there.
    func testRealDumpThatPsqlItselfMisreads() {
        let dump = """
        CREATE PROCEDURE s.atomic2(IN a integer)
            LANGUAGE sql
            BEGIN ATOMIC
         UPDATE s.t SET begin =
                 CASE
                     WHEN (atomic2.a = 1) THEN 'end;'::text
                     ELSE 'begin'::text
                 END
           WHERE (t.id = atomic2.a);
        END;

        COPY s.t (id) FROM stdin;
        1
        \\.

        """
        assertRefused(dump, "psql meta-command \\.", line: 14)
    }

    // MARK: - A hand-written dump with every tricky construct

    private static let trickyDump = """
    --
    -- PostgreSQL database dump
    --

    \\restrict abcDEF123

    SET statement_timeout = 0;
    SET lock_timeout = 0;
    SET idle_in_transaction_session_timeout = 0;
    SET transaction_timeout = 0;
    SET client_encoding = 'UTF8';
    SET standard_conforming_strings = on;
    SELECT pg_catalog.set_config('search_path', '', false);
    SET check_function_bodies = false;
    SET xmloption = content;
    SET client_min_messages = warning;
    SET row_security = off;
    SET default_tablespace = '';
    SET default_table_access_method = heap;
    SET default_with_oids = false;

    CREATE SCHEMA "new
    line";
    COMMENT ON SCHEMA "new
    line" IS 'a literal
    with a newline, '';'' and -- and /* inside';
    CREATE FUNCTION s.f() RETURNS text
        LANGUAGE plpgsql
        AS $_$
    BEGIN
      RETURN '$$;$$' || $q$ COMMIT; $q$;
    END
    $_$;
    CREATE PROCEDURE s.p()
        LANGUAGE plpgsql
        AS $$
    BEGIN
    COMMIT;
    END
    $$;
    CREATE FUNCTION s.atomic(a integer) RETURNS integer
        LANGUAGE sql
        BEGIN ATOMIC
     SELECT CASE WHEN (a > 0) THEN 1 ELSE 0 END AS x;
     SELECT (a + 1);
    END;
    CREATE OR REPLACE FUNCTION s.ret(x integer) RETURNS integer
        LANGUAGE sql
        RETURN (x * 2);
    CREATE VIEW s.v AS
     SELECT t.arr[1:2] AS sl, (t.x)::text AS x, E'it\\'s \\\\ E' AS e, N'n', U&'\\0041', B'01', X'1F', 1.5e-3 AS r
       FROM s.t;
    CREATE TABLE s.t (
        arr integer[],
        x text DEFAULT '\\.'::text
    );
    COPY s.t (arr, x) FROM stdin;
    {1,2}\t\\\\.
    \\.x\tnot the end
    \\\\.\tCOMMIT;
    {3}\t';COMMIT;--
    \\.

    SELECT pg_catalog.setval('s.seq', 42, true);
    SELECT pg_catalog.setval('s.neg', -2, false);
    SELECT pg_catalog.lo_create('424242');
    ALTER LARGE OBJECT 424242 OWNER TO postgres;

    --
    -- Data for Name: BLOBS; Type: BLOBS; Schema: -; Owner: -
    --

    BEGIN;

    SELECT pg_catalog.lo_open('424242', 131072);
    SELECT pg_catalog.lowrite(0, '\\x68656c6c6f3b20434f4d4d49543b');
    SELECT pg_catalog.lo_close(0);

    COMMIT;

    GRANT SELECT(x) ON TABLE s.t TO reader;
    REVOKE ALL ON SCHEMA s FROM PUBLIC;
    REFRESH MATERIALIZED VIEW s.mv;

    --
    -- PostgreSQL database dump complete
    --

    \\unrestrict abcDEF123


    """

    func testHandWrittenDumpPassesMinusDroppedParts() {
        var expected = Self.trickyDump
        expected = expected.replacingOccurrences(of: "\\restrict abcDEF123\n", with: "")
        expected = expected.replacingOccurrences(of: "\\unrestrict abcDEF123\n", with: "")
        expected = expected.replacingOccurrences(of: "--\n\nBEGIN;\n", with: "--\n\n\n")
        expected = expected.replacingOccurrences(of: "lo_close(0);\n\nCOMMIT;\n", with: "lo_close(0);\n\n\n")
        let r = assertPasses(Self.trickyDump, expected: expected, statements: 33, copyRows: 4, everySplit: false)
        // Exactly the two \restrict lines and the two LO-block statements are gone.
        XCTAssertEqual(Array(Self.trickyDump.utf8).count - r.output.count,
                       "\\restrict abcDEF123\n".utf8.count + "\\unrestrict abcDEF123\n".utf8.count + "BEGIN;".utf8.count + "COMMIT;".utf8.count)
    }

    func testHandWrittenDumpEverySplit() {
        let r = Self.runEverySplit(Array(Self.trickyDump.utf8))
        XCTAssertNil(r.refusal)
        XCTAssertEqual(r.statements, 33)
    }

    // MARK: - Dropped parts

    func testRestrictLinesAreDropped() {
        assertPasses("\\restrict K1\nSET lock_timeout = 0;\n\\unrestrict K1\n", expected: "SET lock_timeout = 0;\n", statements: 1)
        // A comment before the line stays; the line and its newline go.
        assertPasses("-- c\n\\restrict K1\n\n", expected: "-- c\n\n", statements: 0)
        // \restrict alone (a cut dump still ends badly elsewhere) is fine; so is no \restrict at all.
        assertPasses("\\restrict K1\n", expected: "", statements: 0)
    }

    func testRestrictRefusals() {
        assertRefused("\\unrestrict k\n", "\\unrestrict without a preceding \\restrict", line: 1)
        assertRefused("\\restrict a\n\\restrict a\n", "second \\restrict", line: 2)
        assertRefused("\\restrict a\n\\unrestrict b\n", "does not match", line: 2)
        assertRefused("\\restrict a\n\\unrestrict a\n\\unrestrict a\n", "second \\unrestrict", line: 3)
        assertRefused("\\restrict a b\n", "psql meta-command \\restrict", line: 1)    // malformed key
        assertRefused("\\restrict a", "psql meta-command \\restrict", line: 1)        // no newline
        assertRefused("SET lock_timeout = 0; \\restrict a\n", "psql meta-command \\restrict")  // not at line start
        assertRefused("SET lock_timeout =\n\\restrict a\n0;\n", "psql meta-command \\restrict", line: 2)  // mid-statement
        assertRefused("\\restrict a\r\n", "psql meta-command \\restrict")
    }

    func testLargeObjectBlockBeginCommitAreDropped() {
        let sql = "SELECT pg_catalog.lo_create('1');\n/* c */ BEGIN;\nSELECT pg_catalog.lo_open('1', 131072);\n"
            + "SELECT pg_catalog.lowrite(0, '\\x00');\nSELECT pg_catalog.lo_close(0);\n\nCOMMIT;\n-- end\n"
        let expected = "SELECT pg_catalog.lo_create('1');\n/* c */ \nSELECT pg_catalog.lo_open('1', 131072);\n"
            + "SELECT pg_catalog.lowrite(0, '\\x00');\nSELECT pg_catalog.lo_close(0);\n\n\n-- end\n"
        assertPasses(sql, expected: expected, statements: 4)
        assertPasses("BEGIN;\nCOMMIT;\n", expected: "\n\n", statements: 0)
    }

    func testLargeObjectBlockRefusals() {
        assertRefused("BEGIN;\nSELECT 1;\nCOMMIT;\n", "inside a large-object block", line: 2)
        assertRefused("BEGIN;\nCOMMENT ON TABLE t IS 'x';\nCOMMIT;\n", "inside a large-object block", line: 2)
        assertRefused("BEGIN;\nBEGIN;\n", "inside a large-object block", line: 2)
        assertRefused("BEGIN;\nSELECT pg_catalog.lo_open('1', 131072);\n", "BEGIN without COMMIT", line: 1)
        assertRefused("SELECT pg_catalog.lo_open('1', 131072);\n", "outside a BEGIN/COMMIT", line: 1)
        assertRefused("SELECT pg_catalog.lowrite(0, '\\x00');\n", "outside a BEGIN/COMMIT", line: 1)
        assertRefused("BEGIN;\nSELECT pg_catalog.lo_open('1', 131072), pg_sleep(1);\nCOMMIT;\n", "inside a large-object block")
        assertRefused("BEGIN;\nSELECT pg_catalog.lo_unlink('1');\nCOMMIT;\n", "inside a large-object block")
        assertRefused("BEGIN;\nSELECT pg_catalog.lo_create('1');\nCOMMIT;\n", "inside a large-object block")
    }

    // MARK: - psql meta-commands and variables

    func testMetaCommandsAreRefused() {
        assertRefused("\\! id\n", "psql meta-command \\!", line: 1)
        assertRefused("SET lock_timeout = 0;\n\\c authentik\n", "psql meta-command \\c", line: 2)
        assertRefused("\\set x 1\n", "psql meta-command \\set", line: 1)
        assertRefused("select 1 \\g\n", "psql meta-command \\g", line: 1)
        assertRefused("SET lock_timeout = 0 \\; COMMIT;\n", "psql meta-command \\;")
        assertRefused("\\o /tmp/x\n", "psql meta-command \\o")
        assertRefused("\\copy t from '/etc/passwd'\n", "psql meta-command \\copy")
        assertRefused("\\i /etc/passwd", "psql meta-command \\i")
        assertRefused("\\.\n", "psql meta-command \\.")
        // After a string on the same line, a backslash is a meta-command again.
        assertRefused("COMMENT ON TABLE t IS 'x'\\gexec\n", "psql meta-command \\gexec")
        let r = assertRefused("\\! rm -rf /\tnow\n", "psql meta-command \\!")
        XCTAssertEqual(r?.excerpt, "\\! rm -rf / now")
    }

    func testBackslashInsideQuotesAndCommentsIsContent() {
        assertPasses("COMMENT ON TABLE t IS 'C:\\temp\\x';\n")
        assertPasses("COMMENT ON TABLE t IS E'\\\\! id';\n")
        assertPasses("COMMENT ON TABLE t IS $$\n\\! id\n$$;\n")
        assertPasses("COMMENT ON TABLE \"a\\b\" IS 'x'; -- \\! id\n/* \\c db */\n")
    }

    func testPsqlVariablesAreRefused() {
        assertRefused("SELECT :foo;\n", "psql variable :foo", line: 1)
        assertRefused("SELECT :'x';\n", "psql variable :'x'", line: 1)
        assertRefused("COMMENT ON TABLE t IS :\"x\";\n", "psql variable :\"x\"")
        assertRefused("COMMENT ON TABLE t IS :{?x};\n", "psql variable :{?x}")
        assertRefused("COMMENT ON TABLE t IS 'a':DBNAME;\n", "psql variable :DBNAME")
        assertRefused("COMMENT ON TABLE t IS 1:::x;\n", "psql variable :x")
        assertRefused("COMMENT ON TABLE t IS 1:2x;\n", "psql variable :2x")
        assertRefused("COMMENT ON TABLE t IS x[:'a b'];\n", "psql variable :'a")  // not a variable for psql, refused anyway
    }

    func testColonsThatAreNotVariables() {
        assertPasses("CREATE VIEW v AS SELECT a[1:2], a[1 : 3], b::text, c::\"t\", f(x := 1), d[2:] FROM t;\n", statements: 1)
        assertPasses("COMMENT ON TABLE t IS ':foo :''x''';\n")
        assertPasses("COMMENT ON TABLE t IS $$:foo$$; -- :foo\n")
        assertPasses("COMMENT ON TABLE t IS \":foo\";\n")
    }

    // MARK: - Transaction control

    func testTransactionControlIsRefused() {
        assertRefused("commit;\n", "transaction control (COMMIT) outside a large-object block", line: 1)
        assertRefused("SET lock_timeout = 0;\n\n END;\n", "transaction control (END)", line: 3)
        assertRefused(" Commit ;\n", "transaction control (COMMIT)")
        assertRefused("COMMIT", "input ended inside a statement")         // at EOF without ';'
        assertRefused("ROLLBACK;\n", "transaction control (ROLLBACK)")
        assertRefused("ABORT;\n", "transaction control (ABORT)")
        assertRefused("START TRANSACTION;\n", "transaction control (START TRANSACTION)")
        assertRefused("PREPARE TRANSACTION 'x';\n", "transaction control (PREPARE TRANSACTION)")
        assertRefused("COMMIT PREPARED 'x';\n", "transaction control (COMMIT PREPARED)")
        assertRefused("ROLLBACK PREPARED 'x';\n", "transaction control (ROLLBACK PREPARED)")
        assertRefused("SAVEPOINT a;\n", "transaction control (SAVEPOINT)")
        assertRefused("RELEASE SAVEPOINT a;\n", "transaction control (RELEASE SAVEPOINT)")
        assertRefused("BEGIN ISOLATION LEVEL SERIALIZABLE;\n", "transaction control (BEGIN ISOLATION LEVEL)")
        assertRefused("begin transaction;\ncommit;\n", "transaction control (BEGIN TRANSACTION)")
        assertRefused("COMMIT AND CHAIN;\n", "transaction control (COMMIT AND CHAIN)")
        assertRefused("/* c */ commit /* d */;\n", "transaction control (COMMIT)")
        assertRefused("COMMENT ON TABLE t IS 'x';COMMIT;\n", "transaction control (COMMIT)", line: 1)
    }

    /// Escape-string and prefix tricks: whatever psql would send as a separate COMMIT is refused, and
    /// string contents are never mistaken for statement boundaries.
    func testEscapeStringTricks() {
        // E'\\'' — backslash pair, then a doubled quote: the string goes on to the final quote.
        assertPasses("COMMENT ON TABLE t IS E'\\\\'';COMMIT;--';\n", statements: 1)
        // E'\\' ends after the pair; the COMMIT is a statement of its own.
        assertRefused("COMMENT ON TABLE t IS E'\\\\';COMMIT;--';\n", "transaction control (COMMIT)")
        // E'\'…' — the escaped quote keeps the string open.
        assertPasses("COMMENT ON TABLE t IS E'\\';COMMIT;--';\n", statements: 1)
        assertPasses("COMMENT ON TABLE t IS e'\\';COMMIT;--';\n", statements: 1)
        // "abcE" is one identifier: the quote that follows opens a standard string, '\' then ends at
        // the next quote for psql — refused (the ambiguity rule), never accepted as one statement.
        assertRefused("COMMENT ON TABLE t IS abcE'\\';COMMIT;--';\n", "backslash before a quote")
        assertRefused("COMMENT ON TABLE t IS _E'\\';COMMIT;--';\n", "backslash before a quote")
        // A standard string cannot hide a COMMIT behind a backslash.
        assertRefused("COMMENT ON TABLE t IS 'a\\\\';COMMIT;--';\n", "transaction control (COMMIT)")
        assertRefused("COMMENT ON TABLE t IS '\\';COMMIT;--';\n", "backslash before a quote")
        assertRefused("COMMENT ON TABLE t IS 'it\\''s';\n", "backslash before a quote")
        assertRefused("COMMENT ON TABLE t IS N'\\';COMMIT;--';\n", "backslash before a quote")
        // B'', X'', U&'' and N'' prefixes only count at a token start.
        assertPasses("COMMENT ON TABLE t IS B'01' || X'ff' || U&'\\0041' || N'x';\n")
        assertPasses("COMMENT ON TABLE t IS U&'\\';\n")                          // <xus>: backslash is content
        assertRefused("COMMENT ON TABLE t IS U&'\\';COMMIT;--';\n", "transaction control (COMMIT)")
        assertRefused("COMMENT ON TABLE t IS B'\\';COMMIT;--';\n", "transaction control (COMMIT)")
        assertPasses("COMMENT ON TABLE t IS U&\"a\"\"b\" || ' ' ;\n")
        assertRefused("COMMENT ON TABLE t IS U&x;COMMIT;\n", "transaction control (COMMIT)")   // {xufailed}
        // An E directly after a number is number junk for psql 15+ but an E'' string for psql 13/14.
        assertRefused("COMMENT ON TABLE t IS 1E'\\';COMMIT;--';\n", "number immediately followed by letters")
        assertRefused("COMMENT ON TABLE t IS 1.e'x';\n", "number immediately followed by letters")
        assertRefused("COMMENT ON TABLE t IS $1e'x';\n", "number immediately followed by letters")
        assertRefused("COMMENT ON TABLE t IS 1_000;\n", "number immediately followed by letters")
        assertRefused("COMMENT ON TABLE t IS 0x1F;\n", "number immediately followed by letters")
        assertRefused("COMMENT ON TABLE t IS 1e-x;\n", "bare exponent")
        // "1..E'…'" is 1, "..", then a real E'' string for every psql version.
        assertPasses("COMMENT ON TABLE t IS 1..E'\\';COMMIT;--';\n", statements: 1)
        assertPasses("COMMENT ON TABLE t IS 1.5e-3 + .5 + 2. + 1e10 + $1;\n", statements: 1)
        // Numbers never swallow comment starts: 1e- then -x is an operator, 1 then --x is a comment.
        assertPasses("COMMENT ON TABLE t IS 1 --;\n;\n", statements: 1)
    }

    func testDollarQuotes() {
        // The body ends only at the same tag; a different tag inside is content.
        assertPasses("COMMENT ON TABLE t IS $a$ x $b$; COMMIT; $a$;\n", statements: 1)
        assertRefused("COMMENT ON TABLE t IS $a$ x $b$ $a$; COMMIT; $b$;\n", "transaction control (COMMIT)")
        assertPasses("COMMENT ON TABLE t IS $$;$$ || $_$$$;$$$_$ || $a$$b$$a$;\n", statements: 1)
        assertRefused("SELECT $a$ x $b$; COMMIT; $a$;\n", "SELECT other than")        // one statement
        // foo$$ is an identifier; $1 is a parameter, and $1$$ opens a quote after it.
        assertRefused("COMMENT ON TABLE t IS foo$$;COMMIT;$$;\n", "transaction control (COMMIT)")
        assertPasses("COMMENT ON TABLE t IS $1$$;COMMIT;$$;\n", statements: 1)
        // $x without a closing $ is "$" then the identifier x.
        assertRefused("COMMENT ON TABLE t IS $x;COMMIT;\n", "transaction control (COMMIT)")
        assertPasses("COMMENT ON TABLE t IS $E'\\';COMMIT;--';\n", statements: 1)  // {dolqfailed} rescans E'…' as E
        assertRefused("COMMENT ON TABLE t IS $a$ unterminated\n", "input ended inside a dollar-quoted string", line: 1)
        assertRefused("COMMENT ON TABLE t IS $é$x$é$;\n", "non-ASCII dollar-quote tag")
    }

    func testComments() {
        assertPasses("COMMENT ON TABLE t IS 'x' /* /* */ COMMIT; */;\n", statements: 1)
        assertRefused("/* /* */ */ COMMIT;\n", "transaction control (COMMIT)")
        assertPasses("/**/ /*/ x */ /* * / */ SET lock_timeout = 0; -- COMMIT;\n", statements: 1)
        assertRefused("/* a */ */ COMMIT;\n", "statement does not start with a keyword")  // "*/" outside a comment is an operator
        assertPasses("COMMENT ON TABLE t IS 'x' --;\n  || 'y';\n", statements: 1)
        assertRefused("COMMENT ON TABLE t IS 'x' -\\- y;\n", "psql meta-command")
        assertPasses("COMMENT ON TABLE t IS 'x'/*;*/;\nCOMMENT ON TABLE t IS 1*/**/2 /*--*/;\n", statements: 2)
        assertRefused("/* unterminated\n", "input ended inside a /* comment", line: 1)
        assertRefused("SET lock_timeout = 0;\n-- no final newline", "input ended inside a -- comment")
    }

    func testParenthesesKeepSemicolons() {
        // psql does not end a statement at ';' inside parentheses; the server rejects it as one query.
        assertPasses("COMMENT ON TABLE t IS f(1; 2);\n", statements: 1)
        assertRefused("COMMENT ON TABLE t IS (1;\nCOMMIT;\n", "input ended inside a statement")
        assertRefused("COMMENT ON TABLE t IS ) ;COMMIT;\n", "transaction control (COMMIT)")  // depth never negative
    }

    func testQuotedIdentifiers() {
        assertPasses("COMMENT ON TABLE \"a\"\"b;\" IS 'x';\nCOMMENT ON TABLE \"new\nline\" IS 'y';\n", statements: 2)
        assertRefused("\"commit\";\n", "statement does not start with a keyword")
        assertRefused("COMMENT ON TABLE \"unterminated IS 'x';\n", "input ended inside a quoted identifier")
    }

    func testStringLiteralContinuationIsRefused() {
        assertRefused("COMMENT ON TABLE t IS E'x'\n'\\';COMMIT;--';\n", "string literal continued", line: 2)
        assertRefused("COMMENT ON TABLE t IS 'a' -- c\n  'b';\n", "string literal continued", line: 2)
        assertRefused("COMMENT ON TABLE t IS 'a'\r'b';\n", "string literal continued")
        assertPasses("COMMENT ON TABLE t IS 'a' || 'b' ;\n")
        // Adjacent literals on one line are not a continuation for psql or the server (a syntax error).
        assertPasses("COMMENT ON TABLE t IS 'a' 'b';\n")
    }

    // MARK: - BEGIN ATOMIC and psql's BEGIN … END heuristic

    func testBeginAtomicBodies() {
        assertPasses("""
        CREATE FUNCTION f(a integer) RETURNS integer
            LANGUAGE sql
            BEGIN ATOMIC
         SELECT CASE WHEN (a > 0) THEN 1 ELSE CASE WHEN a < 0 THEN -1 END END;
         SELECT 'end;' || $$;$$;
        END;
        CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC END;
        CREATE PROCEDURE q() BEGIN ATOMIC INSERT INTO t VALUES (1); END;

        """, statements: 3)
    }

    func testBeginAtomicAttacksAreRefused() {
        // psql counts CASE as an opener even when it is only a column label; the server then ends the
        // body at the first END and runs COMMIT as a statement of its own.
        assertRefused("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 AS case; END; COMMIT; SELECT 1 AS end;\n",
                      "not a well-formed BEGIN ATOMIC")
        // A function named "begin" makes psql wait for an END that never belongs to it.
        assertRefused("CREATE FUNCTION begin() RETURNS int LANGUAGE sql AS 'select 1'; COMMIT; SELECT 1 AS end;\n",
                      "not a well-formed BEGIN ATOMIC")
        assertRefused("CREATE FUNCTION f() RETURNS begin LANGUAGE sql AS $$ $$; COMMIT; SELECT 1 AS end;\n",
                      "not a well-formed BEGIN ATOMIC")
        assertRefused("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 AS begin; END; COMMIT; END;\n",
                      "not a well-formed BEGIN ATOMIC")
        assertRefused("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 ELSE 2 END; END; COMMIT; END;\n",
                      "transaction control (COMMIT)")
        // psql 13/14 read "1end" as 1 and END: refused as a malformed number.
        assertRefused("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1end; COMMIT; END;\n",
                      "number immediately followed by letters")
        // Never terminated: psql would swallow everything that follows.
        assertRefused("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1;\n", "input ended inside a statement")
        assertRefused("1 CREATE FUNCTION begin; COMMIT; end;\n", "statement does not start with a keyword")
    }

    // MARK: - Allowlist

    func testSetAllowlist() {
        assertPasses("SET search_path = public, pg_catalog;\nSET search_path TO \"$user\", public;\nSET lock_timeout = '5s';\n"
                     + "SET statement_timeout TO 0;\nSET escape_string_warning = off;\nSET row_security = on;\n"
                     + "SET client_encoding = 'LATIN1';\nSET standard_conforming_strings = 'on';\n", statements: 8)
        assertRefused("SET ROLE postgres;\n", "SET ROLE", line: 1)
        assertRefused("SET SESSION AUTHORIZATION postgres;\n", "SET SESSION AUTHORIZATION")
        assertRefused("SET SESSION statement_timeout = 0;\n", "SET SESSION")
        assertRefused("SET LOCAL statement_timeout = 0;\n", "SET LOCAL")
        assertRefused("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;\n", "SET TRANSACTION")
        assertRefused("RESET ROLE;\n", "RESET ROLE")
        assertRefused("RESET ALL;\n", "RESET ALL")
        assertRefused("SET standard_conforming_strings = off;\n", "standard_conforming_strings")
        assertRefused("SET standard_conforming_strings TO DEFAULT;\n", "standard_conforming_strings")
        assertRefused("SET client_encoding = 'SJIS';\n", "client_encoding")
        assertRefused("SET client_encoding TO 'GB18030';\n", "client_encoding")
        assertRefused("SET default_with_oids = true;\n", "default_with_oids")
        assertRefused("SET session_replication_role = replica;\n", "SET session_replication_role")
        assertRefused("SET \"search_path\" = x;\n", "plain setting")
        assertRefused("SET search_path = (SELECT 1);\n", "unexpected syntax")
        assertRefused("SET search_path = a b;\n", "unexpected syntax")
    }

    func testSelectAllowlist() {
        assertPasses("""
        SELECT pg_catalog.set_config('search_path', '', false);
        SELECT pg_catalog.set_config('search_path', 'public, "we;ird"', false);
        SELECT pg_catalog.setval('public.s_id_seq', 1, false);
        SELECT pg_catalog.setval('"we;ird".s', 9223372036854775807, true);
        SELECT pg_catalog.setval('s', -5, true);
        select PG_CATALOG.LO_CREATE('42');

        """, statements: 6)
        assertRefused("SELECT pg_read_file('/etc/passwd');\n", "SELECT other than", line: 1)
        assertRefused("SELECT pg_catalog.setval('s', 1, true), pg_sleep(1);\n", "SELECT other than")
        assertRefused("SELECT pg_catalog.setval('s', 1, true) FROM pg_sleep(1);\n", "SELECT other than")
        assertRefused("SELECT pg_catalog.set_config('role', 'postgres', false);\n", "SELECT other than")
        assertRefused("SELECT pg_catalog.set_config('search_path', '', true);\n", "SELECT other than")
        assertRefused("SELECT pg_catalog.setval(E's', 1, true);\n", "SELECT other than")
        assertRefused("SELECT pg_catalog.setval('s', 1.5, true);\n", "SELECT other than")
        assertRefused("SELECT pg_catalog.lo_create('4a');\n", "SELECT other than")
        assertRefused("SELECT lo_create('1');\n", "SELECT other than")
        assertRefused("SELECT pg_catalog.lo_export(1, '/tmp/x');\n", "SELECT other than")
    }

    func testCopyAllowlist() {
        assertPasses("COPY s.t  FROM stdin;\n1\n\\.\nCOPY \"a\"\"b\".\"c;\" (\"from\", x) FROM STDIN;\n\\.\r\nCOPY t (a) FROM stdin;\n\\.\n",
                     statements: 3, copyRows: 1)
        assertRefused("COPY t TO PROGRAM 'id';\n", "COPY ... TO", line: 1)
        assertRefused("COPY t FROM PROGRAM 'id';\n", "COPY ... FROM PROGRAM")
        assertRefused("COPY t FROM '/etc/passwd';\n", "COPY ... FROM a file")
        assertRefused("COPY (SELECT 1) TO STDOUT;\n", "COPY (query)")
        assertRefused("COPY t TO STDOUT;\n", "COPY ... TO")
        assertRefused("COPY t FROM stdin WITH (FORMAT csv);\n", "COPY other than")
        assertRefused("COPY t FROM stdin CSV;\n", "COPY other than")
        assertRefused("COPY BINARY t FROM stdin;\n", "COPY other than")
        assertRefused("COPY t FROM stdin; -- x\n1\n\\.\n", "not followed by a newline")
        assertRefused("COPY t FROM stdin;\r\n1\n\\.\n", "not followed by a newline")
        assertRefused("COPY t FROM stdin;", "not followed by a newline")
        assertRefused("COPY t FROM stdin;\n1\n2\n", "input ended inside COPY data", line: 1)
        assertRefused("COPY t FROM stdin;\n1\n\\.", "input ended inside COPY data")   // "\." without its newline
        assertRefused("COPY t FROM stdin;\n1\n \\.\nCOMMIT;\n", "input ended inside COPY data")
    }

    func testCopyDataIsContent() {
        let sql = "COPY t (a, b) FROM stdin;\n\\.x\tCOMMIT;\n\\\\.\t\\! id\n\\.\\.\n ;COMMIT;\n\\.\r\r\n\r\n\\.\n"
            + "SET lock_timeout = 0;\n"
        assertPasses(sql, statements: 2, copyRows: 6)
    }

    func testCreateAllowlist() {
        assertPasses("""
        CREATE SCHEMA s;
        CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA public;
        CREATE TYPE s.e AS ENUM ('a');
        CREATE DOMAIN s.d AS integer;
        CREATE COLLATION s.c (provider = icu, locale = 'und');
        CREATE DEFAULT CONVERSION s.cv FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;
        CREATE AGGREGATE s.a(integer) (SFUNC = int4pl, STYPE = integer);
        CREATE CAST (s.d AS text) WITH INOUT;
        CREATE OPERATOR s.=== (FUNCTION = s.f, LEFTARG = integer, RIGHTARG = integer);
        CREATE OPERATOR FAMILY s.of USING btree;
        CREATE OPERATOR CLASS s.oc FOR TYPE integer USING btree AS OPERATOR 1 <;
        CREATE TEXT SEARCH CONFIGURATION s.tc (PARSER = pg_catalog."default");
        CREATE UNLOGGED TABLE s.u (a integer);
        CREATE TABLE s.t (a integer GENERATED ALWAYS AS (1) STORED) PARTITION BY RANGE (a);
        CREATE VIEW s.v AS SELECT 1 AS a;
        CREATE OR REPLACE VIEW s.v AS SELECT 1 AS a;
        CREATE MATERIALIZED VIEW s.mv AS SELECT 1 AS a WITH NO DATA;
        CREATE SEQUENCE s.q AS integer START WITH 1;
        CREATE UNLOGGED SEQUENCE s.q2;
        CREATE UNIQUE INDEX i ON s.t USING btree (a);
        CREATE STATISTICS s.st ON a, b FROM s.t;
        CREATE RULE r AS ON INSERT TO s.t DO INSTEAD NOTHING;
        CREATE CONSTRAINT TRIGGER tr AFTER INSERT ON s.t DEFERRABLE FOR EACH ROW EXECUTE FUNCTION s.f();
        CREATE POLICY p ON s.t USING (true);
        CREATE PUBLICATION pub FOR TABLE ONLY s.t WITH (publish = 'insert');
        CREATE FUNCTION s.f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
        CREATE OR REPLACE FUNCTION s.g() RETURNS int LANGUAGE "sql" IMMUTABLE AS 'select 1';

        """, statements: 27)
        assertRefused("CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f();\n", "CREATE EVENT TRIGGER", line: 1)
        assertRefused("CREATE ROLE x;\n", "CREATE ROLE")
        assertRefused("CREATE USER x SUPERUSER;\n", "CREATE USER")
        assertRefused("CREATE DATABASE x;\n", "CREATE DATABASE")
        assertRefused("CREATE TABLESPACE x LOCATION '/tmp';\n", "CREATE TABLESPACE")
        assertRefused("CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p;\n", "CREATE SUBSCRIPTION")
        assertRefused("CREATE SERVER s FOREIGN DATA WRAPPER f;\n", "CREATE SERVER")
        assertRefused("CREATE FOREIGN TABLE f (a int) SERVER s;\n", "CREATE FOREIGN TABLE")
        assertRefused("CREATE TRUSTED PROCEDURAL LANGUAGE l HANDLER h;\n", "CREATE TRUSTED PROCEDURAL LANGUAGE")
        assertRefused("CREATE OR REPLACE LANGUAGE plpython3u;\n", "CREATE OR REPLACE LANGUAGE")
        assertRefused("CREATE ACCESS METHOD am TYPE TABLE HANDLER h;\n", "CREATE ACCESS METHOD")
        assertRefused("CREATE TRANSFORM FOR int LANGUAGE l (FROM SQL WITH FUNCTION f(internal));\n", "CREATE TRANSFORM")
        assertRefused("CREATE TEMP TABLE x (a int);\n", "CREATE TEMP")
        assertRefused("CREATE OR REPLACE TRIGGER t AFTER INSERT ON t EXECUTE FUNCTION f();\n", "CREATE OR REPLACE TRIGGER")
        assertRefused("CREATE TABLE x AS SELECT pg_read_file('/etc/passwd');\n", "CREATE TABLE ... AS")
        assertRefused("CREATE TABLE x (a) AS SELECT 1;\n", "CREATE TABLE ... AS")
        assertRefused("CREATE MATERIALIZED VIEW m AS SELECT pg_sleep(1);\n", "WITH NO DATA")
        assertRefused("CREATE EXTENSION plpython3u;\n", "CREATE EXTENSION other than")
        assertRefused("CREATE EXTENSION IF NOT EXISTS dblink WITH SCHEMA public CASCADE;\n", "CREATE EXTENSION other than")
    }

    func testFunctionLanguages() {
        assertRefused("CREATE FUNCTION f() RETURNS int LANGUAGE c AS 'x','y';\n", "LANGUAGE c", line: 1)
        assertRefused("CREATE FUNCTION f() RETURNS int LANGUAGE plpython3u AS $$ import os $$;\n", "LANGUAGE plpython3u")
        assertRefused("CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE internal AS 'int4pl';\n", "LANGUAGE internal")
        assertRefused("CREATE PROCEDURE p() LANGUAGE 'c' AS 'x';\n", "LANGUAGE 'c'")
        assertRefused("CREATE FUNCTION f() RETURNS int AS 'x', 'y' LANGUAGE C;\n", "LANGUAGE C")
        assertRefused("CREATE FUNCTION f() RETURNS int LANGUAGE sql LANGUAGE c AS 'x';\n", "LANGUAGE c")
        assertRefused("CREATE FUNCTION f() RETURNS int LANGUAGE \"C\" AS 'x';\n", "LANGUAGE \"C\"")
        assertRefused("CREATE FUNCTION f() RETURNS int AS $$ select 1 $$;\n", "without LANGUAGE")
        assertRefused("CREATE FUNCTION f() RETURNS int LANGUAGE;\n", "LANGUAGE (none)")
        assertPasses("CREATE FUNCTION f(language text) RETURNS int LANGUAGE sql RETURN 1;\n")
        assertPasses("CREATE FUNCTION f() RETURNS int RETURN 1;\n")
    }

    func testAlterAllowlist() {
        assertPasses("""
        ALTER TABLE ONLY s.t ADD CONSTRAINT c PRIMARY KEY (a);
        ALTER SEQUENCE s.q OWNED BY s.t.a;
        ALTER INDEX s.i ATTACH PARTITION s.j;
        ALTER TYPE s.e OWNER TO x;
        ALTER DOMAIN s.d OWNER TO x;
        ALTER FUNCTION s.f() OWNER TO x;
        ALTER PROCEDURE s.p() OWNER TO x;
        ALTER AGGREGATE s.a(integer) OWNER TO x;
        ALTER SCHEMA s OWNER TO x;
        ALTER VIEW s.v OWNER TO x;
        ALTER MATERIALIZED VIEW s.mv OWNER TO x;
        ALTER LARGE OBJECT 1 OWNER TO x;
        ALTER DEFAULT PRIVILEGES FOR ROLE x IN SCHEMA s GRANT SELECT ON TABLES TO y;
        ALTER COLLATION s.c OWNER TO x;
        ALTER CONVERSION s.c OWNER TO x;
        ALTER OPERATOR FAMILY s.of USING btree ADD OPERATOR 1 <(integer, integer);
        ALTER TEXT SEARCH DICTIONARY s.d OWNER TO x;
        ALTER STATISTICS s.st OWNER TO x;
        ALTER PUBLICATION p ADD TABLE ONLY s.t;
        ALTER TRIGGER tr ON s.t DEPENDS ON EXTENSION e;

        """, statements: 20)
        assertRefused("ALTER SYSTEM SET shared_preload_libraries = 'x';\n", "ALTER SYSTEM", line: 1)
        assertRefused("ALTER ROLE authentik SUPERUSER;\n", "ALTER ROLE")
        assertRefused("ALTER USER x PASSWORD 'y';\n", "ALTER USER")
        assertRefused("ALTER DATABASE d SET search_path = x;\n", "ALTER DATABASE")
        assertRefused("ALTER EVENT TRIGGER e ENABLE;\n", "ALTER EVENT TRIGGER")
        assertRefused("ALTER SUBSCRIPTION s ENABLE;\n", "ALTER SUBSCRIPTION")
        assertRefused("ALTER EXTENSION e UPDATE;\n", "ALTER EXTENSION")
        assertRefused("ALTER TRIGGER tr ON t RENAME TO x;\n", "ALTER TRIGGER other than")
        assertRefused("ALTER FOREIGN TABLE f OWNER TO x;\n", "ALTER FOREIGN TABLE")
        assertRefused("ALTER LANGUAGE plpgsql OWNER TO x;\n", "ALTER LANGUAGE")
    }

    func testOtherStatements() {
        assertPasses("COMMENT ON COLUMN s.t.a IS 'x';\nSECURITY LABEL FOR p ON TABLE s.t IS 'x';\n"
                     + "REFRESH MATERIALIZED VIEW s.mv;\nGRANT SELECT(\"Select\") ON TABLE s.t TO \"Weird Role\" WITH GRANT OPTION;\n"
                     + "REVOKE ALL ON FUNCTION s.f() FROM PUBLIC;\n;\n", statements: 6)
        assertRefused("GRANT postgres TO authentik;\n", "GRANT of role membership", line: 1)
        assertRefused("GRANT pg_execute_server_program TO x WITH ADMIN OPTION;\n", "GRANT of role membership")
        assertRefused("REVOKE x FROM y;\n", "REVOKE of role membership")
        assertRefused("GRANT ALTER SYSTEM ON PARAMETER shared_preload_libraries TO x;\n", "GRANT ON PARAMETER")
        assertRefused("GRANT CREATE ON TABLESPACE t TO x;\n", "GRANT ON TABLESPACE")
        assertRefused("REVOKE CONNECT ON DATABASE d FROM PUBLIC;\n", "REVOKE ON DATABASE")
        assertRefused("DROP ROLE x;\n", "DROP ROLE")
        assertRefused("DROP DATABASE authentik;\n", "DROP DATABASE")
        assertRefused("LOAD 'x';\n", "LOAD")
        assertRefused("DO $$ BEGIN PERFORM 1; END $$;\n", "DO")
        assertRefused("CALL p();\n", "CALL")
        assertRefused("INSERT INTO t VALUES (1);\n", "INSERT")
        assertRefused("UPDATE t SET a = 1;\n", "UPDATE")
        assertRefused("DELETE FROM t;\n", "DELETE")
        assertRefused("TRUNCATE t;\n", "TRUNCATE")
        assertRefused("VACUUM;\n", "VACUUM")
        assertRefused("CHECKPOINT;\n", "CHECKPOINT")
        assertRefused("NOTIFY x;\n", "NOTIFY")
        assertRefused("LISTEN x;\n", "LISTEN")
        assertRefused("WITH x AS (SELECT 1) SELECT * FROM x;\n", "WITH")
        assertRefused("TABLE t;\n", "TABLE")
        assertRefused("VALUES (1);\n", "VALUES")
        assertRefused("EXPLAIN ANALYZE SELECT 1;\n", "EXPLAIN")
        assertRefused("SHOW ALL;\n", "SHOW")
        assertRefused("IMPORT FOREIGN SCHEMA s FROM SERVER x INTO y;\n", "IMPORT FOREIGN")
        assertRefused("COMMENT ON TABLE t IS 'x';\n(SELECT 1);\n", "statement does not start with a keyword", line: 2)
        assertRefused("SECURITY DEFINER;\n", "SECURITY DEFINER")
    }

    // MARK: - Bytes psql treats specially

    func testNulBytesAreRefused() {
        assertRefused(bytes: Array("COMMENT ON TABLE t IS 'a".utf8) + [0] + Array("';\n".utf8), "NUL byte", line: 1)
        assertRefused(bytes: Array("SET lock_timeout = 0;\n".utf8) + [0], "NUL byte", line: 2)
        assertRefused(bytes: Array("COPY t FROM stdin;\n1\n2".utf8) + [0] + Array("\n\\.\n".utf8), "NUL byte in COPY data", line: 3)
        assertRefused(bytes: Array("COMMENT ON TABLE t IS $$".utf8) + [0] + Array("$$;\n".utf8), "NUL byte")
    }

    func testNonASCIIAndControlCharacters() {
        assertPasses("COMMENT ON TABLE \"größe\" IS 'café — ✓';\nCOMMENT ON TABLE t IS $$ü$$; -- ü\n/* ü */\n", statements: 2)
        assertRefused("COMMENT ON TABLE größe IS 'x';\n", "non-ASCII byte outside quotes")
        assertRefused(bytes: Array("\u{FEFF}SET lock_timeout = 0;\n".utf8), "non-ASCII byte outside quotes")
        assertRefused("COMMENT ON TABLE t IS 'x';\u{0B}\n", "control character outside quotes")
        // A backslash right after a non-ASCII byte in E'' could be a multibyte trail byte for psql.
        assertRefused("COMMENT ON TABLE t IS E'é\\'';\n", "after a non-ASCII byte")
        assertPasses("COMMENT ON TABLE t IS E'é \\n';\n")
        assertRefused("COMMENT ON TABLE t IS 'é\\\\';\n", "backslash before a quote")
        assertPasses("COMMENT ON TABLE t IS 'é\\\\x';\n")
    }

    func testCarriageReturns() {
        assertPasses("SET lock_timeout = 0;\r\nCOMMENT ON TABLE t IS 'a\r\nb'; -- c\r\n", statements: 2)
        assertRefused("COMMENT ON TABLE t IS 'x'; --c\rCOMMIT;\n", "transaction control (COMMIT)")   // \r ends -- comments
    }

    // MARK: - End of input and limits

    func testUnterminatedInput() {
        assertRefused("COMMENT ON TABLE t IS 'unterminated;\n", "input ended inside a string literal", line: 1)
        assertRefused("SET lock_timeout = 0;\nCOMMENT ON TABLE t\nIS 'x'\n", "input ended inside a statement", line: 2)
        assertRefused("COMMENT ON TABLE t IS E'x\\", "input ended inside a string literal")
        assertPasses("", statements: 0)
        assertPasses("\n-- only comments\n/* and this */\n", statements: 0)
    }

    func testStatementSizeLimit() {
        let big = "COMMENT ON TABLE t IS '" + String(repeating: "x", count: 200) + "';\n"
        var r = Self.run(Array(big.utf8), maxStatementBytes: 100)
        XCTAssertEqual(r.refusal?.reason, "statement longer than 100 bytes")
        XCTAssertEqual(r.refusal?.line, 1)
        r = Self.run(Array(big.utf8), chunkSizes: [1], maxStatementBytes: 100)
        XCTAssertEqual(r.refusal?.reason, "statement longer than 100 bytes")
        r = Self.run(Array(big.utf8), maxStatementBytes: big.utf8.count - 1)
        XCTAssertNil(r.refusal)
        r = Self.run(Array(("/*" + String(repeating: " ", count: 200) + "*/\n").utf8), maxStatementBytes: 100)
        XCTAssertEqual(r.refusal?.reason, "statement longer than 100 bytes")
        // Whitespace between statements and COPY data do not count.
        r = Self.run(Array(("SET lock_timeout = 0;" + String(repeating: "\n", count: 500) + "COPY t FROM stdin;\n"
                            + String(repeating: "y", count: 500) + "\n\\.\n").utf8), maxStatementBytes: 100)
        XCTAssertNil(r.refusal)
    }

    func testRefusalIsStickyAndPushAfterFinishFails() {
        var f = ReplayFilter()
        XCTAssertThrowsError(try f.push(Array("COMMIT;\n".utf8)))
        XCTAssertThrowsError(try f.push(Array("SET lock_timeout = 0;\n".utf8)))
        XCTAssertThrowsError(try f.finish())
        var g = ReplayFilter()
        XCTAssertEqual(try g.push(Array("SET lock_timeout = 0;\n".utf8)), Array("SET lock_timeout = 0;\n".utf8))
        XCTAssertEqual(try g.finish(), [])
        XCTAssertThrowsError(try g.push(Array("x".utf8)))
    }

    func testStatementsAreHeldUntilComplete() throws {
        var f = ReplayFilter()
        XCTAssertEqual(try f.push(Array("SET lock_timeout".utf8)), [])
        XCTAssertEqual(try f.push(Array(" = 0;".utf8)), [])              // waits for the byte after ';'
        XCTAssertEqual(String(decoding: try f.push(Array("\nCOPY t FROM stdin;\n1".utf8)), as: UTF8.self),
                       "SET lock_timeout = 0;\nCOPY t FROM stdin;\n1")   // COPY data streams through
        XCTAssertEqual(String(decoding: try f.push(Array("23\n\\.\n".utf8)), as: UTF8.self), "23\n\\.\n")
        XCTAssertEqual(try f.finish(), [])
        XCTAssertEqual(f.statements, 2)
        XCTAssertEqual(f.copyRows, 1)
    }

    func testRefusalDescriptionAndExcerpt() {
        let r = assertRefused("SET lock_timeout = 0;\n\nDROP\tTABLE\n  x" + String(repeating: "y", count: 100) + ";\n", "DROP TABLE", line: 3)
        XCTAssertEqual(r?.excerpt.hasPrefix("DROP TABLE   xyyy"), true)
        XCTAssertEqual(r?.excerpt.count, 80)
        XCTAssertEqual(r.map { $0.description.hasPrefix("line 3: DROP TABLE") }, true)
    }

    // MARK: - Every split point for representative inputs

    func testEverySplitPointForRepresentativeInputs() {
        let inputs = [
            "-- x\n\\restrict K\nSET lock_timeout = 0;\nCOPY t (a) FROM stdin;\n\\.x\n1\n\\.\r\nBEGIN;\nSELECT pg_catalog.lo_open('1', 131072);\nCOMMIT;\n\\unrestrict K\n",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN 1 > 0 THEN 1 END; SELECT 'x;'; END; COMMENT ON TABLE t IS $a$;$b$;$a$ /* /* */ */ -- ;\n;",
            "COMMENT ON TABLE t IS E'\\\\'';COMMIT;--' || U&'\\' || B'1' || \"q\"\"q\" || 1.5e-3 || a[1:2]::int;\n",
            "COMMENT ON TABLE t IS 'a'\n'b';\n",
            "COMMENT ON TABLE t IS $a$ x $b$ $a$; COMMIT; $b$;\n",
            "SELECT :'x';\n",
            "COPY t FROM stdin;\n1\n2",
            "SET lock_timeout = 0;\n\\! id && echo this is a long line to see that the excerpt window is deterministic\n",
            "COMMENT ON TABLE t IS abcE'\\';COMMIT;--';\n",
            "COMMENT ON TABLE t IS 12e'x';\n",
            "COMMENT ON TABLE t IS 1:abc;\n",
        ]
        for input in inputs {
            Self.runEverySplit(Array(input.utf8))
        }
        Self.runEverySplit(Array("COMMENT ON TABLE t IS 'a".utf8) + [0] + Array("b';\n".utf8))
    }

    /// Longer inputs: random chunkings (deterministic generator) must all agree with the one-chunk run.
    func testRandomChunkingsOfRealDump() throws {
        let input = try Self.fixture("pg15-tricky.sql")
        let whole = Self.run(input)
        var seed: UInt64 = 0x9E3779B97F4A7C15
        for _ in 0..<12 {
            var sizes: [Int] = []
            for _ in 0..<64 {
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                sizes.append(Int((seed >> 33) % 300) + 1)
            }
            let r = Self.run(input, chunkSizes: sizes)
            XCTAssertNil(r.refusal)
            XCTAssertEqual(r.output, whole.output)
            XCTAssertEqual(r.statements, whole.statements)
            XCTAssertEqual(r.copyRows, whole.copyRows)
        }
    }
}
