import AKProtocol
import Foundation
import ProtocolSession
import Transport
import XCTest

/// The valid golden vectors, made by the real encoder. `AKPROTO_WRITE_VECTORS=1 swift test --filter VectorTests`
/// rewrites protocol/vectors/valid/ from this catalogue; otherwise the files must match it exactly.
enum ValidCatalogue {
    static let messages: [(String, Message)] = [
        ("hello_agent", .hello(Hello(role: .agent, host: "infra-core", capabilities: ["probe"]))),
        ("hello_receiver", .hello(Hello(role: .receiver, host: "nas-01.example.org", capabilities: ["probe"]))),
        ("hello_controller", .hello(Hello(role: .controller, host: "laptop", capabilities: []))),
        ("probe", .probe(ProbeRequest(id: 1))),
        ("probe_result", .probeResult(ProbeResult(id: 1, checks: [
            Check(name: "disk", ok: true, detail: "42 GiB free on /var/lib/akbackup"),
            Check(name: "zfs", ok: false, detail: "pool tank is DEGRADED", hint: "run `zpool status tank` on the host"),
        ]))),
        ("probe_result_empty", .probeResult(ProbeResult(id: 18_446_744_073_709_551_615, checks: []))),
        ("probe_result_escapes", .probeResult(ProbeResult(id: 2, checks: [
            Check(name: "quote\"backslash\\tab\tnewline\nnul\u{0}", ok: true, detail: "é ü 日本 🙂 / <>&'"),
        ]))),
        ("error", .error(ErrorMessage(id: 2, code: .notFound, message: "snapshot tank/home@2025-01-06 not found",
                                      hint: "list snapshots with `zfs list -t snapshot`"))),
        ("error_session", .error(ErrorMessage(id: nil, code: .protocolError,
                                              message: "protocol error: unknown message type \"backup.start\"",
                                              hint: "check that the remote program is akbackup's and the same version; its stderr may say more"))),
        ("error_version_mismatch", .error(ErrorMessage(id: nil, code: .versionMismatch,
                                                       message: "protocol version mismatch: agent 0.1.0 speaks 1, controller 0.2.0 speaks 2",
                                                       hint: "install the same akbackup version on the laptop and the remote host (deploy/agent/install, deploy/receiver/install)"))),
        ("error_cancelled", .error(ErrorMessage(id: 3, code: .cancelled, message: "cancelled by the controller", hint: "nothing to do"))),
        ("cancel", .cancel(CancelRequest(id: 3))),
        ("progress", .progress(ProgressReport(id: 3, phase: "send", bytes: 1_048_576))),
        ("data", .data(DataHeader(id: 4, stream: "report"))),

        // The backup path (PROTOCOL.md §10): controller → agent.
        ("backup", .backup(BackupRequest(id: 1, threads: 4))),
        ("backup_default_threads", .backup(BackupRequest(id: 1))),
        ("backup_started", .backupStarted(BackupStarted(id: 1, name: Sample.name, startedAt: "2026-01-31T02:00:00Z", source: Sample.source))),
        ("backup_started_no_authentik", .backupStarted(BackupStarted(id: 1, name: Sample.name, startedAt: "2026-01-31T02:00:00Z",
                                                                     source: Sample.bareSource))),
        ("backup_result", .backupResult(BackupResult(id: 1, size: 4_182_530, sha256: Sample.sha256, uncompressedSize: 31_457_280,
                                                     rowCounts: Sample.rowCounts, finishedAt: "2026-01-31T02:00:07Z",
                                                     compressionThreads: 4))),
        ("error_busy", .error(ErrorMessage(id: 1, code: .busy,
                                           message: "infra-core is busy: backup (pid 4242, since 2026-01-31T01:59:58Z, from laptop) holds the lock",
                                           hint: "wait for it to finish and try again; the lock is released as soon as that process ends"))),
        ("error_backup_failed", .error(ErrorMessage(id: 1, code: .failed,
                                                    message: "pg_dump failed on infra-core: the dump has no completion trailer (\"-- PostgreSQL database dump complete\")",
                                                    hint: "nothing was published; check the database with `akbackup doctor` and retry"))),
        // Controller → receiver.
        ("upload", .upload(UploadRequest(id: 1, name: Sample.name))),
        ("upload_ready", .uploadReady(UploadReady(id: 1, freeBytes: 1_099_511_627_776))),
        ("upload_ready_space_unknown", .uploadReady(UploadReady(id: 1, freeBytes: nil))),
        ("upload_commit", .uploadCommit(UploadCommit(id: 1, size: 4_182_530, sha256: Sample.sha256, manifest: Sample.manifest))),
        ("upload_abort", .uploadAbort(UploadAbort(id: 1, reason: "infra-core: pg_dump failed on infra-core: pg_dump: error: connection to server failed (exit status 1)"))),
        ("upload_result", .uploadResult(UploadResult(id: 1, name: Sample.name, size: 4_182_530, sha256: Sample.sha256))),
        ("error_upload_aborted", .error(ErrorMessage(id: 1, code: .cancelled,
                                                     message: "upload aborted: infra-core: pg_dump failed on infra-core: pg_dump: error: connection to server failed (exit status 1)",
                                                     hint: "nothing was kept on the NAS"))),
        ("error_no_space", .error(ErrorMessage(id: 1, code: .noSpace,
                                               message: "the NAS ran out of space in /volume1/backups/authentik after 3.0 MiB (0 B free)",
                                               hint: "free space on the NAS or prune old backups; nothing was kept"))),
        ("list", .list(ListRequest(id: 1))),
        ("list_result", .listResult(ListResult(id: 1, artifacts: [
            ArtifactInfo(name: Sample.name, size: 4_182_530, modifiedAt: "2026-01-31T02:00:08Z", manifest: Sample.manifest),
            ArtifactInfo(name: "authentik-db-2026-01-15T093000Z.sql.gz", size: 3_990_112, modifiedAt: "2026-01-15T09:31:02Z", manifest: nil),
        ], freeBytes: 1_099_507_445_246))),
        ("list_result_empty", .listResult(ListResult(id: 1, artifacts: [], freeBytes: nil))),
        ("verify", .verify(VerifyRequest(id: 1, name: Sample.name))),
        ("verify_latest", .verify(VerifyRequest(id: 1, name: "latest"))),
        ("verify_result", .verifyResult(VerifyResult(id: 1, name: Sample.name, ok: true, reason: nil, sha256: Sample.sha256,
                                                     size: 4_182_530, hasManifest: true, rowCounts: Sample.rowCounts))),
        ("verify_result_corrupt", .verifyResult(VerifyResult(id: 1, name: "authentik-db-2026-01-15T093000Z.sql.gz", ok: false,
                                                             reason: "the dump ends inside the data of public.authentik_events_event",
                                                             sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                                                             size: 3_990_112, hasManifest: false, rowCounts: ["public.authentik_core_user": 17]))),
        // verify.result with the full manifest (what `akbackup restore` plans with).
        ("verify_result_with_manifest", .verifyResult(VerifyResult(id: 1, name: Sample.name, ok: true, reason: nil, sha256: Sample.sha256,
                                                                   size: 4_182_530, hasManifest: true, rowCounts: Sample.rowCounts,
                                                                   manifest: Sample.manifest))),
        // list.result as the receiver sends it: manifests without row counts.
        ("list_result_summary", .listResult(ListResult(id: 1, artifacts: [
            ArtifactInfo(name: Sample.name, size: 4_182_530, modifiedAt: "2026-01-31T02:00:08Z", manifest: Sample.listManifest),
        ], freeBytes: 1_099_507_445_246))),

        // The restore path (PROTOCOL.md §11): controller → receiver.
        ("fetch", .fetch(FetchRequest(id: 1, name: Sample.name))),
        ("fetch_latest", .fetch(FetchRequest(id: 1, name: "latest"))),
        ("fetch_started", .fetchStarted(FetchStarted(id: 1, name: Sample.name, size: 4_182_530, manifest: Sample.manifest))),
        ("fetch_started_no_manifest", .fetchStarted(FetchStarted(id: 1, name: "authentik-db-2026-01-15T093000Z.sql.gz", size: 3_990_112,
                                                                 manifest: nil))),
        ("fetch_result", .fetchResult(FetchResult(id: 1, size: 4_182_530, sha256: Sample.sha256))),
        // Controller → agent.
        ("restore", .restore(RestoreRequest(id: 1, mode: .swap, artifact: Sample.name, sha256: Sample.sha256, manifest: Sample.manifest,
                                            force: false, healthTimeout: 120))),
        ("restore_test", .restore(RestoreRequest(id: 1, mode: .test, artifact: Sample.name, sha256: Sample.sha256, manifest: Sample.manifest,
                                                 force: false, healthTimeout: 120))),
        ("restore_replace_no_manifest", .restore(RestoreRequest(id: 1, mode: .replace, artifact: "authentik-db-2026-01-15T093000Z.sql.gz",
                                                                sha256: nil, manifest: nil, force: true, healthTimeout: 300))),
        ("restore_ready", .restoreReady(RestoreReady(id: 1, targetDatabase: "authentik_restore_20260201093000",
                                                     runningAuthentikVersion: "2025.10.1", warnings: []))),
        ("restore_ready_warnings", .restoreReady(RestoreReady(id: 1, targetDatabase: "authentik_restoretest_20260201093000",
                                                              runningAuthentikVersion: nil,
                                                              warnings: ["could not tell the free space of the database volume"]))),
        ("restore_ready_replace", .restoreReady(RestoreReady(id: 1, targetDatabase: "authentik", runningAuthentikVersion: "2025.10.1",
                                                             warnings: ["the backup is from Authentik 2025.8.3; the running 2025.10.1 will migrate it forward when it starts"]))),
        ("restore_result_restored", .restoreResult(Sample.restored)),
        ("restore_result_tested", .restoreResult(Sample.tested)),
        ("restore_result_rolled_back", .restoreResult(RestoreResult(id: 1, outcome: "rolled-back", steps: Sample.rolledBackSteps,
            validation: Sample.validation, downtimeSeconds: 128.5, preRestoreDatabase: nil,
            message: "the restored database never became healthy (not healthy after 120 s: ready endpoint answered 503); rolled back: the previous database is live again, the restored one is kept as authentik_failed_20260201093000"))),
        ("restore_result_validation_failed", .restoreResult(RestoreResult(id: 1, outcome: "failed", steps: [
            RestoreStep(name: "drop leftover staging databases", startedAt: "2026-02-01T09:30:00Z", seconds: 0.125, ok: true),
            RestoreStep(name: "create authentik_restore_20260201093000", startedAt: "2026-02-01T09:30:00Z", seconds: 0.25, ok: true),
            RestoreStep(name: "replay artifact into authentik_restore_20260201093000", startedAt: "2026-02-01T09:30:00Z", seconds: 41.5, ok: true),
            RestoreStep(name: "validate authentik_restore_20260201093000", startedAt: "2026-02-01T09:30:42Z", seconds: 0.75, ok: true),
            RestoreStep(name: "drop authentik_restore_20260201093000", startedAt: "2026-02-01T09:30:43Z", seconds: 0.5, ok: true),
        ], validation: ValidationReport(ok: false, rowCounts: ["public.authentik_core_user": 0, "public.authentik_events_event": 48_211],
                                        problems: ["key table public.authentik_core_user is empty",
                                                   "public.authentik_core_user has 0 rows, the manifest says 17"]),
           downtimeSeconds: nil, preRestoreDatabase: nil,
           message: "validation failed: key table public.authentik_core_user is empty; public.authentik_core_user has 0 rows, the manifest says 17; the live database and the services were not touched"))),
        ("restore_result_undone", .restoreResult(Sample.undone)),
        ("error_restore_newer_authentik", .error(ErrorMessage(id: 1, code: .failed,
            message: "refusing to restore a backup of Authentik 2025.12.0 under the running 2025.10.1: Authentik cannot migrate a database backwards",
            hint: "restore a backup made by 2025.10.1 or older, upgrade the image first, or pass --force if you know better"))),
        ("error_restore_no_room", .error(ErrorMessage(id: 1, code: .noSpace,
            message: "the database volume has 12.0 MiB free; a staging copy needs about 33.0 MiB",
            hint: "free space, or use `akbackup restore --replace` (drop and recreate, after a fresh undo backup)"))),
        ("undo", .undo(UndoRequest(id: 1, healthTimeout: 120))),
        ("error_undo_nothing", .error(ErrorMessage(id: 1, code: .notFound, message: "there is no pre-restore database on infra-core to go back to",
                                                   hint: "`akbackup doctor` lists akbackup's databases; restore a backup instead"))),
        ("databases", .databases(DatabasesRequest(id: 1))),
        ("databases_result", .databasesResult(DatabasesResult(id: 1, databases: [
            DatabaseInfo(name: "authentik_pre_restore_20260201093000", sizeBytes: 33_497_267),
            DatabaseInfo(name: "authentik_undone_20260202100000", sizeBytes: 33_554_432),
        ]))),
        ("databases_result_empty", .databasesResult(DatabasesResult(id: 1, databases: []))),
        ("drop_database", .dropDatabase(DropDatabaseRequest(id: 1, name: "authentik_pre_restore_20260201093000"))),
        ("done_dropped", .done(Done(id: 1, detail: "dropped authentik_pre_restore_20260201093000"))),
        ("error_drop_refused", .error(ErrorMessage(id: 1, code: .badRequest, message: "refusing to drop \"authentik\": not a database akbackup made",
                                                   hint: "`akbackup doctor` lists the databases akbackup made"))),
        // Controller → receiver: receipts.
        ("receipt_store", .receiptStore(ReceiptStore(id: 2, name: "restore-2026-02-01T092955Z-restored.json", receipt: Sample.restoreReceipt))),
        ("done_receipt_stored", .done(Done(id: 2, detail: "receipts/restore-2026-02-01T092955Z-restored.json"))),
        ("receipts", .receipts(ReceiptsRequest(id: 2))),
        ("receipts_result", .receiptsResult(ReceiptsResult(id: 2, receipts: [Sample.testReceipt, Sample.restoreReceipt, Sample.undoReceipt]))),
        ("receipts_result_empty", .receiptsResult(ReceiptsResult(id: 2, receipts: []))),
    ]

    /// Values shared by the backup-path vectors.
    enum Sample {
        static let name = "authentik-db-2026-01-31T020000Z.sql.gz"
        static let sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        static let source = SourceFacts(host: "infra-core", database: "authentik",
                                        postgresVersion: "16.6 (Debian 16.6-1.pgdg120+1)",
                                        pgDumpVersion: "pg_dump (PostgreSQL) 16.6 (Debian 16.6-1.pgdg120+1)",
                                        authentikVersion: "2025.10.1",
                                        latestMigration: "authentik_core.0048_delete_oldauthenticatedsession_content_type")
        /// A database without Authentik's tables (or before its first migration).
        static let bareSource = SourceFacts(host: "infra-core", database: "authentik", postgresVersion: "16.6",
                                            pgDumpVersion: "pg_dump (PostgreSQL) 16.6", authentikVersion: nil, latestMigration: nil)
        static let rowCounts: [String: Int64] = ["public.authentik_core_user": 17, "public.authentik_events_event": 48_211,
                                                 "public.django_migrations": 812, "public.\"Quoted Table\"": 0]
        static let manifest = Manifest(name: name, sha256: sha256, size: 4_182_530, uncompressedSize: 31_457_280,
                                       startedAt: "2026-01-31T02:00:00Z", finishedAt: "2026-01-31T02:00:07Z", source: source,
                                       rowCounts: rowCounts, compression: "gzip -6, 4 thread(s), independent members",
                                       software: "0.1.0")
        /// NAME.json as the receiver writes it (ReceiverCore/Upload.swift, publish): pretty-printed, sorted keys, `/` unescaped.
        static var manifestFile: String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try! encoder.encode(manifest), as: UTF8.self)
        }
        static let manifestFileName = "authentik-db-2026-01-31T020000Z.json"
        /// receipts/NAME as the receiver writes it (ReceiverCore/Serve.swift, storeReceipt): the same encoder settings.
        static var receiptFile: String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try! encoder.encode(restoreReceipt), as: UTF8.self)
        }
        static let receiptFileName = "restore-2026-02-01T092955Z-restored.json"

        /// The manifest as list.result carries it: rowCounts left empty (ReceiverCore/Artifacts.swift, list).
        static var listManifest: Manifest {
            var m = manifest
            m.rowCounts = [:]
            return m
        }

        static let stamp = "20260201093000"
        static let validation = ValidationReport(ok: true, rowCounts: [
            "public.\"Quoted Table\"": 0, "public.authentik_core_application": 9, "public.authentik_core_group": 4,
            "public.authentik_core_user": 17, "public.authentik_core_user_ak_groups": 21, "public.authentik_events_event": 48_211,
            "public.authentik_flows_flow": 25, "public.django_migrations": 812,
        ], problems: [])
        static let stagingSteps = [
            RestoreStep(name: "drop leftover staging databases", startedAt: "2026-02-01T09:30:00Z", seconds: 0.125, ok: true),
            RestoreStep(name: "create authentik_restore_\(stamp)", startedAt: "2026-02-01T09:30:00Z", seconds: 0.25, ok: true),
            RestoreStep(name: "replay artifact into authentik_restore_\(stamp)", startedAt: "2026-02-01T09:30:00Z", seconds: 41.5, ok: true),
            RestoreStep(name: "validate authentik_restore_\(stamp)", startedAt: "2026-02-01T09:30:42Z", seconds: 0.75, ok: true),
            RestoreStep(name: "analyze authentik_restore_\(stamp)", startedAt: "2026-02-01T09:30:43Z", seconds: 2.0, ok: true),
            RestoreStep(name: "stop services", startedAt: "2026-02-01T09:30:45Z", seconds: 1.5, ok: true),
            RestoreStep(name: "rename authentik to authentik_pre_restore_\(stamp)", startedAt: "2026-02-01T09:30:46Z", seconds: 0.0625, ok: true),
            RestoreStep(name: "rename authentik_restore_\(stamp) to authentik", startedAt: "2026-02-01T09:30:46Z", seconds: 0.0625, ok: true),
            RestoreStep(name: "start services", startedAt: "2026-02-01T09:30:46Z", seconds: 1.25, ok: true),
        ]
        static let restored = RestoreResult(id: 1, outcome: "restored", steps: stagingSteps + [
            RestoreStep(name: "wait for health", startedAt: "2026-02-01T09:30:48Z", seconds: 4.8125, ok: true, detail: "ready endpoint answered 200"),
        ], validation: validation, downtimeSeconds: 7.75, preRestoreDatabase: "authentik_pre_restore_\(stamp)",
           message: "authentik restored; the previous database is kept as authentik_pre_restore_\(stamp) (akbackup restore --undo)")
        static let rolledBackSteps = stagingSteps + [
            RestoreStep(name: "wait for health", startedAt: "2026-02-01T09:30:48Z", seconds: 120, ok: false,
                        detail: "not healthy after 120 s: ready endpoint answered 503"),
            RestoreStep(name: "stop services (rollback)", startedAt: "2026-02-01T09:32:48Z", seconds: 1.5, ok: true),
            RestoreStep(name: "rename authentik to authentik_failed_\(stamp)", startedAt: "2026-02-01T09:32:49Z", seconds: 0.0625, ok: true),
            RestoreStep(name: "rename authentik_pre_restore_\(stamp) back to authentik", startedAt: "2026-02-01T09:32:49Z", seconds: 0.0625, ok: true),
            RestoreStep(name: "start services (rollback)", startedAt: "2026-02-01T09:32:49Z", seconds: 1.25, ok: true),
            RestoreStep(name: "wait for health (rollback)", startedAt: "2026-02-01T09:32:51Z", seconds: 3.5, ok: true, detail: "ready endpoint answered 200"),
        ]
        static let tested = RestoreResult(id: 1, outcome: "tested", steps: [
            RestoreStep(name: "drop leftover staging databases", startedAt: "2026-02-01T09:30:00Z", seconds: 0.125, ok: true),
            RestoreStep(name: "create authentik_restoretest_\(stamp)", startedAt: "2026-02-01T09:30:00Z", seconds: 0.25, ok: true),
            RestoreStep(name: "replay artifact into authentik_restoretest_\(stamp)", startedAt: "2026-02-01T09:30:00Z", seconds: 41.5, ok: true),
            RestoreStep(name: "validate authentik_restoretest_\(stamp)", startedAt: "2026-02-01T09:30:42Z", seconds: 0.75, ok: true),
            RestoreStep(name: "drop authentik_restoretest_\(stamp)", startedAt: "2026-02-01T09:30:43Z", seconds: 0.5, ok: true),
        ], validation: validation, downtimeSeconds: nil, preRestoreDatabase: nil,
           message: "restore test passed: 8 tables match the manifest; scratch database dropped")
        static let undone = RestoreResult(id: 1, outcome: "undone", steps: [
            RestoreStep(name: "stop services", startedAt: "2026-02-02T10:00:00Z", seconds: 1.5, ok: true),
            RestoreStep(name: "rename authentik to authentik_undone_20260202100000", startedAt: "2026-02-02T10:00:01Z", seconds: 0.0625, ok: true),
            RestoreStep(name: "rename authentik_pre_restore_\(stamp) to authentik", startedAt: "2026-02-02T10:00:01Z", seconds: 0.0625, ok: true),
            RestoreStep(name: "start services", startedAt: "2026-02-02T10:00:01Z", seconds: 1.25, ok: true),
            RestoreStep(name: "wait for health", startedAt: "2026-02-02T10:00:03Z", seconds: 4.5, ok: true, detail: "ready endpoint answered 200"),
        ], validation: nil, downtimeSeconds: 7.375, preRestoreDatabase: "authentik_undone_20260202100000",
           message: "authentik_pre_restore_\(stamp) is live again; the replaced database is kept as authentik_undone_20260202100000")

        static let testReceipt = Receipt(operation: "restore-test", artifact: name, sha256: sha256, operatorName: "alice",
                                         controllerHost: "laptop", agentHost: "infra-core", startedAt: "2026-01-31T09:29:55Z",
                                         finishedAt: "2026-01-31T09:30:44Z", steps: tested.steps, validation: validation,
                                         downtimeSeconds: nil, outcome: "tested", message: tested.message, software: "0.1.0")
        static let restoreReceipt = Receipt(operation: "restore", artifact: name, sha256: sha256, operatorName: "alice",
                                            controllerHost: "laptop", agentHost: "infra-core", startedAt: "2026-02-01T09:29:55Z",
                                            finishedAt: "2026-02-01T09:30:53Z", steps: restored.steps, validation: validation,
                                            downtimeSeconds: restored.downtimeSeconds, outcome: "restored", message: restored.message,
                                            software: "0.1.0")
        static let undoReceipt = Receipt(operation: "undo", artifact: nil, sha256: nil, operatorName: "alice",
                                         controllerHost: "laptop", agentHost: "infra-core", startedAt: "2026-02-02T09:59:58Z",
                                         finishedAt: "2026-02-02T10:00:08Z", steps: undone.steps, validation: nil,
                                         downtimeSeconds: undone.downtimeSeconds, outcome: "undone", message: undone.message, software: "0.1.0")
    }

    /// A data stream: header, two raw frames, the empty end frame.
    static let dataStream: [UInt8] = {
        var out = MessageCodec.frame(.data(DataHeader(id: 4, stream: "report")))
        out += Frame.encode([0x00, 0xFF, 0x7B, 0x22])    // raw bytes, not JSON
        out += Frame.encode(Array("plain text chunk\n".utf8))
        out += Frame.encode([])
        return out
    }()
}

final class VectorTests: XCTestCase {
    private var writing: Bool { ProcessInfo.processInfo.environment["AKPROTO_WRITE_VECTORS"] == "1" }

    func testValidVectorsAreTheEncodersOutput() throws {
        let dir = Repo.vectors.appendingPathComponent("valid")
        var expected: [String: String] = Dictionary(uniqueKeysWithValues: ValidCatalogue.messages.map {
            ($0.0 + ".hex", Hex.encode(MessageCodec.frame($0.1)) + "\n")
        })
        expected["bulk_data_stream.hex"] = Hex.encode(ValidCatalogue.dataStream) + "\n"
        if writing {
            for (name, text) in expected {
                try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
            }
        }
        let manifestURL = Repo.vectors.appendingPathComponent("manifest").appendingPathComponent(ValidCatalogue.Sample.manifestFileName)
        if writing {
            try FileManager.default.createDirectory(at: manifestURL.deletingLastPathComponent(), withIntermediateDirectories: true)
            try (ValidCatalogue.Sample.manifestFile + "\n").write(to: manifestURL, atomically: true, encoding: .utf8)
        }
        XCTAssertEqual(try? String(contentsOf: manifestURL, encoding: .utf8), ValidCatalogue.Sample.manifestFile + "\n",
                       "protocol/vectors/manifest/\(ValidCatalogue.Sample.manifestFileName) is not what the receiver writes")
        let receiptURL = Repo.vectors.appendingPathComponent("receipt").appendingPathComponent(ValidCatalogue.Sample.receiptFileName)
        if writing {
            try FileManager.default.createDirectory(at: receiptURL.deletingLastPathComponent(), withIntermediateDirectories: true)
            try (ValidCatalogue.Sample.receiptFile + "\n").write(to: receiptURL, atomically: true, encoding: .utf8)
        }
        XCTAssertEqual(try? String(contentsOf: receiptURL, encoding: .utf8), ValidCatalogue.Sample.receiptFile + "\n",
                       "protocol/vectors/receipt/\(ValidCatalogue.Sample.receiptFileName) is not what the receiver writes")
        let onDisk = try Repo.hexFiles("valid").map(\.lastPathComponent)
        XCTAssertEqual(Set(onDisk), Set(expected.keys), "protocol/vectors/valid/ and the catalogue differ; regenerate with AKPROTO_WRITE_VECTORS=1")
        for (name, text) in expected {
            let disk = try? String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            XCTAssertEqual(disk, text, "\(name) is not what the encoder produces")
        }
    }

    /// Every valid single-frame vector decodes and re-encodes byte for byte.
    func testValidVectorsRoundTripByteForByte() throws {
        let catalogue = Dictionary(uniqueKeysWithValues: ValidCatalogue.messages.map { ($0.0, $0.1) })
        let files = try Repo.hexFiles("valid").filter { !$0.lastPathComponent.hasPrefix("bulk_") }
        XCTAssertGreaterThanOrEqual(files.count, Message.knownTypes.count)
        var typesSeen = Set<String>()
        for file in files {
            let bytes = try Hex.read(file)
            var decoder = FrameDecoder()
            decoder.push(bytes)
            let payload = try XCTUnwrap(try decoder.next(), file.lastPathComponent)
            XCTAssertEqual(decoder.pendingCount, 0, "\(file.lastPathComponent): one frame per file")
            let message = try MessageCodec.decode(payload)
            typesSeen.insert(message.type)
            XCTAssertEqual(MessageCodec.encode(message), payload, "\(file.lastPathComponent): re-encoding differs")
            XCTAssertEqual(MessageCodec.frame(message), bytes, "\(file.lastPathComponent): re-framing differs")
            let name = file.deletingPathExtension().lastPathComponent
            XCTAssertEqual(catalogue[name], message, "\(name) decodes to something else than the catalogue says")
        }
        XCTAssertEqual(typesSeen, Set(Message.knownTypes), "every message type has a valid vector")
    }

    func testBulkStreamVector() throws {
        let bytes = try Hex.read(Repo.vectors.appendingPathComponent("valid/bulk_data_stream.hex"))
        let items = try Pipeline.decodeStream([bytes])
        XCTAssertEqual(items, [
            .message(.data(DataHeader(id: 4, stream: "report"))),
            .chunk([0x00, 0xFF, 0x7B, 0x22]),
            .chunk(Array("plain text chunk\n".utf8)),
            .endOfData(id: 4),
        ])
        // The same through a FramedChannel, one byte per read.
        let framed = FramedChannel(MemoryChannel.scripted(bytes, readLimit: 1))
        var got: [Incoming] = []
        while let item = try framed.receive() { got.append(item) }
        XCTAssertEqual(got, items)
    }

    private static let sessionLevel: Set<String> = ["outOfSequence", "versionMismatch", "wrongRole"]

    /// Every invalid vector is rejected with the error its `.expect` names: by the frame decoder and codec
    /// for framing/encoding/JSON/limit errors, and by a controller's ClientSession in every case.
    func testInvalidVectorsAreRejectedWithTheExpectedError() throws {
        let files = try Repo.hexFiles("invalid")
        XCTAssertGreaterThanOrEqual(files.count, 20)
        for file in files {
            let name = file.deletingPathExtension().lastPathComponent
            let expect = try String(contentsOf: file.deletingPathExtension().appendingPathExtension("expect"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let bytes = try Hex.read(file)

            // 1. Frame decoder + codec, whole and byte by byte.
            for chunks in [[bytes], bytes.map { [$0] }] {
                do {
                    _ = try Pipeline.decodeStream(chunks)
                    if !Self.sessionLevel.contains(expect) { XCTFail("\(name): accepted by the codec, expected \(expect)") }
                } catch let e as ProtocolError {
                    XCTAssertEqual(caseName(e), expect, "\(name): \(e)")
                }
            }

            // 2. A controller session reading this from an agent.
            let client = ClientSession(channel: MemoryChannel.scripted(bytes), host: "infra-core")
            do {
                try client.handshake(expecting: .agent, localHost: "laptop")
                _ = try client.probe()
                XCTFail("\(name): ClientSession accepted it")
            } catch let e as SessionError {
                XCTAssertEqual(caseName(e.error), expect, "\(name): \(e)")
                XCTAssertTrue(e.summary.hasPrefix("infra-core: "), e.summary)
            } catch {
                XCTFail("\(name): expected SessionError(\(expect)), got \(type(of: error)): \(error)")
            }
        }
    }
}
