import AKBase
import AKProtocol
import Archive
import Compression
import Crypto
import DumpFormat
import Foundation
import ProtocolSession
import Transport

/// The agent's half of `akbackup backup`: pg_dump inside the Postgres container, in a snapshot whose
/// facts (row counts, schema digests, versions) go into the manifest, compressed and hashed in-process
/// while streaming to the controller, and a manifest the agent signs. No temporary file anywhere.
struct BackupJob {
    let context: AgentContext
    let controller: String

    func run(_ request: BackupRequest, session: ServerSession) throws {
        let id = request.id
        let lock = try OperationLock.acquire(stateDir: context.config.stateDir, host: context.hostName, operation: "backup", controller: controller)
        defer { lock.release() }
        let key = try context.requireSigningKey()
        let db = try context.database()
        // pg_dump and the manifest's facts see one instant: an exported snapshot.
        let snapshot = try db.openSnapshot(on: db.liveDatabase)
        defer { snapshot.close() }
        // pg_dump starts (docker exec, connect, read the catalog) while the facts are asked for: its
        // output waits in the pipe until the stream opens. If the facts fail, it is stopped.
        let dump = try db.startDump(of: db.liveDatabase, snapshot: snapshot.snapshotID)
        // A controller that goes away (end of input, silence past the peer timeout) stops pg_dump,
        // even while pg_dump itself is slow to produce anything.
        session.onPeerGone { dump.stop() }
        let facts: SourceFacts
        let digests: [String: String]
        let mounts: [FileMount]
        do {
            facts = try sourceFacts(snapshot: snapshot, db: db)
            digests = try SchemaDigest.compute(run: snapshot.query)
            // Found before anything is sent: a stack whose mounts cannot be told fails here, cleanly.
            mounts = request.files == true ? try context.files.mounts() : []
        } catch {
            dump.stop()
            _ = dump.wait()
            throw error
        }
        let (name, startedAt) = BackupNaming.next(stateDir: context.config.stateDir, clock: context.clock)
        try session.send(BackupStarted(id: id, name: name, startedAt: Timestamp.string(startedAt), source: facts))

        // Each thread may hold two 1 MiB blocks: the bound keeps memory flat. By default one core is
        // left to pg_dump, its PostgreSQL backend and docker's stream relay, which feed the compressors:
        // on a busy 2-core host a second compression thread only competes with them (measured slower).
        let threads = min(16, max(1, request.threads ?? ProcessInfo.processInfo.activeProcessorCount - 1))
        var hasher = SHA256()
        var size: Int64 = 0
        var inspector = DumpInspector()
        try session.send(DataHeader(id: id, stream: "dump"))
        let gzip = ParallelGzip(threads: threads) { member in
            hasher.update(data: member)
            size += Int64(member.count)
            try session.framed.sendChunk(member)
        }
        do {
            try dump.readAll { chunk in
                inspector.push(chunk)
                try gzip.write(chunk)
            }
            try gzip.finish()
        } catch {
            // The controller or the link went away: stop pg_dump and give up; nothing was published.
            dump.stop()
            throw error
        }
        if session.peerGone {
            _ = dump.wait()
            throw TransportError(.io, host: "controller", "the controller went away during the backup", hint: "nothing was published")
        }
        try session.framed.endData()
        let outcome = dump.wait()
        let complete = inspector.finish()
        if let failure = outcome.failure ?? (complete ? nil : inspector.incompleteReason) {
            throw ErrorMessage(id: id, code: .failed, message: "pg_dump failed on \(context.hostName): \(failure)",
                               hint: "nothing was published; check the database with `akbackup doctor` and retry")
        }
        // Authentik's files (§15), the set's second member, while the app keeps running (like the dump).
        var files: FilesMember?
        if !mounts.isEmpty {
            try session.send(DataHeader(id: id, stream: "files"))
            do {
                let appFiles = context.files
                let written = try FilesArchive.stream(mounts, threads: threads,
                                                      readThrough: { mount, relative, sink in try appFiles.readThrough(mount, relative: relative, sink: sink) },
                                                      to: { try session.framed.sendChunk($0) })
                try session.framed.endData()
                files = written.member(for: name)
            } catch let e as TarError {
                // The stream is cut short: the receiver keeps nothing of a set with a partial member.
                throw ErrorMessage(id: id, code: .failed, message: "cannot back up Authentik's files on \(context.hostName): \(e)",
                                   hint: "nothing was published; make them readable for \(NSUserName()) (or through the container), or leave their directory out with files_exclude in \(AgentConfig.defaultPath)")
            }
        }
        var manifest = Manifest(name: name, sha256: Hex.encode(hasher.finalize()), size: size, uncompressedSize: inspector.bytes,
                                startedAt: Timestamp.string(startedAt), finishedAt: Timestamp.string(context.clock()),
                                source: facts, rowCounts: inspector.rowCounts, schemaDigests: digests,
                                compression: "gzip -6, \(threads) thread(s), independent members", files: files,
                                // Only for a controller that asked for §15 (its NAS knows these fields): a NAS from
                                // before §15 would drop them when decoding, and the signature would no longer match.
                                secretKeyFingerprint: request.files == true ? EnvFile.secretKeyFingerprint(config: context.config) : nil)
        try manifest.sign(with: key.privateKey)
        try session.send(BackupResult(id: id, manifest: manifest, compressionThreads: threads))
    }

    func sourceFacts(snapshot: SnapshotSession, db: DatabaseServer) throws -> SourceFacts {
        // query_to_xml defers the table lookups, so a database without Authentik's tables still answers.
        let sql = """
        SELECT current_setting('server_version') || '|' ||
          coalesce(CASE WHEN to_regclass('authentik_version_history') IS NULL THEN NULL ELSE
            (xpath('/row/v/text()', query_to_xml('SELECT version AS v FROM authentik_version_history ORDER BY "timestamp" DESC LIMIT 1', false, true, '')))[1]::text END, '') || '|' ||
          coalesce(CASE WHEN to_regclass('django_migrations') IS NULL THEN NULL ELSE
            (xpath('/row/v/text()', query_to_xml('SELECT app || ''.'' || name AS v FROM django_migrations ORDER BY applied DESC, id DESC LIMIT 1', false, true, '')))[1]::text END, '');
        """
        let row = try snapshot.query(sql).last ?? ""
        let fields = row.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        return SourceFacts(host: context.hostName, database: db.liveDatabase, postgresVersion: fields.first ?? "",
                           pgDumpVersion: db.toolVersion("pg_dump") ?? "unknown",
                           authentikVersion: fields.count > 1 && !fields[1].isEmpty ? fields[1] : nil,
                           latestMigration: fields.count > 2 && !fields[2].isEmpty ? fields[2] : nil)
    }
}
