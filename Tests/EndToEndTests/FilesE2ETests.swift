import Foundation
import XCTest

/// Authentik's files in a backup set (§15): the lab's stack mounts media, templates, certificates
/// and a custom blueprint (deploy/lab/sample-files fills them, one file only the container user may
/// read); the stand-in server serves /media and reports a hash of all of it.
final class FilesE2ETests: XCTestCase {
    let akbackup = Lab.controllerBinary
    var stack: String { Lab.stackDir }

    override func setUpWithError() throws {
        try Lab.require()
        try RestoreFixture.dropAkbackupDatabases()
        let r = try Lab.run([Lab.repoRoot.appendingPathComponent("deploy/lab/sample-files").path, "--wipe"], timeout: 120)
        XCTAssertTrue(r.ok, r.description)
        _ = try? Lab.psql("DROP TABLE IF EXISTS public.akbackup_lab_unhealthy;")
    }

    override func tearDownWithError() throws {
        guard Lab.whyNotUp() == nil else { return }
        _ = try? Lab.psql("DROP TABLE IF EXISTS public.akbackup_lab_unhealthy; DROP TABLE IF EXISTS public.e2e_after_backup;")
        try RestoreFixture.dropAkbackupDatabases()
        removeAsideTrees()
    }

    /// The `.NAME.akbackup-previous|failed|new-STAMP` trees restores leave beside the directories.
    func asideTrees() -> [String] {
        [stack, stack + "/blueprints"].flatMap { dir in
            ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.contains(".akbackup-") }.map { dir + "/" + $0 }
        }
    }

    func removeAsideTrees() { for p in asideTrees() { try? FileManager.default.removeItem(atPath: p) } }

    /// The stand-in's hash of /media, /templates, /certs and /blueprints/custom, as the app sees them.
    func storageHash() throws -> String {
        let url = "http://\(try Lab.containerIP("authentik-server")):9000/-/akbackup-lab/storage/"
        let r = try Lab.run(["ip", "netns", "exec", Lab.infraNamespace, "python3", "-c",
                             "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())", url], timeout: 30)
        XCTAssertTrue(r.ok, r.description)
        return try RestoreFixture.json(r.stdout)["sha256"] as? String ?? "none"
    }

    func alterFiles() throws {
        let fm = FileManager.default
        try fm.removeItem(atPath: stack + "/media/application-icons/app.png")
        try Data("<html>defaced</html>".utf8).write(to: URL(fileURLWithPath: stack + "/custom-templates/email/password_reset.html"))
        try fm.removeItem(atPath: stack + "/blueprints/custom/lab-blueprint.yaml")
        try Data("new".utf8).write(to: URL(fileURLWithPath: stack + "/media/flow-backgrounds/added-later.png"))
    }

    func testARestoreBringsBackTheFilesTheAppServesAndUndoKeepsTheReplacedOnes() throws {
        let original = try storageHash()
        let b = try Lab.runAsOperator([akbackup, "backup", "--json"], timeout: 600)
        XCTAssertEqual(b.status, 0, b.description)
        let summary = try RestoreFixture.json(b.stdout)
        let name = try XCTUnwrap(summary["name"] as? String)
        let files = try XCTUnwrap(summary["files"] as? [String: Any], "the backup has a files member")
        let filesName = try XCTUnwrap(files["name"] as? String)
        XCTAssertEqual(filesName, "authentik-files-" + name.dropFirst("authentik-db-".count).dropLast(".sql.gz".count) + ".tar.gz")
        let mounts = (files["mounts"] as? [[String: Any]] ?? []).compactMap { $0["containerPath"] as? String }
        XCTAssertEqual(mounts, ["/blueprints/custom", "/certs", "/media", "/templates"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: Lab.nasBackupDir + "/" + filesName))
        // The file only the container user may read is in it (read through the container).
        let media = (files["mounts"] as? [[String: Any]] ?? []).first { $0["containerPath"] as? String == "/media" }
        XCTAssertEqual(media?["files"] as? Int, 4, "\(String(describing: media))")

        // One set, one row; verify checks both members.
        let list = try Lab.runAsOperator([akbackup, "list"])
        XCTAssertTrue(list.stdout.contains(name), list.description)
        XCTAssertFalse(list.stdout.contains(filesName), "a set is listed as one backup")
        let verify = try Lab.runAsOperator([akbackup, "verify", name])
        XCTAssertEqual(verify.status, 0, verify.description)

        // A restore test unpacks and checks the files in scratch and changes nothing.
        let test = try Lab.runAsOperator([akbackup, "restore-test", name, "--json"], timeout: 300)
        XCTAssertEqual(test.status, 0, test.description)
        XCTAssertTrue(test.stdout.contains("unpack and check \(filesName) in scratch"), test.stdout)
        XCTAssertEqual(try storageHash(), original)

        try alterFiles()
        let altered = try storageHash()
        XCTAssertNotEqual(altered, original)
        let r = try Lab.runAsOperator([akbackup, "restore", name, "--yes", "--json"], timeout: 300)
        XCTAssertEqual(r.status, 0, r.description)
        XCTAssertEqual(try RestoreFixture.jsonObject(in: r)["outcome"] as? String, "restored")
        XCTAssertEqual(try storageHash(), original, "the app sees exactly the files of the backup")
        let ip = try Lab.containerIP("authentik-server")
        XCTAssertEqual(try Lab.httpStatusFromInfra("http://\(ip):9000/media/application-icons/app.png"), 200)
        XCTAssertEqual(try Lab.httpStatusFromInfra("http://\(ip):9000/media/private/upload-token.bin"), 200,
                       "a file only the container user may read is the container user's again")
        XCTAssertEqual(try Lab.httpStatusFromInfra("http://\(ip):9000/media/flow-backgrounds/added-later.png"), 404)
        // What was replaced is kept beside, like the pre-restore database.
        let previous = asideTrees().filter { $0.contains(".akbackup-previous-") }
        XCTAssertEqual(previous.count, 4, "\(asideTrees())")
        XCTAssertTrue(FileManager.default.fileExists(atPath: try XCTUnwrap(previous.first { $0.contains("/.media.") }) + "/flow-backgrounds/added-later.png"))
        XCTAssertTrue(asideTrees().allSatisfy { $0.contains(".akbackup-previous-") }, "no staging left: \(asideTrees())")
    }

    func testARestoreThatFailsHealthRollsBackFilesAndDatabaseTogether() throws {
        XCTAssertTrue(try Lab.psql("CREATE TABLE public.akbackup_lab_unhealthy (x int);").ok)
        let poisoned = try RestoreFixture.freshBackup()
        XCTAssertTrue(try Lab.psql("DROP TABLE public.akbackup_lab_unhealthy;").ok)
        try alterFiles()
        let altered = try storageHash()
        let before = try RestoreFixture.liveContent()

        let r = try Lab.runAsOperator([akbackup, "restore", poisoned, "--yes", "--health-timeout", "8", "--json"], timeout: 300)
        XCTAssertEqual(r.status, 1, r.description)
        let receipt = try RestoreFixture.jsonObject(in: r)
        XCTAssertEqual(receipt["outcome"] as? String, "rolled-back", "\(receipt)")
        XCTAssertEqual(try RestoreFixture.liveContent(), before, "the previous database is live again")
        XCTAssertEqual(try storageHash(), altered, "and so are the previous files")
        XCTAssertEqual(asideTrees().filter { $0.contains(".akbackup-failed-") }.count, 4, "the restored files are kept for inspection: \(asideTrees())")
    }

    func testACorruptFilesMemberIsRefusedBeforeAnythingChangesAndDbOnlyStillRestores() throws {
        let name = try RestoreFixture.freshBackup()
        let filesPath = Lab.nasBackupDir + "/authentik-files-" + name.dropFirst("authentik-db-".count).dropLast(".sql.gz".count) + ".tar.gz"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: filesPath)))
        bytes[bytes.count / 2] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: filesPath))
        try alterFiles()
        let altered = try storageHash()
        let before = try RestoreFixture.liveContent()

        let verify = try Lab.runAsOperator([akbackup, "verify", name])
        XCTAssertNotEqual(verify.status, 0, verify.description)
        XCTAssertTrue(verify.stdout.contains("files member") || verify.stderr.contains("files member"), verify.description)
        for command in [["restore", name, "--yes"], ["restore-test", name]] {
            let r = try Lab.runAsOperator([akbackup] + command, timeout: 300)
            XCTAssertNotEqual(r.status, 0, r.description)
            XCTAssertTrue(r.stderr.contains("not restorable as a whole") || r.stderr.contains("CORRUPT"), r.description)
            XCTAssertTrue(r.stderr.contains("--db-only") || command[0] == "restore-test", r.description)
        }
        XCTAssertEqual(try RestoreFixture.liveContent(), before, "nothing changed")
        XCTAssertEqual(try storageHash(), altered)
        XCTAssertEqual(try RestoreFixture.akbackupDatabases(), [])

        // Its database is whole: --db-only restores it and leaves the files alone.
        let r = try Lab.runAsOperator([akbackup, "restore", name, "--yes", "--db-only", "--json"], timeout: 300)
        XCTAssertEqual(r.status, 0, r.description)
        XCTAssertEqual(try storageHash(), altered)
        XCTAssertTrue(asideTrees().isEmpty, "\(asideTrees())")
    }

    func testAChangedSecretKeyIsWarnedAboutBeforeTheRestore() throws {
        let name = try RestoreFixture.freshBackup()
        let env = stack + "/.env"
        let saved = try Data(contentsOf: URL(fileURLWithPath: env))
        defer {
            try? saved.write(to: URL(fileURLWithPath: env))
            _ = try? Lab.run(["chown", "\(Lab.agentUser):\(Lab.agentUser)", env])
            _ = try? Lab.run(["chmod", "600", env])
        }
        let text = String(decoding: saved, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("AUTHENTIK_SECRET_KEY=") ? "AUTHENTIK_SECRET_KEY=rotated-\(UUID().uuidString)" : String($0) }.joined(separator: "\n")
        try Data(text.utf8).write(to: URL(fileURLWithPath: env))
        let r = try Lab.runAsOperator([akbackup, "restore", name, "--yes", "--json"], timeout: 300)
        XCTAssertEqual(r.status, 0, r.description)
        XCTAssertTrue(r.stderr.contains("AUTHENTIK_SECRET_KEY") && r.stderr.contains("signed out"), r.description)
        XCTAssertFalse(r.stderr.contains("rotated-") || r.stdout.contains("rotated-"), "the key itself is never shown")
        let manifest = try String(contentsOfFile: Lab.nasBackupDir + "/" + name.dropLast(".sql.gz".count) + ".json", encoding: .utf8)
        XCTAssertTrue(manifest.contains("secretKeyFingerprint"), manifest)
        XCTAssertFalse(manifest.contains(String(String(decoding: saved, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("AUTHENTIK_SECRET_KEY=") }?.dropFirst(21) ?? "x")))

        // The same key: no warning.
        try saved.write(to: URL(fileURLWithPath: env))
        let again = try Lab.runAsOperator([akbackup, "restore", name, "--yes", "--json"], timeout: 300)
        XCTAssertEqual(again.status, 0, again.description)
        XCTAssertFalse(again.stderr.contains("signed out"), again.description)
    }

    func testFilesOnlyLeavesTheDatabaseAndUndoPutsBackFilesAndDatabaseTogether() throws {
        let original = try storageHash()
        let name = try RestoreFixture.freshBackup()
        try alterFiles()
        XCTAssertTrue(try Lab.psql("CREATE TABLE public.e2e_after_backup (x int); INSERT INTO public.e2e_after_backup VALUES (1);").ok)
        let database = try RestoreFixture.liveContent()

        let filesOnly = try Lab.runAsOperator([akbackup, "restore", name, "--yes", "--files-only", "--json"], timeout: 300)
        XCTAssertEqual(filesOnly.status, 0, filesOnly.description)
        XCTAssertEqual(try storageHash(), original, "the files of the backup are live")
        XCTAssertEqual(try RestoreFixture.liveContent(), database, "the database was not touched")
        XCTAssertEqual(try RestoreFixture.akbackupDatabases(), [])

        // Both restored, then undone: files and database of before the restore come back together.
        try Data("second change".utf8).write(to: URL(fileURLWithPath: stack + "/media/flow-backgrounds/second.png"))
        let beforeRestore = try storageHash()
        let restore = try Lab.runAsOperator([akbackup, "restore", name, "--yes", "--json"], timeout: 300)
        XCTAssertEqual(restore.status, 0, restore.description)
        XCTAssertEqual(try storageHash(), original)
        XCTAssertNotEqual(try RestoreFixture.liveContent(), database, "the backup's database is live")
        let undo = try Lab.runAsOperator([akbackup, "restore", "--undo", "--json"], timeout: 300)
        XCTAssertEqual(undo.status, 0, undo.description)
        XCTAssertEqual(try storageHash(), beforeRestore, "undo put back the files the restore replaced")
        XCTAssertEqual(try RestoreFixture.liveContent(), database, "and the database")
        XCTAssertTrue(asideTrees().contains { $0.contains(".media.akbackup-undone-") }, "the undone files are kept: \(asideTrees())")

        XCTAssertNotEqual(try Lab.runAsOperator([akbackup, "restore", name, "--yes", "--files-only", "--db-only"]).status, 0)
    }

    func testAStackWithoutFileMountsStillBacksUpAndRestores() throws {
        let config = "/etc/akbackup/agent.toml"
        let saved = try Data(contentsOf: URL(fileURLWithPath: config))
        defer { try? saved.write(to: URL(fileURLWithPath: config)) }
        // What the agent sees of a stack whose containers mount none of Authentik's directories.
        try (String(decoding: saved, as: UTF8.self) + "\nfiles_exclude = [\"/media\", \"/templates\", \"/certs\", \"/blueprints/custom\"]\n")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let b = try Lab.runAsOperator([akbackup, "backup", "--json"], timeout: 600)
        XCTAssertEqual(b.status, 0, b.description)
        let summary = try RestoreFixture.json(b.stdout)
        XCTAssertNil(summary["files"], "no files member")
        let name = try XCTUnwrap(summary["name"] as? String)
        XCTAssertFalse(FileManager.default.fileExists(atPath: Lab.nasBackupDir + "/authentik-files-" + name.dropFirst("authentik-db-".count).dropLast(".sql.gz".count) + ".tar.gz"))
        try alterFiles()
        let altered = try storageHash()
        let test = try Lab.runAsOperator([akbackup, "restore-test", name], timeout: 300)
        XCTAssertEqual(test.status, 0, test.description)
        let r = try Lab.runAsOperator([akbackup, "restore", name, "--yes", "--json"], timeout: 300)
        XCTAssertEqual(r.status, 0, r.description)
        XCTAssertEqual(try storageHash(), altered, "a set without files leaves the files alone")
        let filesOnly = try Lab.runAsOperator([akbackup, "restore", name, "--yes", "--files-only"], timeout: 300)
        XCTAssertEqual(filesOnly.status, 1, filesOnly.description)
        XCTAssertTrue(filesOnly.stderr.contains("holds no files"), filesOnly.description)
    }
}
