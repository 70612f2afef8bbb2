import AKProtocol
import Foundation
import ProcessRunner
#if canImport(Glibc)
import Glibc
#endif

/// The Compose stack and the PostgreSQL server as the restore sees them: services to stop and
/// start, the ready endpoint, and the databases it creates, renames and drops.
extension AgentHost {
    /// `docker compose -f FILE -p PROJECT ACTION SERVICES…` in the compose directory.
    func compose(_ action: [String], timeout: TimeInterval = 180) throws {
        let c = config
        let argv = c.composeCommand + ["-f", c.composePath, "-p", c.effectiveComposeProject] + action
        let r = try ProcessRunner.run(argv, timeout: timeout, currentDirectory: c.composeDir)
        guard r.status == 0, !r.timedOut else {
            throw ErrorMessage(id: nil, code: .failed,
                               message: "`\(argv.joined(separator: " "))` failed: \(r.timedOut ? "timed out" : r.stderrLastLine)",
                               hint: "check the stack in \(c.composeDir) (docker compose ps) and compose_command in \(AgentConfig.defaultPath)")
        }
    }

    func stopApp() throws { try compose(["stop"] + config.appServices) }
    func startApp() throws { try compose(["up", "-d"] + config.appServices) }

    /// Runs statements one by one (each its own transaction: CREATE/DROP DATABASE need that) on `postgres`.
    func admin(_ statements: [String], password: String) throws {
        var argv = ["exec", "-i", "-e", "PGPASSWORD", config.postgresContainer, "psql", "-X", "-q", "-At",
                    "-v", "ON_ERROR_STOP=1", "-U", config.dbUser, "-d", "postgres"]
        for s in statements { argv += ["-c", s] }
        let r = try docker(argv, password: password, timeout: 300)
        guard r.status == 0 else {
            throw ErrorMessage(id: nil, code: .failed, message: "PostgreSQL refused `\(statements.last ?? "")`: \(r.stderrLastLine)",
                               hint: "check the database server with `akbackup doctor`")
        }
    }

    /// Drops a database, ending its sessions first (PG 13+ `WITH (FORCE)`).
    func dropDatabase(_ name: String, password: String) throws {
        try admin(["DROP DATABASE IF EXISTS \(ident(name)) WITH (FORCE)"], password: password)
    }

    func query(_ sql: String, database: String? = nil, password: String) throws -> [String] {
        let r = try psql(sql, database: database, password: password)
        guard r.status == 0 else {
            throw ErrorMessage(id: nil, code: .failed, message: "query failed: \(r.stderrLastLine)",
                               hint: "check the database server with `akbackup doctor`")
        }
        return r.stdoutText.split(separator: "\n").map(String.init)
    }

    func databaseExists(_ name: String, password: String) throws -> Bool {
        try query("SELECT 1 FROM pg_database WHERE datname = '\(name)'", database: "postgres", password: password).first == "1"
    }

    /// Renames `from` to `to` once nothing is connected to it. Stray sessions are ended first; with
    /// the app stopped, a few retries cover clients that reconnect in between.
    func renameDatabase(_ from: String, to: String, password: String) throws {
        var lastError: Error?
        for _ in 0..<10 {
            do {
                try admin(["SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '\(from)' AND pid <> pg_backend_pid()",
                           "ALTER DATABASE \"\(from)\" RENAME TO \"\(to)\""], password: password)
                return
            } catch {
                lastError = error
            }
        }
        throw lastError!
    }

    /// Databases akbackup made: undo points, and leftovers of interrupted restores.
    func akbackupDatabases(password: String) throws -> [DatabaseInfo] {
        try query("SELECT datname || '|' || pg_database_size(datname) FROM pg_database WHERE datname ~ '\(RestoreJob.ownDatabasePattern)' ORDER BY datname",
                  database: "postgres", password: password).compactMap { line in
            let f = line.split(separator: "|")
            guard f.count == 2, let size = Int64(f[1]) else { return nil }
            return DatabaseInfo(name: String(f[0]), sizeBytes: size)
        }
    }

    /// The Authentik version the running image is: its OCI label, else its AUTHENTIK_VERSION.
    func runningAuthentikVersion() -> String? {
        let format = "{{index .Config.Labels \"org.opencontainers.image.version\"}}|{{range .Config.Env}}{{println .}}{{end}}"
        guard let r = try? docker(["inspect", "--format", format, config.serverContainer]), r.status == 0 else { return nil }
        let text = r.stdoutText
        let parts = text.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
        if let label = parts.first, !label.isEmpty, label != "<no value>" { return String(label) }
        for line in text.split(separator: "\n") where line.hasPrefix("AUTHENTIK_VERSION=") {
            return String(line.dropFirst("AUTHENTIK_VERSION=".count))
        }
        return nil
    }

    /// Whether the ready endpoint answers 2xx and both app containers run.
    func isHealthy() -> (ok: Bool, detail: String) {
        for name in [config.serverContainer, config.workerContainer] {
            guard let state = try? containerState(name), state.status == "running" else {
                return (false, "\(name) is not running")
            }
        }
        guard let url = healthEndpoint() else { return (false, "no address for \(config.serverContainer)") }
        let status = HTTPProbe.status(host: url.host, port: url.port, path: url.path, timeout: 2)
        guard let code = status else { return (false, "\(url.host):\(url.port) does not answer") }
        return ((200..<300).contains(code), "ready endpoint answered \(code)")
    }

    /// Polls health until it is good or `timeout` passes.
    func waitHealthy(timeout: TimeInterval) -> (ok: Bool, detail: String) {
        let deadline = Date().addingTimeInterval(timeout)
        var last = (ok: false, detail: "not checked")
        while Date() < deadline {
            last = isHealthy()
            if last.ok { return last }
            usleep(200_000)
        }
        return (false, "not healthy after \(Int(timeout)) s: \(last.detail)")
    }

    func healthEndpoint() -> (host: String, port: Int, path: String)? {
        if !config.healthURL.isEmpty, let u = URLComponents(string: config.healthURL), let h = u.host {
            return (h, u.port ?? 80, u.path.isEmpty ? "/" : u.path)
        }
        let format = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
        guard let r = try? docker(["inspect", "--format", format, config.serverContainer]), r.status == 0,
              let ip = r.stdoutText.split(separator: " ").first(where: { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty })
        else { return nil }
        return (String(ip).trimmingCharacters(in: .whitespacesAndNewlines), 9000, "/-/health/ready/")
    }
}

/// A minimal HTTP/1.0 GET, enough to read a status code with a hard timeout.
enum HTTPProbe {
    static func status(host: String, port: Int, path: String, timeout: TimeInterval) -> Int? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let ai = result else { return nil }
        defer { freeaddrinfo(result) }
        let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: \(host)\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { return nil }
        var buffer = [UInt8](repeating: 0, count: 512)
        var received: [UInt8] = []
        while received.count < 64 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 512, 0) }
            if n <= 0 { break }
            received += buffer[0..<n]
        }
        let line = String(decoding: received, as: UTF8.self)
        let parts = line.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/") else { return nil }
        return Int(parts[1])
    }
}
