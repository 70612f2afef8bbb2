import DumpFormat
import XCTest

final class TransactionControlFilterTests: XCTestCase {
    let dump = """
    SET client_encoding = 'UTF8';
    COPY public.t (a) FROM stdin;
    BEGIN;
    COMMIT;
    \\.
    SELECT pg_catalog.lo_create('27243');
    BEGIN;

    SELECT pg_catalog.lo_open('27243', 131072);
    SELECT pg_catalog.lo_close(0);

    COMMIT;
    CREATE INDEX i ON public.t (a);
    COMMIT; -- not exactly the line
    BEGIN
    """

    let expected = """
    SET client_encoding = 'UTF8';
    COPY public.t (a) FROM stdin;
    BEGIN;
    COMMIT;
    \\.
    SELECT pg_catalog.lo_create('27243');

    SELECT pg_catalog.lo_open('27243', 131072);
    SELECT pg_catalog.lo_close(0);

    CREATE INDEX i ON public.t (a);
    COMMIT; -- not exactly the line
    BEGIN
    """

    func run(_ input: String, split: Int) -> String {
        var f = TransactionControlFilter()
        var out: [UInt8] = []
        let bytes = Array(input.utf8)
        var i = 0
        while i < bytes.count {
            let end = min(bytes.count, i + split)
            out += f.filter(Array(bytes[i..<end]))
            i = end
        }
        out += f.finish()
        return String(decoding: out, as: UTF8.self)
    }

    func testRemovesTopLevelTransactionControlOnlyAtAnySplit() {
        for split in [1, 2, 3, 5, 7, 8, 13, 64, 100_000] {
            XCTAssertEqual(run(dump, split: split), expected, "split \(split)")
        }
        var f = TransactionControlFilter()
        _ = f.filter(Array(dump.utf8))
        XCTAssertEqual(f.removedLines, 2)
    }

    func testEverythingElsePassesByteForByte() {
        let text = String(repeating: "COPY x.y (z) FROM stdin;\nlong\tline \(String(repeating: "é", count: 5000))\n\\.\n", count: 3)
        XCTAssertEqual(run(text, split: 4096), text)
        XCTAssertEqual(run("no newline at the end", split: 3), "no newline at the end")
    }
}
