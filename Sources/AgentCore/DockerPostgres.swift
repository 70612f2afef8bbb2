import AKBase
import AKProtocol
import Foundation
import ProcessRunner
#if canImport(Glibc)
import Glibc
#endif

/// The stack's PostgreSQL, reached with `docker exec` into its container. Holds the container, the
/// database login and its password once: every psql and pg_dump gets the password only in its
/// environment (`-e PGPASSWORD` names the variable, never its value), and runs as the container's
/// database OS user, never root.
public struct DockerPostgres: DatabaseServer {
    public let config: AgentConfig
    private let password: String

    public var liveDatabase: String { config.database }
    public var owner: String { config.dbUser }

    public init(config: AgentConfig, password: String) {
        self.config = config
        self.password = password
    }

    /// `docker exec [-i] [--user U] -e PGPASSWORD CONTAINER` + the tool's argv.
    private func exec(_ tool: [String], interactive: Bool) -> [String] {
        var argv = [config.docker, "exec"]
        if interactive { argv.append("-i") }
        if !config.dbOSUser.isEmpty { argv += ["--user", config.dbOSUser] }
        return argv + ["-e", "PGPASSWORD", config.postgresContainer] + tool
    }

    private var env: [String: String] { ["PGPASSWORD": password] }

    /// psql's fixed options: no psqlrc, stop at the first error.
    private func psql(_ database: String, _ extra: [String]) -> [String] {
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", config.dbUser, "-d", database] + extra
    }

    public func query(_ sql: String, database: String?) throws -> [String] {
        let r = try ChildProcess.run(exec(psql(database ?? config.database, ["-At", "-c", sql]), interactive: false),
                                     environment: env, timeout: 600)
        guard r.status == 0, !r.timedOut else {
            throw ErrorMessage(id: nil, code: .failed, message: "PostgreSQL in \(config.postgresContainer): \(r.timedOut ? "the query timed out" : r.termination.errorLine)",
                               hint: "check the database server with `akbackup doctor`")
        }
        return r.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLastIfEmpty()
    }

    /// Statements each in its own transaction (CREATE/DROP DATABASE need that), on `postgres`.
    private func admin(_ statements: [String]) throws {
        var extra = ["-At"]
        for s in statements { extra += ["-c", s] }
        let r = try ChildProcess.run(exec(psql("postgres", extra), interactive: false), environment: env, timeout: 600)
        guard r.status == 0, !r.timedOut else {
            throw ErrorMessage(id: nil, code: .failed, message: "PostgreSQL in \(config.postgresContainer) refused `\(statements.last ?? "")`: \(r.timedOut ? "timed out" : r.termination.errorLine)",
                               hint: "check the database server with `akbackup doctor`")
        }
    }

    public func createDatabase(_ name: String) throws {
        try admin(["CREATE DATABASE \(SQL.ident(name)) OWNER \(SQL.ident(config.dbUser))"])
    }

    public func dropDatabase(_ name: String) throws {
        try admin(["DROP DATABASE IF EXISTS \(SQL.ident(name)) WITH (FORCE)"])
    }

    public func renameDatabase(_ from: String, to: String) throws {
        var lastError: Error?
        for _ in 0..<10 {
            do {
                try admin(["SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = \(SQL.literal(from)) AND pid <> pg_backend_pid()",
                           "ALTER DATABASE \(SQL.ident(from)) RENAME TO \(SQL.ident(to))"])
                return
            } catch {
                lastError = error
            }
        }
        throw lastError!
    }

    public func startReplay(into database: String) throws -> ReplaySink {
        PsqlReplay(child: try ChildProcess.spawn(exec(psql(database, []), interactive: true), environment: env, stdin: .pipe, stdout: .null))
    }

    public func startDump(of database: String, snapshot: String?) throws -> DumpSource {
        var tool = ["pg_dump", "-U", config.dbUser]
        if let snapshot { tool += ["--snapshot=\(snapshot)"] }
        tool.append(database)
        return PgDump(child: try ChildProcess.spawn(exec(tool, interactive: false), environment: env, stdin: .null, stdout: .pipe))
    }

    public func openSnapshot(on database: String) throws -> SnapshotSession {
        let child = try ChildProcess.spawn(exec(psql(database, ["-At"]), interactive: true), environment: env, stdin: .pipe, stdout: .pipe)
        let session = PsqlSnapshot(child: child, container: config.postgresContainer)
        do {
            let id = try session.run("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;\nSELECT pg_export_snapshot();")
            guard let snapshot = id.last, snapshot.range(of: "^[0-9A-Fa-f-]+$", options: .regularExpression) != nil else {
                throw ErrorMessage(id: nil, code: .failed, message: "could not export a snapshot: \(child.stderrText.split(separator: "\n").last ?? "no answer")",
                                   hint: "check the database server with `akbackup doctor`")
            }
            session.snapshotID = snapshot
            return session
        } catch {
            session.close()
            throw error
        }
    }

    public func toolVersion(_ tool: String) -> String? {
        guard let r = try? ChildProcess.run(exec([tool, "--version"], interactive: false), timeout: 30), r.status == 0 else { return nil }
        return r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func dataVolume() -> VolumeSpace? {
        guard let dir = try? query("SHOW data_directory", database: "postgres").first,
              let df = try? ChildProcess.run([config.docker, "exec", config.postgresContainer, "df", "-P", "-B1", dir], timeout: 30),
              df.status == 0 else { return nil }
        return DockerPostgres.parseDF(df.stdoutText)
    }

    /// `df -P -B1 DIR`'s answer: a header, then "filesystem total used available capacity mountpoint"
    /// (POSIX format: one line per file system, sizes in bytes).
    static func parseDF(_ text: String) -> VolumeSpace? {
        guard let line = text.split(separator: "\n").last else { return nil }
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 6, let total = Int64(fields[1]), let free = Int64(fields[3]), total >= 0, free >= 0 else { return nil }
        return VolumeSpace(totalBytes: total, freeBytes: free)
    }
}

extension Array where Element == String {
    fileprivate func dropLastIfEmpty() -> [String] {
        last == "" ? Array(dropLast()) : self
    }
}

/// psql fed on stdin.
final class PsqlReplay: ReplaySink {
    let child: ChildProcess
    init(child: ChildProcess) { self.child = child }
    func write(_ bytes: [UInt8]) throws { try child.write(bytes) }
    func finish() -> Termination { child.wait() ?? child.terminate() }
    func abort() { child.terminate(grace: 2) }
}

/// pg_dump read from stdout.
final class PgDump: DumpSource {
    let child: ChildProcess
    init(child: ChildProcess) { self.child = child }
    func readAll(_ body: ([UInt8]) throws -> Void) throws { try child.readAll(body) }
    func wait() -> Termination { child.wait() ?? child.terminate() }
    func stop() { child.terminate(grace: 2) }
}

/// A psql session that answers queries one at a time: each query is followed by an `\echo` of a
/// marker, and the answer is what comes before it. Our own SQL only, so meta-commands are fine here.
final class PsqlSnapshot: SnapshotSession, @unchecked Sendable {
    // @unchecked: `snapshotID` is set once before the session is handed out; the child's pipes are
    // used by one caller at a time (the backup job).
    let child: ChildProcess
    let container: String
    var snapshotID = ""
    private var pending: [UInt8] = []

    init(child: ChildProcess, container: String) {
        self.child = child
        self.container = container
    }

    func query(_ sql: String) throws -> [String] { try run(sql) }

    func run(_ sql: String, timeout: TimeInterval = 600) throws -> [String] {
        let marker = "__akbackup_\(UInt64.random(in: 0...UInt64.max))__"
        // Every statement must be complete before the marker, or psql would hold it in its buffer.
        let trimmed = sql.trimmingCharacters(in: .whitespacesAndNewlines)
        let complete = trimmed.hasSuffix(";") ? trimmed : trimmed + ";"
        try child.write(Array("\(complete)\n\\echo \(marker)\n".utf8))
        let deadline = Date().addingTimeInterval(timeout)
        var lines: [String] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            while let nl = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[..<nl], as: UTF8.self)
                pending.removeFirst(nl + 1)
                if line == marker { return lines }
                lines.append(line)
            }
            var p = pollfd(fd: child.stdoutFD, events: Int16(POLLIN), revents: 0)
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw ErrorMessage(id: nil, code: .failed, message: "PostgreSQL in \(container) did not answer within \(Int(timeout))s", hint: "check the database server with `akbackup doctor`") }
            if poll(&p, 1, Int32(min(left, 1) * 1000) + 1) <= 0 { continue }
            let n = buffer.withUnsafeMutableBytes { Glibc.read(child.stdoutFD, $0.baseAddress, $0.count) }
            if n <= 0 {
                throw ErrorMessage(id: nil, code: .failed,
                                   message: "PostgreSQL in \(container): \(Termination(exitStatus: nil, signal: nil, stderr: child.stderrText).errorLine)",
                                   hint: "check the database server with `akbackup doctor`")
            }
            pending += buffer[0..<n]
        }
    }

    func close() {
        try? child.write(Array("COMMIT;\n".utf8))
        child.closeStdin()
        _ = child.wait(timeout: 10) ?? child.terminate(grace: 2)
    }
}
