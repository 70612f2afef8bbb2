@testable import AgentCore
import AgentHarness
import AKBase
import AKProtocol
import Archive
import Foundation
import XCTest

/// Authentik's files in the swap window (§15.3), on real directories: unpacked beside the live
/// ones, swapped in by rename, rolled back, undone; with a fake of the Docker-side helpers.
final class FilesRestoreTests: XCTestCase {
    final class TempFiles: AppFiles, @unchecked Sendable {
        let hostMounts: [FileMount]
        var owners: [String: [String]] = [:]
        init(_ mounts: [FileMount]) { hostMounts = mounts }
        func mounts() throws -> [FileMount] { hostMounts }
        func readThrough(_ mount: FileMount, relative: String, sink: ([UInt8]) throws -> Void) throws { throw Failure("no", hint: "no") }
        func setOwners(root: String, owners: [String: [String]]) throws { for (k, v) in owners { self.owners[k, default: []] += v } }
        func removeTree(_ path: String) throws { try FileManager.default.removeItem(atPath: path) }
    }

    var work = ""
    let fm = FileManager.default

    override func setUpWithError() throws {
        work = NSTemporaryDirectory() + "files-restore-\(UUID().uuidString)"
        try fm.createDirectory(atPath: work + "/stack/blueprints", withIntermediateDirectories: true)
    }
    override func tearDown() { try? fm.removeItem(atPath: work) }

    func write(_ path: String, _ text: String) throws {
        try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    /// The backed-up state of media and blueprints/custom, archived; then the live state altered.
    func backupThenAlter() throws -> (member: FilesMember, archive: String, mounts: [FileMount]) {
        let mounts = [FileMount(containerPath: "/media", hostPath: work + "/stack/media", containers: ["s"]),
                      FileMount(containerPath: "/blueprints/custom", hostPath: work + "/stack/blueprints/custom", containers: ["w"])]
        try write(work + "/stack/media/icons/app.png", "icon")
        try fm.createSymbolicLink(atPath: work + "/stack/media/icons/current.png", withDestinationPath: "app.png")
        try fm.createDirectory(atPath: work + "/stack/media/reports", withIntermediateDirectories: true)
        try write(work + "/stack/blueprints/custom/b.yaml", "version: 1\n")
        var bytes: [UInt8] = []
        let written = try FilesArchive.stream(mounts, threads: 1) { bytes += $0 }
        let archive = work + "/set.tar.gz"
        try Data(bytes).write(to: URL(fileURLWithPath: archive))
        try fm.removeItem(atPath: work + "/stack/media/icons/app.png")
        try write(work + "/stack/media/added.png", "later")
        try fm.removeItem(atPath: work + "/stack/blueprints/custom/b.yaml")
        return (written.member(for: "authentik-db-2027-01-15T080000Z.sql.gz"), archive, mounts)
    }

    func summary(_ path: String) throws -> TreeSummary {
        var w = TarWriter(root: path, prefix: "") { _ in }
        return try w.archive()
    }

    func prepared(stamp: String = "20270115080000") throws -> (FilesRestore, FilesMember, TreeSummary, TreeSummary) {
        let (member, archive, mounts) = try backupThenAlter()
        let alteredMedia = try summary(work + "/stack/media")
        let files = TempFiles(mounts)
        let restore = try FilesRestore.plan(member: member, hostMounts: mounts, stamp: stamp, files: files)
        try restore.prepare(read: { body in try body([UInt8](try Data(contentsOf: URL(fileURLWithPath: archive)))) }, member: member)
        let media = try XCTUnwrap(member.mounts.first { $0.containerPath == "/media" })
        XCTAssertEqual(try summary(restore.sibling(restore.targets.first { $0.containerPath == "/media" }!, "new")).digest, media.digest)
        return (restore, member, alteredMedia, try summary(work + "/stack/blueprints/custom"))
    }

    func testPreparedTreesSwapInByRenameAndRollBack() throws {
        let (restore, member, alteredMedia, alteredBlueprints) = try prepared()
        XCTAssertFalse(fm.fileExists(atPath: restore.staging + "/media"), "the trees left the unpack area for their siblings")
        try restore.moveIn()
        restore.finish()
        XCTAssertEqual(try summary(work + "/stack/media").digest, member.mounts.first { $0.containerPath == "/media" }!.digest)
        XCTAssertEqual(try summary(work + "/stack/blueprints/custom").digest, member.mounts.first { $0.containerPath == "/blueprints/custom" }!.digest)
        XCTAssertEqual(try summary(restore.previousPaths.first { $0.contains(".media.") }!), alteredMedia, "the replaced tree is kept")
        XCTAssertFalse(fm.fileExists(atPath: restore.staging))

        XCTAssertTrue(restore.moveBack())
        XCTAssertEqual(try summary(work + "/stack/media"), alteredMedia, "rollback: the previous tree is live again")
        XCTAssertEqual(try summary(work + "/stack/blueprints/custom"), alteredBlueprints)
        XCTAssertEqual(try summary(restore.sibling(restore.targets[0], "failed")).digest,
                       member.mounts.first { $0.containerPath == restore.targets[0].containerPath }!.digest, "the restored one is kept as failed")
    }

    func testAMoveThatFailsHalfWayPutsBackWhatMoved() throws {
        let (restore, _, alteredMedia, alteredBlueprints) = try prepared()
        // The second target's restored tree vanished: its rename fails after the first one moved.
        let second = restore.targets[1]
        try fm.removeItem(atPath: restore.sibling(second, "new"))
        XCTAssertThrowsError(try restore.moveIn())
        XCTAssertEqual(try summary(work + "/stack/media"), alteredMedia)
        XCTAssertEqual(try summary(work + "/stack/blueprints/custom"), alteredBlueprints)
        restore.discard()
        let left = try fm.contentsOfDirectory(atPath: work + "/stack").filter { $0.contains("akbackup") }
        XCTAssertEqual(left, [], "discard removes the staging and the prepared trees")
    }

    func testUndoBringsBackWhatTheRestoreReplaced() throws {
        let (restore, member, alteredMedia, _) = try prepared()
        try restore.moveIn()
        restore.finish()
        let files = TempFiles(restore.targets.map { FileMount(containerPath: $0.containerPath, hostPath: $0.hostPath, containers: []) })
        let undo = try XCTUnwrap(FilesRestore.undo(restoreStamp: "20270115080000", stamp: "20270116090000", hostMounts: try files.mounts(), files: files))
        try undo.moveIn()
        XCTAssertEqual(try summary(work + "/stack/media"), alteredMedia)
        XCTAssertEqual(try summary(FilesRestore.aside(work + "/stack/media", kind: "undone", stamp: "20270116090000")).digest,
                       member.mounts.first { $0.containerPath == "/media" }!.digest, "the restored files are kept as undone")
        XCTAssertNil(FilesRestore.undo(restoreStamp: "20270115080000", stamp: "20270116090001", hostMounts: try files.mounts(), files: files),
                     "nothing is left to undo with")
    }

    func testMediaOfAnOlderAuthentikGoesToDataMediaAndAMissingMountChangesNothing() throws {
        let member = FilesMember(name: "authentik-files-2027-01-15T080000Z.tar.gz", sha256: String(repeating: "a", count: 64), size: 1, tarSize: 1,
                                 mounts: [FilesMount(containerPath: "/media", files: 0, directories: 0, symlinks: 0, bytes: 0, digest: String(repeating: "a", count: 64))])
        try fm.createDirectory(atPath: work + "/stack/data", withIntermediateDirectories: true)
        let data = [FileMount(containerPath: "/data", hostPath: work + "/stack/data", containers: ["s"])]
        let plan = try FilesRestore.plan(member: member, hostMounts: data, stamp: "20270115080000", files: TempFiles(data))
        XCTAssertEqual(plan.targets, [FilesRestore.Target(containerPath: "/data/media", hostPath: work + "/stack/data/media", archivePath: "media")])
        XCTAssertThrowsError(try FilesRestore.plan(member: member, hostMounts: [], stamp: "20270115080000", files: TempFiles([]))) {
            XCTAssertTrue("\($0)".contains("no container of the running stack mounts"), "\($0)")
        }
    }

    func testTheSwapWindowRollsBackFilesWithTheDatabase() throws {
        let (restore, _, alteredMedia, _) = try prepared()
        let db = FakeDatabase()
        db.state.update { $0.databases["authentik_restore_20270115080000"] = FakeDatabase.Model(rowCounts: ["public.x": 1]) }
        let app = FakeApp()
        app.state.update { $0.health = [false, true] }
        var steps = StepLog()
        var appGuard = AppGuard(app: app, log: { _ in })
        let result = SwapWindow(context: Harness.context(db: db, app: app), db: db)
            .swapIn(candidate: "authentik_restore_20270115080000", keepLiveAs: "authentik_pre_restore_20270115080000",
                    failedName: "authentik_failed_20270115080000", healthTimeout: 1, steps: &steps, appGuard: &appGuard, files: restore)
        XCTAssertEqual(result.outcome, .rolledBack)
        XCTAssertTrue(result.filesMoved)
        XCTAssertEqual(try summary(work + "/stack/media"), alteredMedia, "the previous files are live again")
        XCTAssertTrue(steps.steps.contains { $0.name == "swap in Authentik's files" && $0.ok })

        // A files swap that fails puts the database back too (a second stack).
        try? fm.removeItem(atPath: work)
        try setUpWithError()
        let (again, _, _, _) = try prepared(stamp: "20270115080001")
        try fm.removeItem(atPath: again.sibling(again.targets[0], "new"))
        let db2 = FakeDatabase()
        db2.state.update { $0.databases["authentik_restore_2"] = FakeDatabase.Model(rowCounts: ["public.x": 1]) }
        var steps2 = StepLog()
        var guard2 = AppGuard(app: FakeApp(), log: { _ in })
        let failed = SwapWindow(context: Harness.context(db: db2, app: FakeApp()), db: db2)
            .swapIn(candidate: "authentik_restore_2", keepLiveAs: "authentik_pre_restore_2", failedName: "authentik_failed_2",
                    healthTimeout: 1, steps: &steps2, appGuard: &guard2, files: again)
        XCTAssertEqual(failed.outcome, .failed)
        XCTAssertFalse(failed.filesMoved)
        XCTAssertEqual(db2.databases["authentik"], FakeDatabase.sample, "the previous database is live again")
        XCTAssertNotNil(db2.databases["authentik_restore_2"])
        XCTAssertTrue(failed.message.contains("previous database and files are live again"), failed.message)
    }
}
