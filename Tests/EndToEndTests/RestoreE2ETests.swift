import Foundation
import XCTest

/// Restore, restore-test, undo and status against the lab. After every test the live database's
/// content is compared with what it was: row counts and a content hash per table, sequences and
/// large objects — never dump text (pg_dump writes random \restrict keys).
final class RestoreE2ETests: XCTestCase {
    let akbackup = Lab.controllerBinary

    override func setUpWithError() throws {
        try Lab.require()
        removeWhatThisTestStores()
        XCTAssertTrue(Lab.binariesInstalled, "binaries installed in the lab (deploy/lab/lab install)")
        try RestoreFixture.dropAkbackupDatabases()
    }

    override func tearDownWithError() throws {
        guard Lab.whyNotUp() == nil else { return }
        _ = try? Lab.psql("DROP TABLE IF EXISTS public.akbackup_lab_unhealthy; DELETE FROM authentik_core_user WHERE username LIKE 'e2e-%';")
        try RestoreFixture.dropAkbackupDatabases()
        try RestoreFixture.removeCraftedArtifacts()
        RestoreFixture.removeUndoCopies()
    }

    // MARK: the happy paths

    func testRestoreTestLeavesLiveAndServicesUntouchedAndLeavesAReceipt() throws {
        let artifact = try RestoreFixture.freshBackup()
        let before = try RestoreFixture.liveContent()
        let serverStarted = try RestoreFixture.startedAt("authentik-server")
        let localReceipts = Set(RestoreFixture.files(in: Lab.operatorHome + "/.local/state/akbackup/receipts"))
        let nasReceipts = Set(RestoreFixture.files(in: Lab.nasBackupDir + "/receipts"))

        let r = try Lab.runAsOperator([akbackup, "restore-test", artifact, "--json"], timeout: 300)
        XCTAssertEqual(r.status, 0, r.description)
        let receipt = try RestoreFixture.json(r.stdout)
        XCTAssertEqual(receipt["operation"] as? String, "restore-test")
        XCTAssertEqual(receipt["outcome"] as? String, "tested")
        XCTAssertEqual(receipt["artifact"] as? String, artifact)
        XCTAssertEqual((receipt["validation"] as? [String: Any])?["ok"] as? Bool, true)

        XCTAssertEqual(try RestoreFixture.liveContent(), before)
        XCTAssertEqual(try RestoreFixture.startedAt("authentik-server"), serverStarted, "the services were never restarted")
        XCTAssertEqual(try RestoreFixture.akbackupDatabases(), [], "the scratch database was dropped")
        let newLocal = Set(RestoreFixture.files(in: Lab.operatorHome + "/.local/state/akbackup/receipts")).subtracting(localReceipts)
        let newNAS = Set(RestoreFixture.files(in: Lab.nasBackupDir + "/receipts")).subtracting(nasReceipts)
        XCTAssertEqual(newLocal.count, 1, "a local receipt")
        XCTAssertEqual(newNAS.count, 1, "a receipt on the NAS")
        XCTAssertEqual(newLocal, newNAS)

        let status = try Lab.runAsOperator([akbackup, "status", "--json"])
        XCTAssertEqual(status.status, 0, status.description)
        let report = try RestoreFixture.json(status.stdout)
        XCTAssertEqual((report["lastRestoreTest"] as? [String: Any])?["artifact"] as? String, artifact)
    }

    func testRestoreBringsBackTheBackupsContentAndUndoPutsTheOldDatabaseBack() throws {
        let artifact = try RestoreFixture.freshBackup()
        let atBackup = try RestoreFixture.liveContent()
        try XCTAssertTrue(Lab.psql("""
            INSERT INTO authentik_core_user (uuid, username, name, email, password, is_active, attributes, type, path)
            SELECT gen_random_uuid(), 'e2e-' || g, 'E2E ' || g, 'e2e' || g || '@example.org', 'x', true, '{}'::jsonb, 'internal', 'users'
              FROM generate_series(1, 3) g;
            """).ok)
        let modified = try RestoreFixture.liveContent()
        XCTAssertNotEqual(modified, atBackup)

        let r = try Lab.runAsOperator([akbackup, "restore", artifact, "--yes", "--json"], timeout: 300)
        XCTAssertEqual(r.status, 0, r.description)
        let receipt = try RestoreFixture.jsonObject(in: r)
        XCTAssertEqual(receipt["outcome"] as? String, "restored")
        let downtime = try XCTUnwrap(receipt["downtimeSeconds"] as? Double)
        XCTAssertLessThan(downtime, 30)
        XCTAssertEqual(try RestoreFixture.liveContent(), atBackup, "live now holds the backup's content")
        XCTAssertEqual(try Lab.httpStatusFromInfra("http://\(Lab.containerIP("authentik-server")):9000/-/health/ready/"), 200)
        let pre = try RestoreFixture.akbackupDatabases().filter { $0.hasPrefix("authentik_pre_restore_") }
        XCTAssertEqual(pre.count, 1, "the previous database is kept for undo")

        let doctor = try Lab.runAsOperator([akbackup, "doctor"])
        XCTAssertTrue(doctor.stdout.contains(pre[0]), "doctor lists the undo point\n\(doctor.stdout)")

        let undo = try Lab.runAsOperator([akbackup, "restore", "--undo", "--json"], timeout: 300)
        XCTAssertEqual(undo.status, 0, undo.description)
        XCTAssertEqual(try RestoreFixture.json(undo.stdout)["outcome"] as? String, "undone")
        XCTAssertEqual(try RestoreFixture.liveContent(), modified, "undo brought the pre-restore database back")

        let undone = try RestoreFixture.akbackupDatabases().filter { $0.hasPrefix("authentik_undone_") }
        XCTAssertEqual(undone.count, 1)
        let drop = try Lab.runAsOperator([akbackup, "drop-database", undone[0]])
        XCTAssertEqual(drop.status, 0, drop.description)
        XCTAssertFalse(try RestoreFixture.akbackupDatabases().contains(undone[0]))
        let refused = try Lab.runAsOperator([akbackup, "drop-database", "authentik"])
        XCTAssertNotEqual(refused.status, 0, "the live database can never be dropped this way")
        XCTAssertTrue(refused.stderr.contains("hint:"), refused.description)
    }

    /// Routine bodies and comments may hold lines that look like statements or psql commands (a procedure
    /// may COMMIT); pg_dump writes them inside quotes. The replay filter must let them through unchanged and
    /// the schema digest must prove they came back byte for byte.
    func testARoutineWhoseBodyHasACommitLineIsRestoredByteForByte() throws {
        let create = #"""
            CREATE PROCEDURE public.akbackup_e2e_commits() LANGUAGE plpgsql AS $body$
            BEGIN
            COMMIT;
            -- \! touch /tmp/akbackup-marker-body
            ROLLBACK;
            END
            $body$;
            COMMENT ON PROCEDURE public.akbackup_e2e_commits() IS E'first line\nCOMMIT;\n\\c postgres\nEND;';
            """#
        let definition = "SELECT p.prosrc || '|' || obj_description(p.oid, 'pg_proc') FROM pg_proc p WHERE p.proname = 'akbackup_e2e_commits';"
        defer { _ = try? Lab.psql("DROP PROCEDURE IF EXISTS public.akbackup_e2e_commits();") }
        XCTAssertTrue(try Lab.psql(create).ok)
        let original = try Lab.psql(definition).stdout
        XCTAssertTrue(original.contains("\nCOMMIT;\n"), original)
        let artifact = try RestoreFixture.freshBackup()
        XCTAssertTrue(try Lab.psql("CREATE OR REPLACE PROCEDURE public.akbackup_e2e_commits() LANGUAGE plpgsql AS $$BEGIN END$$;").ok)
        XCTAssertNotEqual(try Lab.psql(definition).stdout, original)

        let drill = try Lab.runAsOperator([akbackup, "restore-test", artifact, "--json"], timeout: 300)
        XCTAssertEqual(drill.status, 0, drill.description)
        let r = try Lab.runAsOperator([akbackup, "restore", artifact, "--yes", "--json"], timeout: 300)
        XCTAssertEqual(r.status, 0, r.description)
        XCTAssertEqual(try Lab.psql(definition).stdout, original, "the body and the comment came back byte for byte")
        let markers = try Lab.run(["docker", "exec", "authentik-postgres", "sh", "-c", "ls /tmp/akbackup-marker-* 2>/dev/null || true"])
        XCTAssertEqual(markers.stdout, "")
    }

    func testReplaceKeepsAnUndoCopyOnInfraCoreFirstAndUndoPutsItBack() throws {
        let artifact = try RestoreFixture.freshBackup()
        let atBackup = try RestoreFixture.liveContent()
        XCTAssertTrue(try Lab.psql("UPDATE authentik_core_user SET name = name || ' (changed)' WHERE id IN (SELECT id FROM authentik_core_user ORDER BY id LIMIT 5);").ok)
        let changed = try RestoreFixture.liveContent()
        let artifactsBefore = Set(RestoreFixture.artifacts())
        defer { RestoreFixture.removeUndoCopies() }

        let r = try Lab.runAsOperator([akbackup, "restore", artifact, "--replace", "--yes", "--json"], timeout: 300)
        XCTAssertEqual(r.status, 0, r.description)
        XCTAssertEqual(try RestoreFixture.liveContent(), atBackup)
        let receipt = try RestoreFixture.jsonObject(in: r)
        let undoPoint = try XCTUnwrap(receipt["undoPoint"] as? String, "\(receipt)")
        XCTAssertTrue(undoPoint.hasPrefix("/var/lib/akbackup-agent/undo/authentik-undo-"), undoPoint)
        XCTAssertTrue(FileManager.default.fileExists(atPath: undoPoint), "the agent kept its own undo copy on infra-core")
        XCTAssertEqual(Set(RestoreFixture.artifacts()), artifactsBefore, "nothing depends on the controller having made a backup")

        let back = try Lab.runAsOperator([akbackup, "restore", "--undo", "--json"], timeout: 300)
        XCTAssertEqual(back.status, 0, back.description)
        XCTAssertEqual(try RestoreFixture.json(back.stdout)["outcome"] as? String, "undone")
        XCTAssertEqual(try RestoreFixture.liveContent(), changed, "undo replayed the agent's undo copy")
        XCTAssertTrue(try Lab.psql("UPDATE authentik_core_user SET name = replace(name, ' (changed)', '');").ok)
    }

    func testRunbookMadeDumpNeedsTrustUnsignedAndThenPassesARestoreTest() throws {
        // The runbook's step 1, by hand: pg_dump | gzip, no manifest, no signature.
        let name = "authentik-db-2001-01-05T000000Z.sql.gz"
        let path = "\(Lab.nasBackupDir)/\(name)"
        let dump = try Lab.run(["bash", "-c", "docker exec authentik-postgres pg_dump -U authentik authentik | gzip > \"$1\"", "_", path], timeout: 300)
        XCTAssertTrue(dump.ok, dump.description)
        _ = try Lab.run(["chown", "\(Lab.nasUser):\(Lab.nasUser)", path])

        let refused = try Lab.runAsOperator([akbackup, "restore-test", name], timeout: 300)
        XCTAssertNotEqual(refused.status, 0, refused.description)
        XCTAssertTrue(refused.stderr.contains("no agent signature") && refused.stderr.contains("--trust-unsigned"), refused.description)

        let r = try Lab.runAsOperator([akbackup, "restore-test", name, "--trust-unsigned", "--json"], timeout: 300)
        XCTAssertEqual(r.status, 0, r.description)
        let receipt = try RestoreFixture.jsonObject(in: r)
        XCTAssertEqual(receipt["outcome"] as? String, "tested")
        XCTAssertEqual(receipt["artifactSigned"] as? Bool, false, "the receipt says what was trusted")
        let fileHash = String(try Lab.run(["sha256sum", path]).stdout.prefix(64))
        XCTAssertEqual(receipt["sha256"] as? String, fileHash, "without a signature the replayed bytes are still checked against the NAS's hash")
        let checked = ((receipt["validation"] as? [String: Any])?["rowCounts"] as? [String: Any])?.keys.sorted() ?? []
        XCTAssertTrue(checked.contains("public.authentik_core_user"), "the key tables were checked: \(checked)")
    }

    // MARK: failures: live untouched

    func testCorruptArtifactIsRefusedBeforeAnyChange() throws {
        let artifact = try RestoreFixture.freshBackup()
        let corrupt = try RestoreFixture.craft(from: artifact, stamp: "2001-01-01T000000Z") { gz in
            var bytes = gz
            bytes[bytes.count / 2] ^= 0x01
            return bytes
        }
        let before = try RestoreFixture.liveContent()
        let serverStarted = try RestoreFixture.startedAt("authentik-server")

        let r = try Lab.runAsOperator([akbackup, "restore", corrupt, "--yes"], timeout: 300)
        XCTAssertNotEqual(r.status, 0, r.description)
        XCTAssertTrue(r.stderr.contains("CORRUPT"), r.description)
        XCTAssertTrue(r.stderr.contains("hint:"), r.description)
        XCTAssertEqual(try RestoreFixture.liveContent(), before)
        XCTAssertEqual(try RestoreFixture.startedAt("authentik-server"), serverStarted)
        XCTAssertEqual(try RestoreFixture.akbackupDatabases(), [])

        let test = try Lab.runAsOperator([akbackup, "restore-test", corrupt], timeout: 300)
        XCTAssertNotEqual(test.status, 0, "a restore test of a corrupt artifact fails too")
    }

    func testDumpWhoseSQLFailsHalfwayDropsStagingAndNeverStopsServices() throws {
        let artifact = try RestoreFixture.freshBackup()
        // Valid gzip and a matching manifest hash, but SQL that fails in the middle of the replay.
        let broken = try RestoreFixture.craft(from: artifact, stamp: "2001-01-02T000000Z") { gz in
            let sql = try RestoreFixture.gunzip(gz)
            let text = String(decoding: sql, as: UTF8.self)
            let cut = text.range(of: "\n\\.\n")!.upperBound
            // A statement pg_dump does write (so the replay filter lets it pass), failing in the server.
            let poisoned = String(text[..<cut]) + "ALTER TABLE public.akbackup_no_such_table OWNER TO authentik;\n" + String(text[cut...])
            return try RestoreFixture.gzip(Array(poisoned.utf8))
        }
        let before = try RestoreFixture.liveContent()
        let serverStarted = try RestoreFixture.startedAt("authentik-server")

        let r = try Lab.runAsOperator([akbackup, "restore", broken, "--yes", "--trust-unsigned", "--json", "--config", try RestoreFixture.lenientConfig()], timeout: 300)
        XCTAssertEqual(r.status, 1, r.description)
        let receipt = try RestoreFixture.jsonObject(in: r)
        XCTAssertEqual(receipt["outcome"] as? String, "failed")
        XCTAssertTrue((receipt["message"] as? String ?? "").contains("akbackup_no_such_table"), "the reason is shown: \(receipt)")
        XCTAssertNil(receipt["downtimeSeconds"] as? Double, "the services never stopped")
        XCTAssertEqual(try RestoreFixture.liveContent(), before)
        XCTAssertEqual(try RestoreFixture.startedAt("authentik-server"), serverStarted)
        XCTAssertEqual(try RestoreFixture.akbackupDatabases(), [], "the staging database was dropped")
    }

    func testReplaceWhoseSQLFailsAfterTheLargeObjectsCommitsNothing() throws {
        // pg_dump wraps large objects in its own BEGIN/COMMIT; the replay must still be all or nothing.
        let artifact = try RestoreFixture.freshBackup()
        let broken = try RestoreFixture.craft(from: artifact, stamp: "2001-01-04T000000Z") { gz in
            let text = String(decoding: try RestoreFixture.gunzip(gz), as: UTF8.self)
            XCTAssertTrue(text.contains("lo_open"), "the sample data has a large object")
            let late = text.range(of: "-- PostgreSQL database dump complete")!.lowerBound
            return try RestoreFixture.gzip(Array((String(text[..<late]) + "CREATE TABLE public.akbackup_late (x akbackup_no_such_type);\n" + String(text[late...])).utf8))
        }
        let before = try RestoreFixture.liveContent()
        defer { RestoreFixture.removeUndoCopies() }

        let r = try Lab.runAsOperator([akbackup, "restore", broken, "--replace", "--yes", "--trust-unsigned", "--json",
                                       "--config", try RestoreFixture.lenientConfig()], timeout: 300)
        XCTAssertEqual(r.status, 1, r.description)
        let tables = try Lab.psql("SELECT count(*) FROM pg_tables WHERE schemaname IN ('public', 'template');")
        XCTAssertEqual(tables.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "0", "nothing of the failed replay was committed")
        XCTAssertEqual(try Lab.containerState("authentik-server"), "running", "the services were started again")

        // The undo copy the agent took first brings everything back.
        let back = try Lab.runAsOperator([akbackup, "restore", "--undo"], timeout: 300)
        XCTAssertEqual(back.status, 0, back.description)
        XCTAssertEqual(try RestoreFixture.liveContent(), before)
    }

    func testUnhealthyAfterSwapRollsBackAutomatically() throws {
        // An artifact whose database the stand-in server refuses to be ready on.
        XCTAssertTrue(try Lab.psql("CREATE TABLE public.akbackup_lab_unhealthy (x int);").ok)
        let poisoned = try RestoreFixture.freshBackup()
        XCTAssertTrue(try Lab.psql("DROP TABLE public.akbackup_lab_unhealthy;").ok)
        let before = try RestoreFixture.liveContent()

        let r = try Lab.runAsOperator([akbackup, "restore", poisoned, "--yes", "--health-timeout", "8", "--json"], timeout: 300)
        XCTAssertEqual(r.status, 1, r.description)
        let receipt = try RestoreFixture.jsonObject(in: r)
        XCTAssertEqual(receipt["outcome"] as? String, "rolled-back", "\(receipt)")
        XCTAssertEqual(try RestoreFixture.liveContent(), before, "the previous database is live again")
        XCTAssertEqual(try Lab.containerState("authentik-server"), "running")
        XCTAssertEqual(try Lab.containerState("authentik-worker"), "running")
        XCTAssertEqual(try Lab.httpStatusFromInfra("http://\(Lab.containerIP("authentik-server")):9000/-/health/ready/"), 200)
        XCTAssertEqual(try RestoreFixture.akbackupDatabases().filter { $0.hasPrefix("authentik_failed_") }.count, 1,
                       "the restored database is kept for inspection")
    }

    func testAManifestAlteredOnTheNASIsRefusedBeforeAnyChange() throws {
        // Someone with write access to the NAS edits a signed manifest (here: the Authentik version).
        let artifact = try RestoreFixture.freshBackup()
        let altered = try RestoreFixture.craft(from: artifact, stamp: "2001-01-03T000000Z", authentikVersion: "2099.1.0", keepSignature: true) { $0 }
        let before = try RestoreFixture.liveContent()
        for command in [["restore", altered, "--yes"], ["restore", altered, "--yes", "--trust-unsigned"], ["restore-test", altered]] {
            let r = try Lab.runAsOperator([akbackup] + command, timeout: 300)
            XCTAssertNotEqual(r.status, 0, r.description)
            XCTAssertTrue(r.stderr.contains("altered after"), r.description)
        }
        XCTAssertEqual(try RestoreFixture.liveContent(), before)
        XCTAssertEqual(try RestoreFixture.akbackupDatabases(), [])
    }

    func testRestoreIsRefusedWhileAnotherOperationHoldsTheLock() throws {
        let artifact = try RestoreFixture.freshBackup()
        let before = try RestoreFixture.liveContent()
        // Hold the agent's lock the way a running backup does (flock on the same file, as akagent).
        // `cat` holds it until its stdin closes, so the lock ends with this test whatever the process tree.
        let holder = Process()
        let release = Pipe()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["ip", "netns", "exec", Lab.infraNamespace] + Lab.asUser(Lab.agentUser, home: "/home/\(Lab.agentUser)")
            + ["flock", "--exclusive", "/var/lib/akbackup-agent/operation.lock", "cat"]
        holder.standardInput = release
        holder.standardOutput = FileHandle.nullDevice
        try holder.run()
        defer {
            try? release.fileHandleForWriting.close()
            holder.waitUntilExit()
        }
        try Lab.waitUntil("the lock is held", timeout: 20) {
            let probe = try Lab.run(["ip", "netns", "exec", Lab.infraNamespace, "flock", "--nonblock", "/var/lib/akbackup-agent/operation.lock", "true"])
            return probe.status != 0
        }
        let r = try Lab.runAsOperator([akbackup, "restore", artifact, "--yes"], timeout: 120)
        XCTAssertEqual(r.status, 4, r.description)
        XCTAssertTrue(r.stderr.contains("busy") && r.stderr.contains("lock"), r.description)
        XCTAssertEqual(try RestoreFixture.liveContent(), before)
        XCTAssertEqual(try RestoreFixture.akbackupDatabases(), [])
    }

    func testRestoreWhileABackupRunsIsRefusedNamingTheBackup() throws {
        try RestoreFixture.withLargerDatabase {
            let artifact = try RestoreFixture.freshBackup()
            let before = try RestoreFixture.liveContent()
            let backup = try RestoreFixture.startAsOperator([akbackup, "backup"])
            defer { backup.waitUntilExit() }
            // Freeze the receiver mid-upload: the backup then holds the agent's lock for as long as we need.
            var receiverPID = ""
            try Lab.waitUntil("the backup is streaming to the NAS", timeout: 60, interval: 0.02) {
                let holder = (try? String(contentsOfFile: "/var/lib/akbackup-agent/operation.lock", encoding: .utf8)) ?? ""
                let partial = RestoreFixture.files(in: Lab.nasBackupDir, suffix: ".partial").isEmpty == false
                receiverPID = try Lab.run(["pgrep", "-u", Lab.nasUser, "-f", "akbackup-receiver serve"]).stdout
                    .split(separator: "\n").first.map(String.init) ?? ""
                return holder.contains("\"backup\"") && partial && !receiverPID.isEmpty
            }
            XCTAssertTrue(try Lab.run(["kill", "-STOP", receiverPID]).ok)
            let r: CommandResult
            do {
                defer { _ = try? Lab.run(["kill", "-CONT", receiverPID]) }
                r = try Lab.runAsOperator([akbackup, "restore", artifact, "--yes"], timeout: 120)
            }
            XCTAssertEqual(r.status, 4, r.description)
            XCTAssertTrue(r.stderr.contains("busy") && r.stderr.contains("backup (pid"), r.description)
            XCTAssertTrue(r.stderr.contains("hint:"), r.description)
            backup.waitUntilExit()
            XCTAssertEqual(backup.terminationStatus, 0, "the running backup was not disturbed")
            XCTAssertEqual(try RestoreFixture.liveContent(), before)
            XCTAssertEqual(try RestoreFixture.akbackupDatabases(), [])
        }
    }

    func testStatusFailsWhenBackupOrRestoreTestIsOverdue() throws {
        _ = try RestoreFixture.freshBackup()
        XCTAssertEqual(try Lab.runAsOperator([akbackup, "restore-test"], timeout: 300).status, 0)
        XCTAssertEqual(try Lab.runAsOperator([akbackup, "status"]).status, 0, "fresh backup and restore test: OK")
        let config = "/home/\(Lab.operatorUser)/akbackup-status-e2e.toml"
        defer { try? FileManager.default.removeItem(atPath: config) }
        for (key, fragment) in [("max_restore_test_age_days = 0", "restore test"), ("max_backup_age_hours = 0", "newest backup is")] {
            try "[status]\n\(key)\n".write(toFile: config, atomically: true, encoding: .utf8)
            _ = try Lab.run(["chown", Lab.operatorUser, config])
            let r = try Lab.runAsOperator([akbackup, "status", "--config", config])
            XCTAssertEqual(r.status, 1, r.description)
            XCTAssertTrue(r.stdout.contains("problem:") && r.stdout.contains(fragment), r.description)
            let json = try Lab.runAsOperator([akbackup, "status", "--config", config, "--json"])
            XCTAssertEqual(try RestoreFixture.json(json.stdout)["ok"] as? Bool, false)
        }
    }

    /// A link that dies silently while the artifact streams: the agent (behind `infra-impatient`, peer
    /// timeout 5 s) notices the silence, drops its spool and ends; nothing was created or stopped.
    func testLinkSilentDuringTheArtifactStreamChangesNothing() throws {
        let config = "\(Lab.operatorHome)/akbackup-impatient-e2e.toml"
        try "[agent]\nhost = \"infra-impatient\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        _ = try Lab.run(["chown", Lab.operatorUser, config])
        defer { try? FileManager.default.removeItem(atPath: config) }
        try RestoreFixture.withLargerDatabase {
            let artifact = try RestoreFixture.freshBackup()
            let before = try RestoreFixture.liveContent()
            let serverStarted = try RestoreFixture.startedAt("authentik-server")
            BackupFixture.shapeLink(BackupFixture.infraVeth)
            defer { BackupFixture.restoreLink() }
            let controller = try RestoreFixture.startAsOperator([akbackup, "restore", artifact, "--replace", "--yes", "--config", config])
            let agent = try RestoreFixture.waitForSpooling()
            // Freeze the controller: the link stays up but no byte (not even a heartbeat) flows any more.
            let frozen = try RestoreFixture.controllerPID(under: controller)
            XCTAssertEqual(kill(frozen, SIGSTOP), 0)
            let gaveUp = Result {
                try Lab.waitUntil("the agent gave up its silent controller", timeout: 60) { !FileManager.default.fileExists(atPath: "/proc/\(agent)") }
            }
            kill(frozen, SIGKILL)
            kill(controller.processIdentifier, SIGCONT)
            kill(controller.processIdentifier, SIGKILL)
            controller.waitUntilExit()
            try gaveUp.get()
            XCTAssertEqual(try RestoreFixture.liveContent(), before)
            XCTAssertEqual(try RestoreFixture.startedAt("authentik-server"), serverStarted, "the services never stopped")
            XCTAssertEqual(try RestoreFixture.akbackupDatabases(), [])
            XCTAssertEqual(RestoreFixture.undoCopies(), [], "no undo copy: nothing had started")
            XCTAssertTrue(try RestoreFixture.agentLockIsFree())
        }
    }

    /// The controller killed while the artifact streams: the agent's spool is a file without a name,
    /// so nothing is left on infra-core, nothing was created, live and the services are untouched.
    func testControllerKilledDuringStreamingLeavesNothing() throws {
        try RestoreFixture.withLargerDatabase {
            let artifact = try RestoreFixture.freshBackup()
            let before = try RestoreFixture.liveContent()
            let serverStarted = try RestoreFixture.startedAt("authentik-server")
            BackupFixture.shapeLink(BackupFixture.infraVeth)
            defer { BackupFixture.restoreLink() }
            let controller = try RestoreFixture.startAsOperator([akbackup, "restore", artifact, "--yes"])
            let agent = try RestoreFixture.waitForSpooling()
            try RestoreFixture.signalController(controller, SIGKILL)
            controller.waitUntilExit()
            try Lab.waitUntil("the agent ended", timeout: 60) { !FileManager.default.fileExists(atPath: "/proc/\(agent)") }
            XCTAssertEqual(try RestoreFixture.liveContent(), before)
            XCTAssertEqual(try RestoreFixture.startedAt("authentik-server"), serverStarted, "the services never stopped")
            XCTAssertEqual(try RestoreFixture.akbackupDatabases(), [], "nothing is created before the artifact is proven")
            XCTAssertEqual(RestoreFixture.spoolFiles(), [], "no spool file left")
            XCTAssertTrue(try RestoreFixture.agentLockIsFree())
        }
    }

    /// The agent killed with SIGKILL mid-stream: its spool goes with it (it never had a name).
    func testAgentKilledWhileSpoolingLeavesNoFileBehind() throws {
        try RestoreFixture.withLargerDatabase {
            let artifact = try RestoreFixture.freshBackup()
            BackupFixture.shapeLink(BackupFixture.infraVeth)
            defer { BackupFixture.restoreLink() }
            let controller = try RestoreFixture.startAsOperator([akbackup, "restore-test", artifact])
            let agent = try RestoreFixture.waitForSpooling()
            XCTAssertTrue(try Lab.run(["kill", "-KILL", String(agent)]).ok)
            controller.waitUntilExit()
            XCTAssertNotEqual(controller.terminationStatus, 0)
            try Lab.waitUntil("nobody holds a spool file", timeout: 30) { RestoreFixture.spoolHolders().isEmpty }
            XCTAssertEqual(RestoreFixture.spoolFiles(), [], "the spool had no name: nothing to clean up")
            XCTAssertEqual(try RestoreFixture.akbackupDatabases(), [])
        }
    }

    /// The controller killed after the artifact was proven, while it replays into staging: the agent
    /// notices, drops the staging database and leaves live and the services alone.
    func testControllerKilledDuringTheReplayDropsStagingAndLeavesLiveUntouched() throws {
        try RestoreFixture.withLargerDatabase {
            let artifact = try RestoreFixture.freshBackup()
            let before = try RestoreFixture.liveContent()
            let serverStarted = try RestoreFixture.startedAt("authentik-server")
            let controller = try RestoreFixture.startAsOperator([akbackup, "restore", artifact, "--yes"])
            try Lab.waitUntil("the replay into the staging database runs", timeout: 120, interval: 0.05) {
                try RestoreFixture.sessions(onDatabasesLike: "authentik_restore_%") > 0
            }
            try RestoreFixture.signalController(controller, SIGKILL)
            controller.waitUntilExit()
            try Lab.waitUntil("the agent dropped the staging database", timeout: 60) {
                try RestoreFixture.akbackupDatabases().isEmpty && RestoreFixture.agentLockIsFree()
            }
            XCTAssertEqual(try RestoreFixture.liveContent(), before)
            XCTAssertEqual(try RestoreFixture.startedAt("authentik-server"), serverStarted, "the services never stopped")
        }
    }

    func testControllerKilledDuringTheSwapTheAgentFinishesAndServicesRun() throws {
        try RestoreFixture.withLargerDatabase {
            let artifact = try RestoreFixture.freshBackup()
            let atBackup = try RestoreFixture.liveContent()
            XCTAssertTrue(try Lab.psql("INSERT INTO authentik_core_group (group_uuid, name, is_superuser, attributes) VALUES (gen_random_uuid(), 'e2e-group', false, '{}');").ok)
            let controller = try RestoreFixture.startAsOperator([akbackup, "restore", artifact, "--yes"])
            try Lab.waitUntil("the swap window opened (server stopped)", timeout: 180, interval: 0.05) {
                try Lab.containerState("authentik-server") != "running"
            }
            try RestoreFixture.signalController(controller, SIGKILL)
            controller.waitUntilExit()
            try Lab.waitUntil("the agent finished: services up and ready", timeout: 120) {
                try Lab.containerState("authentik-server") == "running"
                    && Lab.httpStatusFromInfra("http://\(Lab.containerIP("authentik-server")):9000/-/health/ready/") == 200
                    && RestoreFixture.agentLockIsFree()
            }
            XCTAssertEqual(try RestoreFixture.liveContent(), atBackup, "the agent completed the restore on its own")
            XCTAssertEqual(try Lab.containerState("authentik-worker"), "running")
        }
    }
}

/// Helpers for the restore tests: content fingerprints, crafted artifacts on the NAS, akbackup's databases.
enum RestoreFixture {
    static let akbackup = Lab.controllerBinary

    /// Per table (public and template): row count and an md5 over the rows; sequences; large objects.
    static func liveContent(database: String = "authentik") throws -> [String] {
        let sql = """
        SELECT 'table ' || n.nspname || '.' || c.relname || ' ' ||
          (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text || ' ' ||
          coalesce((xpath('/row/h/text()', query_to_xml(format('SELECT md5(string_agg(t::text, E''\\n'' ORDER BY t::text)) AS h FROM %I.%I t', n.nspname, c.relname), false, true, '')))[1]::text, 'empty')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname IN ('public', 'template')
        UNION ALL
        SELECT 'sequence ' || schemaname || '.' || sequencename || ' ' || coalesce(last_value::text, 'unset') FROM pg_sequences
        UNION ALL
        SELECT 'large objects ' || count(*) || ' ' || coalesce(md5(string_agg(oid::text || ':' || md5(lo_get(oid)), ',' ORDER BY oid)), 'none')
          FROM pg_largeobject_metadata
        ORDER BY 1;
        """
        let r = try Lab.run(["docker", "exec", "-i", "authentik-postgres", "psql", "-X", "-At", "-U", "authentik", "-d", database,
                             "-v", "ON_ERROR_STOP=1"], stdin: Data(sql.utf8), timeout: 300)
        guard r.ok else { throw LabError("content query failed: \(r.description)") }
        return r.stdout.split(separator: "\n").map(String.init)
    }

    static func akbackupDatabases() throws -> [String] {
        let r = try Lab.run(["docker", "exec", "authentik-postgres", "psql", "-X", "-At", "-U", "authentik", "-d", "postgres", "-c",
                             "SELECT datname FROM pg_database WHERE datname ~ '^authentik_(pre_restore|restore|restoretest|failed|undone)_' ORDER BY 1"])
        guard r.ok else { throw LabError(r.description) }
        return r.stdout.split(separator: "\n").map(String.init)
    }

    /// Sessions connected to databases whose name is LIKE `pattern`.
    static func sessions(onDatabasesLike pattern: String) throws -> Int {
        let r = try Lab.run(["docker", "exec", "authentik-postgres", "psql", "-X", "-At", "-U", "authentik", "-d", "postgres", "-c",
                             "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE '\(pattern)'"])
        guard r.ok, let n = Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw LabError(r.description) }
        return n
    }

    static func dropAkbackupDatabases() throws {
        for db in try akbackupDatabases() {
            _ = try Lab.run(["docker", "exec", "authentik-postgres", "psql", "-X", "-q", "-U", "authentik", "-d", "postgres", "-c",
                             "DROP DATABASE IF EXISTS \"\(db)\" WITH (FORCE)"])
        }
    }

    static func startedAt(_ container: String) throws -> String {
        try Lab.run(["docker", "inspect", "--format", "{{.State.StartedAt}}", container]).stdout
    }

    static func agentLockIsFree() throws -> Bool {
        try Lab.run(["ip", "netns", "exec", Lab.infraNamespace, "flock", "--nonblock", "/var/lib/akbackup-agent/operation.lock", "true"]).ok
    }

    static func files(in dir: String, suffix: String = ".json") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(suffix) }
    }

    static func artifacts() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: Lab.nasBackupDir)) ?? []).filter { $0.hasSuffix(".sql.gz") }
    }

    /// Runs a backup now and returns its artifact name.
    static func freshBackup() throws -> String {
        let before = Set(artifacts())
        let r = try Lab.runAsOperator([akbackup, "backup", "--json"], timeout: 600)
        guard r.ok, let name = (try json(r.stdout))["name"] as? String else { throw LabError("backup failed: \(r.description)") }
        XCTAssertFalse(before.contains(name))
        return name
    }

    static func json(_ text: String) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw LabError("not a JSON object: \(text.prefix(500))")
        }
        return object
    }

    /// A new artifact on the NAS made from `source` by `transform` (on the gzip bytes), with a manifest
    /// that matches the new bytes, owned by the receiver's login as the receiver would write it.
    /// Without `keepSignature` the manifest is unsigned (a forger has no agent key); with it, the
    /// agent's signature stays on a manifest whose content changed (an edited manifest).
    static func craft(from source: String, stamp: String, authentikVersion: String? = nil, keepSignature: Bool = false,
                      _ transform: ([UInt8]) throws -> [UInt8]) throws -> String {
        let name = "authentik-db-\(stamp).sql.gz"
        let dir = Lab.nasBackupDir
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(source)")))
        let manifestURL = URL(fileURLWithPath: "\(dir)/\(source.dropLast(7)).json")
        var manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: manifestURL)) as! [String: Any]
        let unchangedHash = manifest["sha256"]
        let bytes = try transform(original)
        manifest["name"] = name
        manifest["size"] = bytes.count
        if let v = authentikVersion, var sourceFacts = manifest["source"] as? [String: Any] {
            sourceFacts["authentikVersion"] = v
            manifest["source"] = sourceFacts
        }
        // A corrupted copy keeps the original hash in its manifest (that is what corruption looks like);
        // a re-made one gets its own.
        let corruptedInPlace = bytes.count == original.count && bytes != original
        manifest["sha256"] = corruptedInPlace ? unchangedHash : sha256Hex(bytes)
        if !corruptedInPlace, let inflated = try? gunzip(bytes) { manifest["uncompressedSize"] = inflated.count }
        if !keepSignature { manifest.removeValue(forKey: "signature") }
        // A crafted artifact is a dump alone: the source's files member belongs to the source's set.
        manifest.removeValue(forKey: "files")
        try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/\(name)"))
        try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys])
            .write(to: URL(fileURLWithPath: "\(dir)/\(name.dropLast(7)).json"))
        for path in ["\(dir)/\(name)", "\(dir)/\(name.dropLast(7)).json"] {
            _ = try Lab.run(["chown", "\(Lab.nasUser):\(Lab.nasUser)", path])
            _ = try Lab.run(["chmod", "600", path])
        }
        return name
    }

    static let agentState = "/var/lib/akbackup-agent"

    /// A controller config for `infra-lenient`: an infra-core whose administrator allows --trust-unsigned restores into live.
    static func lenientConfig() throws -> String {
        let path = "\(Lab.operatorHome)/akbackup-lenient-e2e.toml"
        try "[agent]\nhost = \"infra-lenient\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        _ = try Lab.run(["chown", Lab.operatorUser, path])
        return path
    }

    /// The agent process holding a (nameless) spool file open: the artifact is streaming into it.
    static func waitForSpooling(timeout: TimeInterval = 120) throws -> Int32 {
        var found: Int32 = 0
        try Lab.waitUntil("the agent spools the artifact", timeout: timeout, interval: 0.02) {
            guard let pid = spoolHolders().first else { return false }
            found = pid
            return true
        }
        return found
    }

    /// Processes with a spool file of the agent open.
    static func spoolHolders() -> [Int32] {
        var out: [Int32] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(entry)/fd") else { continue }
            for fd in fds {
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/fd/\(fd)")) ?? ""
                if target.hasPrefix(agentState + "/spool-") { out.append(pid); break }
            }
        }
        return out
    }

    static func spoolFiles() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: agentState)) ?? []).filter { $0.hasPrefix("spool-") }
    }

    static func undoCopies() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: agentState + "/undo")) ?? []).sorted()
    }

    static func removeUndoCopies() {
        for f in undoCopies() { try? FileManager.default.removeItem(atPath: agentState + "/undo/" + f) }
    }

    static func removeCraftedArtifacts() throws {
        for file in (try? FileManager.default.contentsOfDirectory(atPath: Lab.nasBackupDir)) ?? []
        where file.hasPrefix("authentik-db-2001-") || file.hasPrefix("authentik-db-2099-") {
            try? FileManager.default.removeItem(atPath: "\(Lab.nasBackupDir)/\(file)")
        }
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String {
        let r = try? Lab.run(["sha256sum"], stdin: Data(bytes))
        return String(r?.stdout.prefix(64) ?? "")
    }

    /// The JSON object a command printed after its progress lines; a clear failure (not a crash) when there is none.
    static func jsonObject(in r: CommandResult) throws -> [String: Any] {
        guard let start = r.stdout.range(of: "{") else { throw LabError("no JSON object in the output of \(r.description)") }
        return try json(String(r.stdout[start.lowerBound...]))
    }

    static func gunzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let r = try Lab.run(["gzip", "-dc"], stdin: Data(bytes), timeout: 120)
        guard r.ok else { throw LabError(r.description) }
        return Array(r.stdout.utf8)
    }

    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        // Through a file: gzip output is binary, and the lab's runner captures text.
        let path = NSTemporaryDirectory() + "akbackup-e2e-\(UUID().uuidString)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path + ".gz") }
        let r = try Lab.run(["gzip", "-6", path])
        guard r.ok else { throw LabError(r.description) }
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: path + ".gz")))
    }

    /// The akbackup process started under `p` (runuser forks, so it is a descendant, not the child).
    static func controllerPID(under p: Process) throws -> Int32 {
        var pid: Int32 = 0
        try Lab.waitUntil("the controller process is there", timeout: 10, interval: 0.02) {
            pid = Background.descendants(of: p.processIdentifier).first {
                ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/exe")) ?? "").hasSuffix("/akbackup")
            } ?? 0
            return pid != 0
        }
        return pid
    }

    /// Signals the controller this test started, by its PID.
    static func signalController(_ p: Process, _ sig: Int32) throws {
        let pid = try controllerPID(under: p)
        XCTAssertEqual(kill(pid, sig), 0, "signal \(sig) to the controller (pid \(pid))")
    }

    /// Starts the controller as the operator without waiting for it.
    static func startAsOperator(_ argv: [String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = Lab.asUser(Lab.operatorUser, home: Lab.operatorHome) + argv
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Runs `body` with sample data at scale 5 (a replay long enough to interrupt), then scale 1 again.
    static func withLargerDatabase(_ body: () throws -> Void) throws {
        let load = try Lab.run([Lab.sampleDataScript, "--scale", "5"], timeout: 600)
        guard load.ok else { throw LabError(load.description) }
        defer { _ = try? Lab.run([Lab.sampleDataScript, "--scale", "1"], timeout: 600) }
        try body()
    }
}
