import Foundation
import XCTest

/// infra-core's own policy for the databases restores leave behind (agent.toml's undo_* keys,
/// defaults: the newest pre-restore copy stays; other ones go after 7 days, failed and undone ones
/// after 1 day), applied by the agent after every successful restore.
final class UndoPolicyE2ETests: XCTestCase {
    let akbackup = Lab.controllerBinary
    let foreign = ["authentik_custom", "authentik_pre_restore_20261399000000"]

    override func setUpWithError() throws {
        try Lab.require()
        removeWhatThisTestStores()
        try RestoreFixture.dropAkbackupDatabases()
        try dropForeign()
    }

    override func tearDownWithError() throws {
        guard Lab.whyNotUp() == nil else { return }
        try RestoreFixture.dropAkbackupDatabases()
        try dropForeign()
    }

    func dropForeign() throws {
        for db in foreign { XCTAssertTrue(try Lab.psqlAdmin("DROP DATABASE IF EXISTS \"\(db)\" WITH (FORCE);").ok) }
    }

    /// The agent's stamp for a moment `ago` seconds back (UTC, yyyyMMddHHmmss).
    func stamp(_ ago: TimeInterval) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMddHHmmss"
        return f.string(from: Date().addingTimeInterval(-ago))
    }

    func databases() throws -> Set<String> {
        Set(try Lab.psqlAdmin("SELECT datname FROM pg_database;").stdout.split(separator: "\n").map(String.init))
    }

    func testARestoreDropsOnlyWhatInfraCoresPolicySaysAndKeepsWhatItCannotJudge() throws {
        let day: TimeInterval = 86400
        let oldUndo = "authentik_pre_restore_\(stamp(8 * day))"
        let oldFailed = "authentik_failed_\(stamp(2 * day))"
        let recentUndone = "authentik_undone_\(stamp(2 * 3600))"
        for db in [oldUndo, oldFailed, recentUndone] + foreign {
            XCTAssertTrue(try Lab.psqlAdmin("CREATE DATABASE \"\(db)\";").ok, db)
        }
        let before = try RestoreFixture.liveContent()
        XCTAssertTrue(before.contains { $0.hasPrefix("table ") }, "the lab's live database holds data")
        let artifact = try RestoreFixture.freshBackup()
        let r = try Lab.runAsOperator([akbackup, "restore", artifact, "--yes", "--json"], timeout: 300)
        XCTAssertEqual(r.status, 0, r.description)
        let receipt = try RestoreFixture.jsonObject(in: r)
        XCTAssertEqual(receipt["outcome"] as? String, "restored")
        let steps = (receipt["steps"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        XCTAssertTrue(steps.contains("apply the undo policy"), "\(steps)")
        XCTAssertTrue(steps.contains("drop \(oldUndo)") && steps.contains("drop \(oldFailed)"), "\(steps)")

        let now = try databases()
        XCTAssertFalse(now.contains(oldUndo), "a pre-restore copy 8 days old goes")
        XCTAssertFalse(now.contains(oldFailed), "a failed one 2 days old goes")
        XCTAssertTrue(now.contains(recentUndone), "an undone one 2 hours old stays")
        for db in foreign { XCTAssertTrue(now.contains(db), "\(db) is not akbackup's to judge") }
        XCTAssertEqual(now.filter { $0.hasPrefix("authentik_pre_restore_") && !foreign.contains($0) }.count, 1, "the new undo point")
        XCTAssertTrue(now.contains("authentik"))

        // The undo the restore promised still works.
        let undo = try Lab.runAsOperator([akbackup, "restore", "--undo", "--json"], timeout: 300)
        XCTAssertEqual(undo.status, 0, undo.description)
        XCTAssertEqual(try RestoreFixture.liveContent(), before, "undo put back the database that was live, not a foreign look-alike")

        // doctor lists what is left, with sizes, and passes.
        let doctor = try Lab.runAsOperator([akbackup, "doctor"])
        XCTAssertEqual(doctor.status, 0, doctor.description)
        XCTAssertTrue(doctor.stdout.contains(recentUndone), doctor.stdout)
    }
}
