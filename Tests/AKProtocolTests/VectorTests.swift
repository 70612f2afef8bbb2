import AKProtocol
import Crypto
import Foundation
import ProtocolSession
import Transport
import XCTest

/// The valid golden vectors, made by the real encoder. `AKPROTO_WRITE_VECTORS=1 swift test --filter VectorTests`
/// rewrites protocol/vectors/valid/, manifest/, receipt/ and signature/ from this catalogue; otherwise the files must
/// match it exactly. Signatures are made with the fixed test keys (`TestKeys`, RFC 8032's test keys); Ed25519
/// signatures are deterministic, so the vectors are byte-exact.
enum ValidCatalogue {
    typealias S = Sample

    static let messages: [(String, Message)] = [
        ("hello_agent", Message(Hello(role: .agent, host: "infra-core", capabilities: ["probe"]))),
        ("hello_receiver", Message(Hello(role: .receiver, host: "nas-01.example.org", capabilities: ["probe"]))),
        ("hello_controller", Message(Hello(role: .controller, host: "laptop", capabilities: []))),
        ("probe", Message(ProbeRequest(id: 1))),
        ("probe_result", Message(ProbeResult(id: 1, checks: [
            Check(name: "disk", ok: true, detail: "42 GiB free on /var/lib/akbackup"),
            Check(name: "zfs", ok: false, detail: "pool tank is DEGRADED", hint: "run `zpool status tank` on the host"),
            Check(name: "psql", ok: true, detail: "psql (PostgreSQL) 16.4; too old for \\restrict (the replay filter still applies)",
                  hint: "update the PostgreSQL image to a release from August 2025 or later", warning: true),
        ]))),
        // What the agent answers: its checks and the facts the controller must not hard-code.
        ("probe_result_agent", Message(ProbeResult(id: 1, checks: [
            Check(name: "agent config", ok: true, detail: "/etc/akbackup/agent.toml"),
            Check(name: "signing key", ok: true, detail: "\(TestKeys.agentPublic.fingerprint) (\(TestKeys.agentPublic.text))"),
            Check(name: "trusted keys", ok: true, detail: TestKeys.otherPublic.fingerprint),
        ], agent: AgentFacts(database: "authentik", appServices: ["authentik-server", "authentik-worker"], authentikVersion: "2025.10.1",
                             signingKey: TestKeys.agentPublic.text, trustedKeys: [TestKeys.agentPublic.text, TestKeys.otherPublic.text])))),
        // An agent without a signing key yet and without a known Authentik version.
        ("probe_result_agent_no_key", Message(ProbeResult(id: 1, checks: [
            Check(name: "signing key", ok: false, detail: "none in /var/lib/akbackup-agent: backups cannot be signed",
                  hint: "run `akbackup-agent key --init` on infra-core as the agent's login, then trust its public key on the NAS"),
        ], agent: AgentFacts(database: "authentik", appServices: ["authentik-server", "authentik-worker"], authentikVersion: nil,
                             signingKey: nil, trustedKeys: [])))),
        ("probe_result_empty", Message(ProbeResult(id: 18_446_744_073_709_551_615, checks: []))),
        ("probe_result_escapes", Message(ProbeResult(id: 2, checks: [
            Check(name: "quote\"backslash\\tab\tnewline\nnul\u{0}", ok: true, detail: "é ü 日本 🙂 / <>&'\u{7F}\u{1F}\u{2028}"),
        ]))),
        ("error", Message(ErrorMessage(id: 2, code: .notFound, message: "snapshot tank/home@2025-01-06 not found",
                                       hint: "list snapshots with `zfs list -t snapshot`"))),
        ("error_session", Message(ErrorMessage(id: nil, code: .protocolError,
                                               message: "protocol error: unknown message type \"backup.start\"",
                                               hint: "check that the remote program is akbackup's and the same version; its stderr may say more"))),
        ("error_version_mismatch", Message(ErrorMessage(id: nil, code: .versionMismatch,
                                                        message: "protocol version mismatch: agent 0.2.0 speaks 2, controller 0.1.0 speaks 1",
                                                        hint: "install the same akbackup version on the laptop and the remote host (deploy/agent/install, deploy/receiver/install)"))),
        ("error_cancelled", Message(ErrorMessage(id: 3, code: .cancelled, message: "cancelled by the controller", hint: "nothing to do"))),
        ("cancel", Message(CancelRequest(id: 3))),
        ("progress", Message(ProgressReport(id: 3, phase: "send", bytes: 1_048_576))),
        ("progress_replay", Message(ProgressReport(id: 1, phase: "replay", bytes: 2_097_152))),
        ("data", Message(DataHeader(id: 4, stream: "report"))),

        // The backup path (PROTOCOL.md §10): controller → agent.
        ("backup", Message(BackupRequest(id: 1, threads: 4))),
        ("backup_default_threads", Message(BackupRequest(id: 1))),
        ("backup_started", Message(BackupStarted(id: 1, name: S.name, startedAt: "2026-01-31T02:00:00Z", source: S.source))),
        ("backup_started_no_authentik", Message(BackupStarted(id: 1, name: S.name, startedAt: "2026-01-31T02:00:00Z", source: S.bareSource))),
        ("backup_result", Message(BackupResult(id: 1, manifest: S.manifest, compressionThreads: 4))),
        ("error_busy", Message(ErrorMessage(id: 1, code: .busy,
                                            message: "infra-core is busy: backup (pid 4242, since 2026-01-31T01:59:58Z, from laptop) holds the lock",
                                            hint: "wait for it to finish and try again; the lock is released as soon as that process ends"))),
        ("error_backup_failed", Message(ErrorMessage(id: 1, code: .failed,
                                                     message: "pg_dump failed on infra-core: the dump has no completion trailer (\"-- PostgreSQL database dump complete\")",
                                                     hint: "nothing was published; check the database with `akbackup doctor` and retry"))),
        ("error_no_signing_key", Message(ErrorMessage(id: 1, code: .failed,
                                                      message: "infra-core has no signing key in /var/lib/akbackup-agent: it cannot sign backups or receipts",
                                                      hint: "run `akbackup-agent key --init` on infra-core as the agent's login (deploy/agent/install does), then trust its public key on the NAS: akbackup-receiver trust-agent-key KEY"))),
        // Controller → receiver.
        ("upload", Message(UploadRequest(id: 1, name: S.name))),
        ("upload_ready", Message(UploadReady(id: 1, freeBytes: 1_099_511_627_776))),
        ("upload_ready_space_unknown", Message(UploadReady(id: 1, freeBytes: nil))),
        ("upload_commit", Message(UploadCommit(id: 1, manifest: S.manifest))),
        ("upload_abort", Message(UploadAbort(id: 1, reason: "infra-core: pg_dump failed on infra-core: pg_dump: error: connection to server failed (exit status 1)"))),
        ("upload_result", Message(UploadResult(id: 1, name: S.name, size: 4_182_530, sha256: S.sha256))),
        ("error_upload_aborted", Message(ErrorMessage(id: 1, code: .cancelled,
                                                      message: "upload aborted: infra-core: pg_dump failed on infra-core: pg_dump: error: connection to server failed (exit status 1)",
                                                      hint: "nothing was kept on the NAS"))),
        ("error_no_space", Message(ErrorMessage(id: 1, code: .noSpace,
                                                message: "the NAS ran out of space in /volume1/backups/apps/authentik after 3.0 MiB (0 B free)",
                                                hint: "free space on the NAS or prune old backups; nothing was kept"))),
        ("error_upload_untrusted", Message(ErrorMessage(id: 1, code: .untrusted,
            message: "refusing \(S.name): its manifest is signed by \(TestKeys.otherPublic.fingerprint), which this NAS does not trust",
            hint: "if that is infra-core's agent key (`akbackup-agent key --public` there), trust it: sudo akbackup-receiver trust-agent-key KEY; nothing was kept"))),
        ("error_upload_mismatch", Message(ErrorMessage(id: 1, code: .untrusted,
            message: "refusing \(S.name): the signed manifest describes \(S.name) (4182530 bytes, sha256 9f86d081884c…), the NAS received 4182530 bytes with sha256 2c26b46b68ff…",
            hint: "the data was damaged or altered on the way; nothing was kept; run the backup again"))),
        ("error_not_mounted", Message(ErrorMessage(id: 1, code: .ioError,
            message: "refusing to write: /volume1 is not a mounted filesystem (is the NAS volume mounted?)",
            hint: "mount the volume, or set require_mount in /etc/akbackup/receiver.toml to where the backups really live"))),
        ("list", Message(ListRequest(id: 1))),
        ("list_page", Message(ListRequest(id: 1, offset: 1000, limit: 1000))),
        // list.result as the receiver sends it: manifests without row counts, the receiver's verdict on each signature.
        ("list_result", Message(ListResult(id: 1, artifacts: [
            ArtifactInfo(name: S.name, size: 4_182_530, modifiedAt: "2026-01-31T02:00:08Z", manifest: S.listManifest, signature: .trusted),
            ArtifactInfo(name: S.otherKeyName, size: 4_180_224, modifiedAt: "2026-01-20T02:00:09Z", manifest: S.listOtherKeyManifest,
                         signature: .untrusted),
            ArtifactInfo(name: S.handMadeName, size: 3_990_112, modifiedAt: "2026-01-15T09:31:02Z", manifest: nil, signature: .unsigned),
        ], total: 3, freeBytes: 1_099_507_445_246))),
        ("list_result_empty", Message(ListResult(id: 1, artifacts: [], total: 0, freeBytes: nil))),
        ("verify", Message(VerifyRequest(id: 1, name: S.name))),
        ("verify_latest", Message(VerifyRequest(id: 1, name: "latest"))),
        ("verify_result", Message(VerifyResult(id: 1, name: S.name, ok: true, reason: nil, sha256: S.sha256, size: 4_182_530,
                                               uncompressedSize: 31_457_280, hasManifest: true, rowCounts: S.rowCounts,
                                               manifest: S.manifest, signature: .trusted))),
        ("verify_result_corrupt", Message(VerifyResult(id: 1, name: S.handMadeName, ok: false,
                                                       reason: "the dump ends inside the data of public.authentik_events_event",
                                                       sha256: S.handMadeSHA256, size: 3_990_112, uncompressedSize: 29_884_416,
                                                       hasManifest: false, rowCounts: ["public.authentik_core_user": 17], signature: .unsigned))),
        ("verify_result_altered", Message(VerifyResult(id: 1, name: S.name, ok: false, reason: "its manifest was altered after the agent signed it",
                                                       sha256: S.sha256, size: 4_182_530, uncompressedSize: 31_457_280, hasManifest: true,
                                                       rowCounts: S.rowCounts, manifest: S.tamperedManifest, signature: .invalid))),

        // The restore path (PROTOCOL.md §11): controller → receiver.
        ("fetch", Message(FetchRequest(id: 1, name: S.name))),
        ("fetch_latest", Message(FetchRequest(id: 1, name: "latest"))),
        ("fetch_started", Message(FetchStarted(id: 1, name: S.name, size: 4_182_530, manifest: S.manifest))),
        ("fetch_started_no_manifest", Message(FetchStarted(id: 1, name: S.handMadeName, size: 3_990_112, manifest: nil))),
        ("fetch_result", Message(FetchResult(id: 1, size: 4_182_530, sha256: S.sha256))),
        // Controller → agent.
        ("restore", Message(RestoreRequest(id: 1, mode: .swap, artifact: S.name, size: 4_182_530, sha256: S.sha256, manifest: S.manifest,
                                           trustUnsigned: false, force: false, healthTimeout: 120, requestedBy: S.requestedBy))),
        ("restore_test", Message(RestoreRequest(id: 1, mode: .test, artifact: S.name, size: 4_182_530, sha256: S.sha256, manifest: S.manifest,
                                                trustUnsigned: false, force: false, healthTimeout: 120, requestedBy: S.requestedBy))),
        ("restore_replace_unsigned", Message(RestoreRequest(id: 1, mode: .replace, artifact: S.handMadeName, size: 3_990_112,
                                                            sha256: S.handMadeSHA256, manifest: nil, trustUnsigned: true, force: true,
                                                            healthTimeout: 300, requestedBy: S.requestedBy))),
        ("restore_ready", Message(RestoreReady(id: 1, targetDatabase: "authentik_restore_20260201093000",
                                               runningAuthentikVersion: "2025.10.1", warnings: []))),
        ("restore_ready_warnings", Message(RestoreReady(id: 1, targetDatabase: "authentik_restoretest_20260201093000",
                                                        runningAuthentikVersion: nil,
                                                        warnings: ["could not tell the free space of the database volume"]))),
        ("restore_ready_replace", Message(RestoreReady(id: 1, targetDatabase: "authentik", runningAuthentikVersion: "2025.10.1", warnings: [
            "\(S.handMadeName) is not signed by a trusted agent key: restoring it because of --trust-unsigned; it is checked against the hash the NAS read and passes the replay filter, but its contents are not proven to be this agent's",
        ]))),
        ("restore_result_restored", Message(RestoreResult(id: 1, receipt: S.restoreReceipt))),
        ("restore_result_tested", Message(RestoreResult(id: 1, receipt: S.testReceipt))),
        ("restore_result_rolled_back", Message(RestoreResult(id: 1, receipt: S.rolledBackReceipt))),
        ("restore_result_validation_failed", Message(RestoreResult(id: 1, receipt: S.validationFailedReceipt))),
        ("restore_result_replace_unsigned", Message(RestoreResult(id: 1, receipt: S.replaceReceipt))),
        ("restore_result_undone", Message(RestoreResult(id: 1, receipt: S.undoReceipt))),
        ("error_restore_newer_authentik", Message(ErrorMessage(id: 1, code: .failed,
            message: "refusing to restore a backup of Authentik 2025.12.0 under the running 2025.10.1: Authentik cannot migrate a database backwards",
            hint: "restore a backup made by 2025.10.1 or older, upgrade the image first, or pass --force if you know better"))),
        ("error_restore_no_room", Message(ErrorMessage(id: 1, code: .noSpace,
            message: "the database volume has 12.0 MiB free; a staging copy needs about 33.0 MiB",
            hint: "free space, or use `akbackup restore --replace` (drop and recreate, after an undo copy on this host)"))),
        ("error_restore_unsigned", Message(ErrorMessage(id: 1, code: .untrusted, message: "\(S.handMadeName) has no manifest, so no agent signed it (made by hand?)",
            hint: "to restore it anyway, pass --trust-unsigned: it is then checked only against the hash the NAS read, and by the replay filter"))),
        ("error_restore_altered", Message(ErrorMessage(id: 1, code: .untrusted,
            message: "the manifest of \(S.name) was altered after it was signed: its signature does not match",
            hint: "do not restore it; check the NAS and pick another backup (`akbackup list`)"))),
        ("error_restore_mismatch", Message(ErrorMessage(id: 1, code: .untrusted,
            message: "the artifact received is not the one described: 4182530 bytes with sha256 2c26b46b68ff…, expected 4182530 bytes with 9f86d081884c…",
            hint: "it was damaged or altered on the way or on the NAS; nothing was changed (`akbackup verify` checks the NAS's copy)"))),
        ("undo", Message(UndoRequest(id: 1, healthTimeout: 120, requestedBy: S.requestedBy))),
        ("error_undo_nothing", Message(ErrorMessage(id: 1, code: .notFound, message: "there is no undo point on infra-core to go back to",
                                                    hint: "`akbackup doctor` lists akbackup's databases; restore a backup instead"))),
        ("databases", Message(DatabasesRequest(id: 1))),
        ("databases_result", Message(DatabasesResult(id: 1, databases: [
            DatabaseInfo(name: "authentik_pre_restore_20260201093000", sizeBytes: 33_497_267),
            DatabaseInfo(name: "authentik_undone_20260202100000", sizeBytes: 33_554_432),
        ]))),
        ("databases_result_empty", Message(DatabasesResult(id: 1, databases: []))),
        ("drop_database", Message(DropDatabaseRequest(id: 1, name: "authentik_pre_restore_20260201093000"))),
        ("done_dropped", Message(Done(id: 1, detail: "dropped authentik_pre_restore_20260201093000"))),
        ("error_drop_refused", Message(ErrorMessage(id: 1, code: .badRequest, message: "refusing to drop \"authentik\": not a database akbackup made",
                                                    hint: "`akbackup doctor` lists the databases akbackup made"))),
        // Controller → receiver: receipts.
        ("receipt_store", Message(ReceiptStore(id: 2, name: S.receiptFileName, receipt: S.restoreReceipt))),
        ("done_receipt_stored", Message(Done(id: 2, detail: "receipts/\(S.receiptFileName)"))),
        ("error_receipt_untrusted", Message(ErrorMessage(id: 2, code: .untrusted,
            message: "refusing receipt \(S.receiptFileName): no agent key this NAS trusts signed it",
            hint: "receipts are made and signed by akbackup-agent; check the NAS's trusted_agent_keys"))),
        ("receipts", Message(ReceiptsRequest(id: 2))),
        ("receipts_page", Message(ReceiptsRequest(id: 3, offset: 100, limit: 100))),
        ("receipts_result", Message(ReceiptsResult(id: 2, receipts: [
            StoredReceipt(name: "undo-2026-02-02T095958Z-undone-0b4e7d21.json", receipt: S.undoReceipt, signature: .trusted),
            StoredReceipt(name: S.receiptFileName, receipt: S.restoreReceipt, signature: .trusted),
            StoredReceipt(name: "restore-test-2026-01-31T092955Z-tested-9c81f0aa.json", receipt: S.testReceipt, signature: .trusted),
        ], total: 3))),
        ("receipts_result_empty", Message(ReceiptsResult(id: 2, receipts: [], total: 0))),

        // Undo points on infra-core (PROTOCOL.md §13): controller → agent, the agent's own policy.
        ("undo_prune", Message(UndoPruneRequest(id: 1, dryRun: false))),
        ("undo_prune_dry_run", Message(UndoPruneRequest(id: 1, dryRun: true))),
        ("undo_prune_result", Message(UndoPruneResult(id: 1, dryRun: false, report: S.undoReport))),
        ("undo_prune_result_dry_run", Message(UndoPruneResult(id: 1, dryRun: true, report: S.undoDryRun))),
        ("undo_prune_result_empty", Message(UndoPruneResult(id: 1, dryRun: false, report: UndoReport(
            checkedAt: "2026-02-08T10:00:00Z", policy: S.undoPolicy, databases: [], volumeBytes: nil, volumeFreeBytes: nil)))),
        ("error_undo_prune_busy", Message(ErrorMessage(id: 1, code: .busy,
                                                       message: "infra-core is busy: restore (pid 4242, since 2026-02-08T09:59:58Z, from laptop) holds the lock",
                                                       hint: "wait for it to finish and try again; the lock is released as soon as that process ends"))),
        // The same report as a dry run in the agent's facts: what doctor and status show.
        ("probe_result_agent_undo", Message(ProbeResult(id: 1, checks: [
            Check(name: "akbackup databases", ok: true,
                  detail: "akbackup's databases on infra-core hold 95.9 MiB, 62% of the database volume (154.0 MiB; warning above 50%, undo_warn_percent)",
                  hint: UndoReport.warningHint, warning: true),
        ], agent: AgentFacts(database: "authentik", appServices: ["authentik-server", "authentik-worker"], authentikVersion: "2025.10.1",
                             signingKey: TestKeys.agentPublic.text, trustedKeys: [TestKeys.agentPublic.text], undo: S.undoDryRun)))),
    ] + RetentionVectors.messages

    /// Values shared by the vectors.
    enum Sample {
        static let undoPolicy = UndoPolicy(keepNewest: 1, maxAgeDays: 7, failedMaxAgeDays: 1, warnPercent: 50)
        /// A week of restores and drills at 2026-02-08T10:00:00Z, the default policy, every kind of decision.
        static let undoDryRun = UndoReport(checkedAt: "2026-02-08T10:00:00Z", policy: undoPolicy, databases: [
            UndoDatabase(name: "authentik_failed_20260205093000", kind: .failed, stamp: "2026-02-05T09:30:00Z", sizeBytes: 33_554_432,
                         action: .drop, reason: "older than 1 day (failed_max_age_days)"),
            UndoDatabase(name: "authentik_pre_restore_20260131093000", kind: .preRestore, stamp: "2026-01-31T09:30:00Z", sizeBytes: 33_497_267,
                         action: .drop, reason: "older than 7 days (undo_max_age_days)"),
            UndoDatabase(name: "authentik_pre_restore_20260207093000", kind: .preRestore, stamp: "2026-02-07T09:30:00Z", sizeBytes: 33_521_664,
                         action: .keep, reason: "the newest undo point: `akbackup restore --undo` puts it back"),
            UndoDatabase(name: "authentik_undone_20261399000000", kind: .undone, stamp: nil, sizeBytes: 8192,
                         action: .keep, reason: "its name's stamp is not a UTC time akbackup writes: never dropped automatically; check it by hand"),
        ], volumeBytes: 161_480_704, volumeFreeBytes: 52_428_800)
        /// The same, applied: one drop done, one refused by PostgreSQL.
        static let undoReport: UndoReport = {
            var r = undoDryRun
            r.databases[0].dropped = true
            r.databases[1].dropped = false
            r.databases[1].error = "PostgreSQL in authentik-postgres refused `DROP DATABASE IF EXISTS \"authentik_pre_restore_20260131093000\" WITH (FORCE)`: permission denied"
            r.volumeFreeBytes = 85_983_232
            return r
        }()

        static let name = "authentik-db-2026-01-31T020000Z.sql.gz"
        static let sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        /// A dump made by hand with the runbook: no manifest, no signature.
        static let handMadeName = "authentik-db-2026-01-15T093000Z.sql.gz"
        static let handMadeSHA256 = "5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9"
        /// A backup signed by a key the verifier does not trust (the agent's key before a rebuild).
        static let otherKeyName = "authentik-db-2026-01-20T020000Z.sql.gz"
        static let requestedBy = RequestedBy(user: "alice", host: "laptop")
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
        /// The SHA-256 of nothing: the digest of a kind with no objects.
        static let emptyDigest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        /// One digest per kind, as an agent whose login may not read pg_largeobject computes them.
        static let schemaDigests: [String: String] = {
            var d: [String: String] = [:]
            for kind in ["schemas", "tables", "constraints", "indexes", "views", "functions", "triggers", "sequences", "types"] {
                d[kind] = SHA256.hash(data: Data("sample \(kind)".utf8)).map { String(format: "%02x", $0) }.joined()
            }
            for kind in ["rules", "policies", "extensions", "largeObjectsNoSize"] { d[kind] = emptyDigest }
            return d
        }()
        static let unsignedManifest = Manifest(name: name, sha256: sha256, size: 4_182_530, uncompressedSize: 31_457_280,
                                               startedAt: "2026-01-31T02:00:00Z", finishedAt: "2026-01-31T02:00:07Z", source: source,
                                               rowCounts: rowCounts, schemaDigests: schemaDigests,
                                               compression: "gzip -6, 4 thread(s), independent members", software: "0.2.0")
        /// The manifest the agent signs at the end of the backup (backup.result), carried in upload.commit,
        /// verify.result, fetch.started and restore.
        static let manifest = TestKeys.signed(unsignedManifest)
        /// The same manifest with one fact changed after signing (a forged "older Authentik" to pass the version guard).
        static var tamperedManifest: Manifest {
            var m = manifest
            m.source.authentikVersion = "2025.8.3"
            return m
        }
        static let otherKeyManifest: Manifest = {
            var m = unsignedManifest
            m.name = otherKeyName
            m.size = 4_180_224
            m.sha256 = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
            m.startedAt = "2026-01-20T02:00:00Z"
            m.finishedAt = "2026-01-20T02:00:08Z"
            return TestKeys.signed(m, with: TestKeys.other)
        }()

        /// NAME.json as the receiver writes it (ReceiverCore/Upload.swift, publish): pretty-printed, sorted keys, `/` unescaped.
        static func file(_ value: some Encodable) -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try! encoder.encode(value), as: UTF8.self)
        }
        static var manifestFile: String { file(manifest) }
        static let manifestFileName = "authentik-db-2026-01-31T020000Z.json"
        /// receipts/NAME as the receiver writes it (ReceiverCore/Serve.swift, storeReceipt): the same encoder settings.
        static var receiptFile: String { file(restoreReceipt) }
        static let receiptFileName = "restore-2026-02-01T092955Z-restored-3f2a9c1e.json"

        /// A manifest as list.result carries it: rowCounts left empty (ReceiverCore/BackupStore.swift, list), the
        /// signature kept (it no longer covers the summary: the entry's `signature` is the receiver's verdict).
        static func summary(_ m: Manifest) -> Manifest {
            var s = m
            s.rowCounts = [:]
            return s
        }
        static var listManifest: Manifest { summary(manifest) }
        static var listOtherKeyManifest: Manifest { summary(otherKeyManifest) }

        static let stamp = "20260201093000"
        static let staging = "authentik_restore_\(stamp)"
        static let validation = ValidationReport(ok: true, rowCounts: [
            "public.\"Quoted Table\"": 0, "public.authentik_core_application": 9, "public.authentik_core_group": 4,
            "public.authentik_core_user": 17, "public.authentik_core_user_ak_groups": 21, "public.authentik_events_event": 48_211,
            "public.authentik_flows_flow": 25, "public.django_migrations": 812,
        ], problems: [], schemaChecked: schemaDigests.keys.sorted())

        static func step(_ name: String, _ at: String, _ seconds: Double, ok: Bool = true, _ detail: String? = nil,
                         day: String = "2026-02-01") -> RestoreStep {
            RestoreStep(name: name, startedAt: "\(day)T\(at)Z", seconds: seconds, ok: ok, detail: detail)
        }
        /// A swap restore up to its swap window (Sources/AgentCore/Restore.swift).
        static let stagingSteps = [
            step("drop leftover staging databases", "09:29:58", 0.125),
            step("receive and check \(name)", "09:30:00", 3.5),
            step("create \(staging)", "09:30:04", 0.25),
            step("replay \(name) into \(staging)", "09:30:04", 41.5),
            step("validate \(staging)", "09:30:46", 0.75),
            step("analyze \(staging)", "09:30:47", 2),
            step("stop services", "09:30:49", 1.5),
            step("rename authentik to authentik_pre_restore_\(stamp)", "09:30:50", 0.0625),
            step("rename \(staging) to authentik", "09:30:50", 0.0625),
            step("start services", "09:30:50", 1.25),
        ]
        static func receipt(_ operation: String, artifact: String? = name, sha256: String? = sha256, signed: Bool? = true,
                            started: String, finished: String, steps: [RestoreStep], validation: ValidationReport?,
                            downtime: Double?, outcome: RestoreOutcome, message: String, undoPoint: String?) -> Receipt {
            TestKeys.signed(Receipt(operation: operation, artifact: artifact, sha256: sha256, artifactSigned: signed, operatorName: "alice",
                                    controllerHost: "laptop", agentHost: "infra-core", startedAt: started, finishedAt: finished,
                                    steps: steps, validation: validation, downtimeSeconds: downtime, outcome: outcome,
                                    message: message, undoPoint: undoPoint, software: "0.2.0"))
        }
        static let restoreReceipt = receipt("restore", started: "2026-02-01T09:29:55Z", finished: "2026-02-01T09:30:57Z",
            steps: stagingSteps + [step("wait for health", "09:30:52", 4.8125, "ready endpoint answered 200")],
            validation: validation, downtime: 7.75, outcome: .restored,
            message: "authentik restored; the previous database is kept as authentik_pre_restore_\(stamp) (akbackup restore --undo)",
            undoPoint: "authentik_pre_restore_\(stamp)")
        static let testReceipt = receipt("restore-test", started: "2026-01-31T09:29:55Z", finished: "2026-01-31T09:30:48Z", steps: [
            step("drop leftover staging databases", "09:29:58", 0.125, day: "2026-01-31"),
            step("receive and check \(name)", "09:30:00", 3.5, day: "2026-01-31"),
            step("create authentik_restoretest_20260131093000", "09:30:04", 0.25, day: "2026-01-31"),
            step("replay \(name) into authentik_restoretest_20260131093000", "09:30:04", 41.5, day: "2026-01-31"),
            step("validate authentik_restoretest_20260131093000", "09:30:46", 0.75, day: "2026-01-31"),
            step("drop authentik_restoretest_20260131093000", "09:30:47", 0.5, day: "2026-01-31"),
        ], validation: validation, downtime: nil, outcome: .tested,
           message: "restore test passed: 8 tables and 13 kinds of schema objects match the manifest; scratch database dropped", undoPoint: nil)
        static let rolledBackReceipt = receipt("restore", started: "2026-02-01T09:29:55Z", finished: "2026-02-01T09:33:00Z",
            steps: stagingSteps + [
                step("wait for health", "09:30:52", 120, ok: false, "not healthy after 120 s: ready endpoint answered 503"),
                step("stop services (rollback)", "09:32:52", 1.5),
                step("rename authentik to authentik_failed_\(stamp)", "09:32:53", 0.0625),
                step("rename authentik_pre_restore_\(stamp) back to authentik", "09:32:53", 0.0625),
                step("start services (rollback)", "09:32:53", 1.25),
                step("wait for health (rollback)", "09:32:55", 3.5, "ready endpoint answered 200"),
            ], validation: validation, downtime: 128.5, outcome: .rolledBack,
            message: "the restored database never became healthy (not healthy after 120 s: ready endpoint answered 503); rolled back: the previous database is live again, the restored one is kept as authentik_failed_\(stamp)",
            undoPoint: nil)
        static let validationFailedReceipt = receipt("restore", started: "2026-02-01T09:29:55Z", finished: "2026-02-01T09:30:48Z", steps: [
            step("drop leftover staging databases", "09:29:58", 0.125),
            step("receive and check \(name)", "09:30:00", 3.5),
            step("create \(staging)", "09:30:04", 0.25),
            step("replay \(name) into \(staging)", "09:30:04", 41.5),
            step("validate \(staging)", "09:30:46", 0.75),
            step("drop \(staging)", "09:30:47", 0.5),
        ], validation: ValidationReport(ok: false, rowCounts: ["public.authentik_core_user": 0, "public.authentik_events_event": 48_211],
                                        problems: ["key table public.authentik_core_user is empty",
                                                   "public.authentik_core_user has 0 rows, the manifest says 17"],
                                        schemaChecked: schemaDigests.keys.sorted()),
           downtime: nil, outcome: .failed,
           message: "validation failed: key table public.authentik_core_user is empty; public.authentik_core_user has 0 rows, the manifest says 17; the live database and the services were not touched",
           undoPoint: nil)
        /// `--replace --trust-unsigned` of a dump made by hand: the agent's undo copy is the undo point.
        static let replaceReceipt = receipt("restore", artifact: handMadeName, sha256: handMadeSHA256, signed: false,
                                            started: "2026-02-01T09:29:55Z", finished: "2026-02-01T09:31:41Z", steps: [
            step("drop leftover staging databases", "09:29:58", 0.125),
            step("receive and check \(handMadeName)", "09:30:00", 3.25),
            step("undo copy of authentik", "09:30:03", 6.5),
            step("stop services", "09:30:10", 1.5),
            step("drop and recreate authentik", "09:30:11", 0.5),
            step("replay \(handMadeName) into authentik", "09:30:12", 40.25),
            step("validate authentik", "09:30:52", 0.5),
            step("analyze authentik", "09:30:53", 2),
            step("start services", "09:30:55", 1.25),
            step("wait for health", "09:30:56", 44.75, "ready endpoint answered 200"),
        ], validation: ValidationReport(ok: true, rowCounts: [
            "public.authentik_core_application": 9, "public.authentik_core_group": 4, "public.authentik_core_user": 17,
            "public.authentik_core_user_ak_groups": 21, "public.authentik_flows_flow": 25,
        ], problems: []), downtime: 91.5, outcome: .restored,
           message: "restored \(handMadeName) by drop-and-recreate; the previous database is kept as /var/lib/akbackup-agent/undo/authentik-undo-\(stamp).sql.gz (akbackup restore --undo)",
           undoPoint: "/var/lib/akbackup-agent/undo/authentik-undo-\(stamp).sql.gz")
        static let undoReceipt = receipt("undo", artifact: nil, sha256: nil, signed: nil,
                                         started: "2026-02-02T09:59:58Z", finished: "2026-02-02T10:00:09Z", steps: [
            RestoreStep(name: "stop services", startedAt: "2026-02-02T10:00:00Z", seconds: 1.5, ok: true),
            RestoreStep(name: "rename authentik to authentik_undone_20260202100000", startedAt: "2026-02-02T10:00:01Z", seconds: 0.0625, ok: true),
            RestoreStep(name: "rename authentik_pre_restore_\(stamp) to authentik", startedAt: "2026-02-02T10:00:01Z", seconds: 0.0625, ok: true),
            RestoreStep(name: "start services", startedAt: "2026-02-02T10:00:01Z", seconds: 1.25, ok: true),
            RestoreStep(name: "wait for health", startedAt: "2026-02-02T10:00:03Z", seconds: 4.5, ok: true, detail: "ready endpoint answered 200"),
        ], validation: nil, downtime: 7.375, outcome: .undone,
           message: "authentik_pre_restore_\(stamp) is live again; the replaced database is kept as authentik_undone_20260202100000",
           undoPoint: "authentik_undone_20260202100000")
    }

    /// A data stream: header, two raw frames, the empty end frame.
    static let dataStream: [UInt8] = {
        var out = MessageCodec.frame(Message(DataHeader(id: 4, stream: "report")))
        out += Frame.encode([0x00, 0xFF, 0x7B, 0x22])    // raw bytes, not JSON
        out += Frame.encode(Array("plain text chunk\n".utf8))
        out += Frame.encode([])
        return out
    }()

    /// The same data stream with heartbeats between its frames (§1.4).
    static var dataStreamWithHeartbeats: [UInt8] { try! Pipeline.withHeartbeats(dataStream) }
}

/// The files of protocol/vectors/signature/ (PROTOCOL.md §12), besides its README.md.
enum SignatureVectors {
    typealias S = ValidCatalogue.Sample

    struct KeyFile: Codable, Equatable {
        struct Key: Codable, Equatable {
            var seed: String
            var publicHex: String
            var `public`: String
            var fingerprint: String
        }
        var agent: Key
        var other: Key
    }

    static func key(_ seedHex: String, _ k: AgentPublicKey) -> KeyFile.Key {
        KeyFile.Key(seed: seedHex, publicHex: Hex.encode(k.raw), public: k.text, fingerprint: k.fingerprint)
    }

    static var keys: KeyFile {
        KeyFile(agent: key(TestKeys.agentSeedHex, TestKeys.agentPublic), other: key(TestKeys.otherSeedHex, TestKeys.otherPublic))
    }

    static var unsignedManifest: Manifest {
        var m = S.manifest
        m.signature = nil
        return m
    }
    static var malformedManifest: Manifest {
        var m = S.manifest
        m.signature?.value = "bm90IGEgc2lnbmF0dXJl"   // base64 of "not a signature": not 64 bytes
        return m
    }
    static var otherKeyManifest: Manifest { TestKeys.signed(S.unsignedManifest, with: TestKeys.other) }

    /// What each document's signature is, for a verifier that trusts the agent key only.
    static var expectations: [String: SignatureStatus] {
        ["manifest-signed.json": .trusted, "manifest-tampered.json": .invalid, "manifest-other-key.json": .untrusted,
         "manifest-unsigned.json": .unsigned, "manifest-malformed-signature.json": .invalid, "receipt-signed.json": .trusted]
    }

    /// Hex of `bytes`, 32 bytes a line, after a comment line.
    static func hexFile(_ bytes: [UInt8], comment: String) -> String {
        var out = "# \(comment)\n"
        var i = 0
        while i < bytes.count {
            out += Hex.encode(Array(bytes[i..<min(i + 32, bytes.count)])) + "\n"
            i += 32
        }
        return out
    }

    /// File name → content.
    static var files: [String: String] {
        [
            "keys.json": S.file(keys) + "\n",
            "manifest-signed.json": S.file(S.manifest) + "\n",
            "manifest-signed-bytes.hex": hexFile(S.manifest.signedBytes(),
                                                 comment: "\"akbackup-manifest-2\\n\" + canonical JSON of manifest-signed.json without \"signature\" (PROTOCOL.md §12.3)"),
            "manifest-tampered.json": S.file(S.tamperedManifest) + "\n",
            "manifest-other-key.json": S.file(otherKeyManifest) + "\n",
            "manifest-unsigned.json": S.file(unsignedManifest) + "\n",
            "manifest-malformed-signature.json": S.file(malformedManifest) + "\n",
            "receipt-signed.json": S.file(S.restoreReceipt) + "\n",
            "receipt-signed-bytes.hex": hexFile(S.restoreReceipt.signedBytes(),
                                                comment: "\"akbackup-receipt-2\\n\" + canonical JSON of receipt-signed.json without \"signature\" (PROTOCOL.md §12.3)"),
            "expect.json": S.file(expectations.mapValues(\.rawValue)) + "\n",
        ]
    }
}

final class VectorTests: XCTestCase {
    private var writing: Bool { ProcessInfo.processInfo.environment["AKPROTO_WRITE_VECTORS"] == "1" }

    /// Every file under protocol/vectors/ that the encoder makes: relative path → content.
    static var generatedFiles: [String: String] {
        var files: [String: String] = [:]
        for (name, message) in ValidCatalogue.messages {
            files["valid/\(name).hex"] = Hex.encode(MessageCodec.frame(message)) + "\n"
        }
        files["valid/bulk_data_stream.hex"] = Hex.encode(ValidCatalogue.dataStream) + "\n"
        files["valid/bulk_data_stream_heartbeats.hex"] = Hex.encode(ValidCatalogue.dataStreamWithHeartbeats) + "\n"
        files["manifest/\(ValidCatalogue.Sample.manifestFileName)"] = ValidCatalogue.Sample.manifestFile + "\n"
        files["receipt/\(ValidCatalogue.Sample.receiptFileName)"] = ValidCatalogue.Sample.receiptFile + "\n"
        for (name, text) in SignatureVectors.files { files["signature/\(name)"] = text }
        return files
    }

    func testVectorFilesAreTheEncodersOutput() throws {
        let expected = Self.generatedFiles
        if writing {
            for dir in ["valid", "manifest", "receipt", "signature"] {
                let url = Repo.vectors.appendingPathComponent(dir)
                try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
                // Files the catalogue no longer makes go away.
                for old in try FileManager.default.contentsOfDirectory(atPath: url.path)
                where old != "README.md" && expected["\(dir)/\(old)"] == nil {
                    try FileManager.default.removeItem(at: url.appendingPathComponent(old))
                }
            }
            for (path, text) in expected {
                try text.write(to: Repo.vectors.appendingPathComponent(path), atomically: true, encoding: .utf8)
            }
        }
        for dir in ["valid", "manifest", "receipt", "signature"] {
            let onDisk = try FileManager.default.contentsOfDirectory(atPath: Repo.vectors.appendingPathComponent(dir).path)
                .filter { $0 != "README.md" }.map { "\(dir)/\($0)" }
            XCTAssertEqual(Set(onDisk), Set(expected.keys.filter { $0.hasPrefix(dir + "/") }),
                           "protocol/vectors/\(dir)/ and the catalogue differ; regenerate with AKPROTO_WRITE_VECTORS=1")
        }
        for (path, text) in expected.sorted(by: { $0.key < $1.key }) {
            let disk = try? String(contentsOf: Repo.vectors.appendingPathComponent(path), encoding: .utf8)
            XCTAssertEqual(disk, text, "protocol/vectors/\(path) is not what the encoder produces")
        }
    }

    func testCatalogueNamesAreUnique() {
        let names = ValidCatalogue.messages.map(\.0)
        XCTAssertEqual(Set(names).count, names.count)
    }

    /// Every valid single-frame vector decodes and re-encodes byte for byte.
    func testValidVectorsRoundTripByteForByte() throws {
        let catalogue = Dictionary(uniqueKeysWithValues: ValidCatalogue.messages.map { ($0.0, $0.1) })
        let files = try Repo.hexFiles("valid").filter { !$0.lastPathComponent.hasPrefix("bulk_") }
        XCTAssertGreaterThanOrEqual(files.count, MessageCatalog.knownTypes.count)
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
            XCTAssertEqual(try MessageCodec.checkedFrame(message), bytes, "\(file.lastPathComponent): a valid vector must pass the sender's checks")
            let name = file.deletingPathExtension().lastPathComponent
            XCTAssertEqual(catalogue[name], message, "\(name) decodes to something else than the catalogue says")
        }
        XCTAssertEqual(typesSeen, Set(MessageCatalog.knownTypes), "every message type has a valid vector")
    }

    /// The documents the vectors carry are signed as the catalogue says: the agent's manifests and receipts verify.
    func testSignaturesInsideTheValidVectors() throws {
        let trusted = [TestKeys.agentPublic]
        for (name, message) in ValidCatalogue.messages {
            var manifests: [Manifest] = []
            var receipts: [Receipt] = []
            switch message.body {
            case let m as BackupResult: manifests.append(m.manifest)
            case let m as UploadCommit: manifests.append(m.manifest)
            case let m as FetchStarted: manifests += m.manifest.map { [$0] } ?? []
            case let m as RestoreRequest: manifests += m.manifest.map { [$0] } ?? []
            case let m as VerifyResult:
                if let manifest = m.manifest { XCTAssertEqual(manifest.signatureStatus(trusting: trusted), m.signature, name) }
            case let m as ListResult:
                for a in m.artifacts where a.manifest != nil {
                    // The summary's row counts were emptied: its signature no longer covers it; the verdict is the receiver's.
                    XCTAssertEqual(a.manifest?.signatureStatus(trusting: trusted), .invalid, name)
                    XCTAssertNotEqual(a.signature, .unsigned, name)
                }
            case let m as RestoreResult: receipts.append(m.receipt)
            case let m as ReceiptStore: receipts.append(m.receipt)
            case let m as ReceiptsResult:
                for r in m.receipts { XCTAssertEqual(r.receipt.signatureStatus(trusting: trusted), r.signature, name) }
            default: break
            }
            for m in manifests { XCTAssertEqual(m.signatureStatus(trusting: trusted), .trusted, name) }
            for r in receipts { XCTAssertEqual(r.signatureStatus(trusting: trusted), .trusted, name) }
        }
    }

    func testBulkStreamVectors() throws {
        let bytes = try Hex.read(Repo.vectors.appendingPathComponent("valid/bulk_data_stream.hex"))
        let items = try Pipeline.decodeStream([bytes])
        XCTAssertEqual(items, [
            .message(Message(DataHeader(id: 4, stream: "report"))),
            .chunk([0x00, 0xFF, 0x7B, 0x22]),
            .chunk(Array("plain text chunk\n".utf8)),
            .endOfData(id: 4),
        ])
        // The same through a FramedChannel, one byte per read.
        let framed = FramedChannel(MemoryChannel.scripted(bytes, readLimit: 1))
        var got: [Incoming] = []
        while let item = try framed.receive() { got.append(item) }
        XCTAssertEqual(got, items)

        // With heartbeats between every two frames: the same items, whole or byte by byte.
        let beating = try Hex.read(Repo.vectors.appendingPathComponent("valid/bulk_data_stream_heartbeats.hex"))
        XCTAssertEqual(frameCensus(beating).heartbeats, 3)
        XCTAssertEqual(try Pipeline.decodeStream([beating]), items)
        XCTAssertEqual(try Pipeline.decodeStream(beating.map { [$0] }), items)
        let framedBeating = FramedChannel(MemoryChannel.scripted(beating, readLimit: 1))
        got = []
        while let item = try framedBeating.receive() { got.append(item) }
        XCTAssertEqual(got, items)
    }

    private static let sessionLevel: Set<String> = ["outOfSequence", "versionMismatch", "wrongRole"]

    /// Every invalid vector is rejected with the error its `.expect` names: by the frame decoder and codec
    /// for framing/encoding/JSON/limit/range errors, and by a controller's ClientSession in every case.
    func testInvalidVectorsAreRejectedWithTheExpectedError() throws {
        let files = try Repo.hexFiles("invalid")
        XCTAssertGreaterThanOrEqual(files.count, 100)
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

    /// The range-check vectors fail for the field their name says, with the decoder's exact words.
    func testRangeVectorsNameTheirField() throws {
        let files = try Repo.hexFiles("invalid").filter { $0.lastPathComponent.hasPrefix("range_") }
        XCTAssertGreaterThanOrEqual(files.count, 20)
        for file in files {
            do {
                _ = try Pipeline.decodeStream([try Hex.read(file)])
                XCTFail("\(file.lastPathComponent) accepted")
            } catch let ProtocolError.invalidJSON(why) {
                XCTAssertTrue(why.contains(": invalid value at \""), "\(file.lastPathComponent): \(why)")
            }
        }
    }
}
