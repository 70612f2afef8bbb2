@testable import AgentCore
import XCTest

final class RestorePiecesTests: XCTestCase {
    func testAuthentikVersionsCompareNumerically() {
        XCTAssertEqual(AuthentikVersion.compare("2025.10.1", "2025.2.4"), .orderedDescending)
        XCTAssertEqual(AuthentikVersion.compare("2024.12.3", "2025.2.0"), .orderedAscending)
        XCTAssertEqual(AuthentikVersion.compare("2025.10", "2025.10.0"), .orderedSame)
        XCTAssertEqual(AuthentikVersion.compare("2025.10.1-rc1", "2025.10.1"), .orderedDescending, "a suffix number counts: be conservative")
    }

    func testOnlyPgDumpStyleTableNamesAreAccepted() {
        XCTAssertTrue(SQLName.isQualifiedTable("public.authentik_core_user"))
        XCTAssertTrue(SQLName.isQualifiedTable("\"template\".\"Weird \"\"Table\"\"\""))
        XCTAssertFalse(SQLName.isQualifiedTable("public.t; DROP DATABASE authentik"))
        XCTAssertFalse(SQLName.isQualifiedTable("authentik_core_user"))
        XCTAssertFalse(SQLName.isQualifiedTable("public.\"unterminated"))
        XCTAssertFalse(SQLName.isQualifiedTable("public.t) UNION SELECT 1 --"))
        XCTAssertEqual(SQLName.unquotedSchema("\"template\".\"x\""), "template")
        XCTAssertEqual(SQLName.unquotedSchema("public.x"), "public")
    }

    func testIdentifiersAreQuoted() {
        XCTAssertEqual(ident("authentik"), "\"authentik\"")
        XCTAssertEqual(ident("a\"b"), "\"a\"\"b\"")
    }

    func testOwnDatabasePatternMatchesOnlyWhatTheAgentCreates() {
        let pattern = RestoreJob.ownDatabasePattern
        for name in ["authentik_pre_restore_20261129074500", "authentik_restore_20261129074500", "authentik_restoretest_20261129074500",
                     "authentik_failed_20261129074500", "authentik_undone_20261129074500"] {
            XCTAssertNotNil(name.range(of: pattern, options: .regularExpression), name)
        }
        for name in ["authentik", "postgres", "authentik_pre_restore_", "authentik_pre_restore_2026112907450", "x_authentik_restore_20261129074500"] {
            XCTAssertNil(name.range(of: pattern, options: .regularExpression), name)
        }
    }

    func testStepLogRecordsFailuresAndRethrows() {
        var log = StepLog()
        XCTAssertEqual(try log.run("one") { 1 }, 1)
        struct Boom: Error {}
        XCTAssertThrowsError(try log.run("two") { throw Boom() })
        XCTAssertFalse(log.runQuietly("three") { throw Boom() })
        XCTAssertEqual(log.steps.map(\.name), ["one", "two", "three"])
        XCTAssertEqual(log.steps.map(\.ok), [true, false, false])
    }

    func testStampSortsAndFitsDatabaseNames() {
        let a = AgentClock.stamp(Date(timeIntervalSince1970: 1_700_000_000))
        let b = AgentClock.stamp(Date(timeIntervalSince1970: 1_700_000_001))
        XCTAssertEqual(a, "20231114221320")
        XCTAssertLessThan(a, b)
    }
}
