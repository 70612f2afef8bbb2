@testable import AgentCore
import AgentHarness
import AKProtocol
import XCTest

final class RestorePiecesTests: XCTestCase {
    func testAuthentikVersionsCompareNumerically() {
        XCTAssertEqual(AuthentikVersion.compare("2025.10.1", "2025.2.4"), .orderedDescending)
        XCTAssertEqual(AuthentikVersion.compare("2024.12.3", "2025.2.0"), .orderedAscending)
        XCTAssertEqual(AuthentikVersion.compare("2025.10", "2025.10.0"), .orderedSame)
        XCTAssertEqual(AuthentikVersion.compare("2025.10.1-rc1", "2025.10.1"), .orderedDescending, "a suffix number counts: be conservative")
    }

    func testOnlyPgDumpStyleTableNamesAreAccepted() {
        XCTAssertTrue(QualifiedTableName.isValid("public.authentik_core_user"))
        XCTAssertTrue(QualifiedTableName.isValid("\"template\".\"Weird \"\"Table\"\"\""))
        XCTAssertFalse(QualifiedTableName.isValid("public.t; DROP DATABASE authentik"))
        XCTAssertFalse(QualifiedTableName.isValid("authentik_core_user"))
        XCTAssertFalse(QualifiedTableName.isValid("public.\"unterminated"))
        XCTAssertFalse(QualifiedTableName.isValid("public.t) UNION SELECT 1 --"))
        XCTAssertEqual(QualifiedTableName.schema(of: "\"template\".\"x\""), "template")
        XCTAssertEqual(QualifiedTableName.schema(of: "public.x"), "public")
    }

    func testIdentifiersAndLiteralsAreQuotedInOnePlace() {
        XCTAssertEqual(SQL.ident("authentik"), "\"authentik\"")
        XCTAssertEqual(SQL.ident("a\"b"), "\"a\"\"b\"")
        XCTAssertEqual(SQL.literal("it's"), "'it''s'")
        XCTAssertEqual(SQL.literal("a\\b"), "'a\\b'", "standard_conforming_strings: backslashes are literal")
    }

    func testOwnDatabasePatternMatchesOnlyWhatTheAgentCreates() {
        for name in [AgentDatabases.preRestore("20261129074500"), AgentDatabases.staging("20261129074500"),
                     AgentDatabases.scratch("20261129074500"), AgentDatabases.failed("20261129074500"),
                     AgentDatabases.undone("20261129074500")] {
            XCTAssertTrue(AgentDatabases.isOwn(name), name)
        }
        for name in ["authentik", "postgres", "authentik_pre_restore_", "authentik_pre_restore_2026112907450", "x_authentik_restore_20261129074500",
                     "authentik_restore_20261129074500; DROP DATABASE authentik"] {
            XCTAssertFalse(AgentDatabases.isOwn(name), name)
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
        let a = Harness.context(clock: Date(timeIntervalSince1970: 1_700_000_000)).stamp()
        let b = Harness.context(clock: Date(timeIntervalSince1970: 1_700_000_001)).stamp()
        XCTAssertEqual(a, "20231114221320")
        XCTAssertLessThan(a, b)
    }

    func testRestrictIsUsedOnlyWithAPsqlThatHasIt() {
        XCTAssertTrue(Replayer.supportsRestrict(psqlVersion: "psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"))
        XCTAssertTrue(Replayer.supportsRestrict(psqlVersion: "psql (PostgreSQL) 17.6"))
        XCTAssertTrue(Replayer.supportsRestrict(psqlVersion: "psql (PostgreSQL) 18.0"))
        XCTAssertFalse(Replayer.supportsRestrict(psqlVersion: "psql (PostgreSQL) 16.9"))
        XCTAssertFalse(Replayer.supportsRestrict(psqlVersion: "psql (PostgreSQL) 15.13"))
        XCTAssertFalse(Replayer.supportsRestrict(psqlVersion: nil))
        let key = Replayer.restrictKey()
        XCTAssertEqual(key.count, 48)
        XCTAssertTrue(key.allSatisfy { $0.isLetter || $0.isNumber })
        XCTAssertNotEqual(key, Replayer.restrictKey())
    }
}
