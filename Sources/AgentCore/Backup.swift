import AKProtocol
import Compression
import Crypto
import DumpFormat
import Foundation
import ProcessRunner
import ProtocolSession
#if canImport(Glibc)
import Glibc
#endif

/// The agent's half of `akbackup backup`: pg_dump inside the Postgres container, compressed and
/// hashed in-process while streaming to the controller. No temporary file anywhere.
struct BackupJob {
    let host: AgentHost
    let hostName: String
    let controller: String

    func run(_ request: BackupRequest, session: ServerSession) throws {
        let id = request.id
        let lock = try OperationLock.acquire(stateDir: host.config.stateDir, host: hostName, operation: "backup", controller: controller)
        defer { lock.release() }
        let password = try host.secret()
        // pg_dump starts (docker exec, connect, lock, read the catalog) while the facts are asked
        // for: its output waits in the pipe until the stream opens. If the facts fail, it is stopped.
        let dump = try startPgDump(password: password)
        let facts: SourceFacts
        do {
            facts = try sourceFacts(password: password)
        } catch {
            dump.kill()
            _ = dump.wait()
            throw error
        }
        let (name, startedAt) = BackupNaming.next(stateDir: host.config.stateDir)
        try session.send(.backupStarted(BackupStarted(id: id, name: name, startedAt: Timestamp.string(startedAt), source: facts)))

        // Each thread may hold two 1 MiB blocks: the bound keeps memory flat. By default one core is
        // left to pg_dump, its PostgreSQL backend and docker's stream relay, which feed the compressors:
        // on a busy 2-core host a second compression thread only competes with them (measured slower).
        let threads = min(16, max(1, request.threads ?? ProcessInfo.processInfo.activeProcessorCount - 1))
        var hasher = SHA256()
        var size: Int64 = 0
        var inspector = DumpInspector()
        try session.send(.data(DataHeader(id: id, stream: "dump")))
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
            dump.kill()
            throw error
        }
        try session.framed.endData()
        let outcome = dump.wait()
        let complete = inspector.finish()
        if let failure = outcome.failure ?? (complete ? nil : inspector.incompleteReason) {
            throw ErrorMessage(id: id, code: .failed, message: "pg_dump failed on \(hostName): \(failure)",
                               hint: "nothing was published; check the database with `akbackup doctor` and retry")
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        try session.send(.backupResult(BackupResult(id: id, size: size, sha256: digest, uncompressedSize: inspector.bytes,
                                                    rowCounts: inspector.rowCounts, finishedAt: Timestamp.now(),
                                                    compressionThreads: threads)))
    }

    func sourceFacts(password: String) throws -> SourceFacts {
        // query_to_xml defers the table lookups, so a database without Authentik's tables still answers.
        let sql = """
        SELECT current_setting('server_version') || '|' ||
          coalesce(CASE WHEN to_regclass('authentik_version_history') IS NULL THEN NULL ELSE
            (xpath('/row/v/text()', query_to_xml('SELECT version AS v FROM authentik_version_history ORDER BY "timestamp" DESC LIMIT 1', false, true, '')))[1]::text END, '') || '|' ||
          coalesce(CASE WHEN to_regclass('django_migrations') IS NULL THEN NULL ELSE
            (xpath('/row/v/text()', query_to_xml('SELECT app || ''.'' || name AS v FROM django_migrations ORDER BY applied DESC, id DESC LIMIT 1', false, true, '')))[1]::text END, '')
        """
        // The two docker execs run side by side.
        let version = ResultBox<ProcessResult>()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { [host] in
            version.result = Result { try host.docker(["exec", host.config.postgresContainer, "pg_dump", "--version"]) }
        }
        let r = try host.psql(sql, password: password)
        group.wait()
        guard r.status == 0 else {
            throw ErrorMessage(id: nil, code: .failed, message: "cannot query the database on \(hostName): \(r.stderrLastLine)",
                               hint: "check that \(host.config.postgresContainer) is running and database \(host.config.database) exists (`akbackup doctor`)")
        }
        let fields = r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        let pgDumpVersion = try version.result!.get().stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        return SourceFacts(host: hostName, database: host.config.database, postgresVersion: fields.first ?? "",
                           pgDumpVersion: pgDumpVersion,
                           authentikVersion: fields.count > 1 && !fields[1].isEmpty ? fields[1] : nil,
                           latestMigration: fields.count > 2 && !fields[2].isEmpty ? fields[2] : nil)
    }

    func startPgDump(password: String) throws -> StreamingProcess {
        let c = host.config
        return try StreamingProcess.start([c.docker, "exec", "-i", "-e", "PGPASSWORD", c.postgresContainer,
                                           "pg_dump", "-U", c.dbUser, c.database],
                                          extraEnvironment: ["PGPASSWORD": password])
    }
}

/// A result handed from a worker to the thread that waits for it (DispatchGroup.wait orders the two).
final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}

extension AgentHost {
    /// The password as an ErrorMessage-typed failure, for request handlers.
    func secret() throws -> String {
        do {
            return try databasePassword()
        } catch let e as SecretError {
            throw ErrorMessage(id: nil, code: .failed, message: e.message, hint: e.hint)
        }
    }
}
