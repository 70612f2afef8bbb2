import AgentHarness
import DumpFormat
import XCTest

final class DumpInspectorTests: XCTestCase {
    let dump = """
    --
    -- PostgreSQL database dump
    --

    \\restrict 3bWqk8
    SET statement_timeout = 0;
    COPY public.authentik_core_user (id, username, attributes) FROM stdin;
    1\tåsa\t{"a": 1}
    2\t東京\t{}
    \\.
    COPY "template"."Weird Table" (x) FROM stdin;
    \\.
    COPY public.django_migrations (id, app, name, applied) FROM stdin;
    1\tcontenttypes\t0001_initial\t2026-01-01 00:00:00+00
    \\.
    --
    -- PostgreSQL database dump complete
    --

    \\unrestrict 3bWqk8

    """

    func testCountsRowsPerTableAndSeesTheTrailer() {
        var inspector = DumpInspector()
        inspector.push(Array(dump.utf8))
        XCTAssertTrue(inspector.finish())
        XCTAssertEqual(inspector.rowCounts, ["public.authentik_core_user": 2, "\"template\".\"Weird Table\"": 0, "public.django_migrations": 1])
        XCTAssertNil(inspector.incompleteReason)
        XCTAssertFalse(inspector.contentAfterTrailer)
    }

    func testByteAtATimeGivesTheSameResult() {
        var inspector = DumpInspector()
        for b in dump.utf8 { inspector.push([b]) }
        XCTAssertTrue(inspector.finish())
        XCTAssertEqual(inspector.rowCounts["public.authentik_core_user"], 2)
    }

    func testNonContiguousInputAndDataLinesStartingLikeTheEndMarker() {
        // A data row "\.x" (not the end marker) and input that is not contiguous memory (the memchr path's fallback).
        let text = dump.replacingOccurrences(of: "2\t東京\t{}", with: "\\.x")
        var whole = DumpInspector()
        whole.push(Array(text.utf8))
        var lazy = DumpInspector()
        lazy.push(text.utf8.lazy.map { $0 })
        XCTAssertTrue(whole.finish())
        XCTAssertTrue(lazy.finish())
        XCTAssertEqual(whole.rowCounts["public.authentik_core_user"], 2)
        XCTAssertEqual(lazy.rowCounts, whole.rowCounts)
        XCTAssertEqual(lazy.bytes, whole.bytes)
    }

    func testDumpCutInsideCopyIsIncomplete() {
        let cut = String(dump.prefix(upTo: dump.range(of: "2\t東京")!.lowerBound))
        var inspector = DumpInspector()
        inspector.push(Array(cut.utf8))
        XCTAssertFalse(inspector.finish())
        XCTAssertTrue(inspector.incompleteReason!.contains("inside the data of public.authentik_core_user"))
    }

    func testDumpWithoutTrailerIsIncomplete() {
        let cut = String(dump.prefix(upTo: dump.range(of: "-- PostgreSQL database dump complete")!.lowerBound))
        var inspector = DumpInspector()
        inspector.push(Array(cut.utf8))
        XCTAssertFalse(inspector.finish())
        XCTAssertTrue(inspector.incompleteReason!.contains("completion trailer"))
    }

    func testVeryLongDataLinesAreCountedNotBuffered() {
        let long = String(repeating: "x", count: 3_000_000)
        let text = "COPY public.big (b) FROM stdin;\n\(long)\n\(long)\n\\.\n-- PostgreSQL database dump complete\n"
        var inspector = DumpInspector()
        inspector.push(Array(text.utf8))
        XCTAssertTrue(inspector.finish())
        XCTAssertEqual(inspector.rowCounts["public.big"], 2)
    }

    func testTrailerTextInsideDataDoesNotCount() {
        let text = "COPY public.t (c) FROM stdin;\n-- PostgreSQL database dump complete\n\\.\n"
        var inspector = DumpInspector()
        inspector.push(Array(text.utf8))
        XCTAssertFalse(inspector.finish())
        XCTAssertEqual(inspector.rowCounts["public.t"], 1)
    }
}
