import AKProtocol
import Compression
import Crypto
import DumpFormat
import Foundation
import ProcessRunner
import ProtocolSession
import Transport
#if canImport(Glibc)
import Glibc
#endif

/// The agent's half of `akbackup restore` and `restore-test`.
///
/// The live database is never touched until a staging copy has been replayed from the artifact,
/// its hash checked and its content validated. The swap that follows is owned by this process:
/// once it starts, it finishes or rolls back by itself, whatever happens to the controller.
struct RestoreJob {
    let host: AgentHost
    let hostName: String
    let controller: String
    let log: (String) -> Void

    /// Tables an Authentik database cannot be empty of.
    static let keyTables = ["public.authentik_core_user", "public.authentik_core_group", "public.authentik_core_user_ak_groups",
                            "public.authentik_flows_flow", "public.authentik_core_application"]
    /// Databases this agent creates; only these may be dropped on request.
    static let ownDatabasePattern = "^authentik_(pre_restore|restore|restoretest|failed|undone)_[0-9]{14}$"

    func run(_ request: RestoreRequest, session: ServerSession) throws {
        let id = request.id
        var steps = StepLog()
        let lock = try OperationLock.acquire(stateDir: host.config.stateDir, host: hostName,
                                             operation: request.mode == .test ? "restore-test" : "restore", controller: controller)
        defer { lock.release() }
        let password = try host.secret()

        let running = host.runningAuthentikVersion()
        var warnings: [String] = []
        if let backupVersion = request.manifest?.source.authentikVersion, let running {
            let order = AuthentikVersion.compare(backupVersion, running)
            if order == .orderedDescending && request.mode != .test {
                guard request.force else {
                    throw ErrorMessage(id: id, code: .failed,
                                       message: "refusing to restore a backup of Authentik \(backupVersion) under the running \(running): Authentik cannot migrate a database backwards",
                                       hint: "restore a backup made by \(running) or older, upgrade the image first, or pass --force if you know better")
                }
                warnings.append("forced: the backup is from Authentik \(backupVersion), newer than the running \(running)")
            } else if order == .orderedAscending {
                warnings.append("the backup is from Authentik \(backupVersion); the running \(running) will migrate it forward when it starts")
            }
        }
        try steps.run("drop leftover staging databases") { try dropLeftovers(password: password) }
        if request.mode != .replace {
            if let warning = try checkRoomForCopy(manifest: request.manifest, password: password) { warnings.append(warning) }
        }

        let stamp = AgentClock.stamp()
        let live = host.config.database
        var guardApp = AppGuard(host: host, log: log)
        defer { guardApp.restoreIfNeeded() }
        let target: String
        switch request.mode {
        case .swap, .test:
            target = request.mode == .swap ? "authentik_restore_\(stamp)" : "authentik_restoretest_\(stamp)"
            try steps.run("create \(target)") {
                try host.admin(["CREATE DATABASE \(ident(target)) OWNER \(ident(host.config.dbUser))"], password: password)
            }
        case .replace:
            target = live
            // From here the services are down: nothing may kill this process before they are up again.
            SignalShield.engage()
            try steps.run("stop services") { try guardApp.stop() }
            try steps.run("drop and recreate \(live)") {
                try host.admin(["DROP DATABASE IF EXISTS \(ident(live)) WITH (FORCE)",
                                "CREATE DATABASE \(ident(live)) OWNER \(ident(host.config.dbUser))"], password: password)
            }
        }
        // From here until the replay's outcome is known, any failure — the controller gone before it
        // could even be told the target is ready, a cut link, a protocol error — leaves live untouched
        // and drops the staging database.
        let replayFailure: String?
        do {
            try session.send(.restoreReady(RestoreReady(id: id, targetDatabase: target, runningAuthentikVersion: running, warnings: warnings)))
            replayFailure = try steps.run("replay artifact into \(target)") {
                try replay(id: id, into: target, expectedSHA256: request.sha256, session: session, password: password,
                           dropOnSilence: request.mode != .replace, startAppOnSilence: request.mode == .replace)
            }
        } catch {
            if request.mode != .replace { try? host.dropDatabase(target, password: password) }
            throw error
        }
        var validation: ValidationReport?
        var failure = replayFailure
        if failure == nil {
            do {
                let report = try steps.run("validate \(target)") { try validate(database: target, manifest: request.manifest, password: password) }
                validation = report
                if !report.ok { failure = "validation failed: " + report.problems.joined(separator: "; ") }
            } catch {
                failure = "validation could not run: \((error as? ErrorMessage)?.message ?? "\(error)")"
            }
        }

        switch request.mode {
        case .test, .swap where failure != nil:
            try? steps.run("drop \(target)") { try host.dropDatabase(target, password: password) }
            let outcome = failure == nil ? "tested" : "failed"
            let message = failure.map { "\($0); the live database and the services were not touched" }
                ?? "restore test passed: \(validation?.rowCounts.count ?? 0) tables match the manifest; scratch database dropped"
            try send(session, RestoreResult(id: id, outcome: outcome, steps: steps.steps, validation: validation, downtimeSeconds: nil,
                                            preRestoreDatabase: nil, message: message))
        case .swap:
            try? steps.run("analyze \(target)") { _ = try host.query("ANALYZE", database: target, password: password) }
            let pre = "authentik_pre_restore_\(stamp)"
            let swap = SwapWindow(host: host, password: password, log: log)
            let result = swap.swapIn(candidate: target, keepLiveAs: pre, failedName: "authentik_failed_\(stamp)",
                                     healthTimeout: TimeInterval(request.healthTimeout), steps: &steps, appGuard: &guardApp)
            try send(session, RestoreResult(id: id, outcome: result.outcome, steps: steps.steps, validation: validation,
                                            downtimeSeconds: result.downtime, preRestoreDatabase: result.outcome == "restored" ? pre : nil,
                                            message: result.message))
        case .replace:
            if failure == nil {
                try? steps.run("analyze \(target)") { _ = try host.query("ANALYZE", database: target, password: password) }
            }
            let started = steps.runQuietly("start services") { try guardApp.start() }
            let waitStart = Date()
            let health = host.waitHealthy(timeout: TimeInterval(request.healthTimeout))
            steps.record("wait for health", ok: health.ok, detail: health.detail, since: waitStart)
            if health.ok { guardApp.markHealthy() }
            let ok = failure == nil && started && health.ok
            let message = ok ? "restored \(request.artifact) by drop-and-recreate" :
                "replace restore failed: \(failure ?? health.detail); restore the undo backup taken just before (akbackup restore NAME --replace)"
            try send(session, RestoreResult(id: id, outcome: ok ? "restored" : "failed", steps: steps.steps, validation: validation,
                                            downtimeSeconds: guardApp.downtime(), preRestoreDatabase: nil, message: message))
        }
    }

    /// `akbackup restore --undo`: the newest pre-restore database becomes live again.
    func undo(_ request: UndoRequest, session: ServerSession) throws {
        var steps = StepLog()
        let lock = try OperationLock.acquire(stateDir: host.config.stateDir, host: hostName, operation: "undo", controller: controller)
        defer { lock.release() }
        let password = try host.secret()
        guard let pre = try ownDatabases(password: password).map(\.name).filter({ $0.hasPrefix("authentik_pre_restore_") }).max() else {
            throw ErrorMessage(id: request.id, code: .notFound, message: "there is no pre-restore database on \(hostName) to go back to",
                               hint: "`akbackup doctor` lists akbackup's databases; restore a backup instead")
        }
        let stamp = AgentClock.stamp()
        var guardApp = AppGuard(host: host, log: log)
        defer { guardApp.restoreIfNeeded() }
        let result = SwapWindow(host: host, password: password, log: log)
            .swapIn(candidate: pre, keepLiveAs: "authentik_undone_\(stamp)", failedName: "authentik_failed_\(stamp)",
                    healthTimeout: TimeInterval(request.healthTimeout), steps: &steps, appGuard: &guardApp)
        let outcome = result.outcome == "restored" ? "undone" : result.outcome
        try send(session, RestoreResult(id: request.id, outcome: outcome, steps: steps.steps, validation: nil, downtimeSeconds: result.downtime,
                                        preRestoreDatabase: result.outcome == "restored" ? "authentik_undone_\(stamp)" : nil,
                                        message: result.outcome == "restored" ? "\(pre) is live again; the replaced database is kept as authentik_undone_\(stamp)" : result.message))
    }

    func ownDatabases(password: String) throws -> [DatabaseInfo] {
        try host.akbackupDatabases(password: password)
    }

    func drop(_ request: DropDatabaseRequest, session: ServerSession) throws {
        guard request.name.range(of: RestoreJob.ownDatabasePattern, options: .regularExpression) != nil,
              request.name != host.config.database else {
            throw ErrorMessage(id: request.id, code: .badRequest, message: "refusing to drop \"\(request.name.prefix(100))\": not a database akbackup made",
                               hint: "`akbackup doctor` lists the databases akbackup made")
        }
        let lock = try OperationLock.acquire(stateDir: host.config.stateDir, host: hostName, operation: "drop-database", controller: controller)
        defer { lock.release() }
        let password = try host.secret()
        guard try host.databaseExists(request.name, password: password) else {
            throw ErrorMessage(id: request.id, code: .notFound, message: "database \(request.name) does not exist", hint: "see `akbackup doctor`")
        }
        try host.dropDatabase(request.name, password: password)
        try session.send(.done(Done(id: request.id, detail: "dropped \(request.name)")))
    }

    private func send(_ session: ServerSession, _ result: RestoreResult) throws {
        log("\(result.outcome): \(result.message)")
        do {
            try session.send(.restoreResult(result))
        } catch {
            // The controller is gone; the work is done either way and the log says how it ended.
            log("could not report the result to the controller: \(error)")
        }
    }

    private func dropLeftovers(password: String) throws {
        // Only under the lock: no other restore can be using them.
        for db in try ownDatabases(password: password) where db.name.hasPrefix("authentik_restore_") || db.name.hasPrefix("authentik_restoretest_") {
            log("dropping leftover \(db.name)")
            try host.dropDatabase(db.name, password: password)
        }
    }

    /// Refuses when the data volume cannot hold a second copy; a warning when it cannot be told.
    private func checkRoomForCopy(manifest: Manifest?, password: String) throws -> String? {
        guard let dir = try? host.query("SHOW data_directory", database: "postgres", password: password).first,
              let liveSize = try? host.query("SELECT pg_database_size(current_database())", password: password).first.flatMap({ Int64($0) }),
              let df = try? host.docker(["exec", host.config.postgresContainer, "df", "-P", "-B1", dir]), df.status == 0,
              let line = df.stdoutText.split(separator: "\n").last, line.split(separator: " ").count >= 4,
              let available = Int64(line.split(separator: " ", omittingEmptySubsequences: true)[3])
        else { return "could not tell the free space of the database volume" }
        let needed = max(liveSize, manifest?.uncompressedSize ?? 0) + max(liveSize, manifest?.uncompressedSize ?? 0) / 10
        guard available >= needed else {
            throw ErrorMessage(id: nil, code: .noSpace,
                               message: "the database volume has \(ByteFormat.human(available)) free; a staging copy needs about \(ByteFormat.human(needed))",
                               hint: "free space, or use `akbackup restore --replace` (drop and recreate, after a fresh undo backup)")
        }
        return nil
    }

    /// Streams the artifact into `database` with psql inside one transaction that only this code
    /// commits: `COMMIT` is written after the whole stream arrived, decompressed cleanly and matched
    /// its SHA-256. On any failure or a lost link psql's input just ends, and PostgreSQL rolls the
    /// transaction back when the session closes (psql's own --single-transaction would commit at EOF).
    /// Returns why it failed, or nil.
    private func replay(id: UInt64, into database: String, expectedSHA256: String?, session: ServerSession, password: String,
                        dropOnSilence: Bool, startAppOnSilence: Bool) throws -> String? {
        let c = host.config
        let psql = try StreamingProcess.start([c.docker, "exec", "-i", "-e", "PGPASSWORD", c.postgresContainer,
                                               "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                                               "-U", c.dbUser, "-d", database],
                                              extraEnvironment: ["PGPASSWORD": password], direction: .writeStdin)
        // A link that dies silently never ends our input: give up after a while, safely.
        let timeout = TimeInterval(c.replayIdleTimeout)
        let watchdog = IdleWatchdog(timeout: timeout, name: "replay watchdog") { [host, log] in
            log("no artifact data for \(Int(timeout))s (link lost?): rolling the replay back")
            psql.closeStdin()
            _ = psql.wait()
            if dropOnSilence { try? host.dropDatabase(database, password: password) }
            if startAppOnSilence {
                var guardApp = AppGuard(host: host, log: log)
                guardApp.isStopped = true
                guardApp.restoreIfNeeded()
            }
            exit(ServerSession.Outcome.linkLost.rawValue)
        }
        defer { watchdog.stop() }
        guard case .message(.data(let header))? = try session.framed.receive(), header.id == id else {
            psql.closeStdin()
            _ = psql.wait()
            throw ProtocolError.outOfSequence("expected the artifact's data for restore \(id)")
        }
        let inflater = GzipInflater()
        var transactionFilter = TransactionControlFilter()
        var hasher = SHA256()
        var feedFailure: String?
        do {
            try psql.write(Array("BEGIN;\n".utf8))
        } catch {
            feedFailure = "\(error)"
        }
        do {
            receiving: while true {
                guard let item = try session.framed.receive() else {
                    throw TransportError(.io, host: "controller", "link lost while receiving the artifact", hint: "nothing changed")
                }
                watchdog.touch()
                switch item {
                case .chunk(let bytes):
                    hasher.update(data: bytes)
                    guard feedFailure == nil else { continue }
                    do {
                        try inflater.push(bytes) { try psql.write(transactionFilter.filter($0)) }
                    } catch {
                        feedFailure = "\(error)"
                    }
                case .endOfData:
                    break receiving
                case .message(let m):
                    throw ProtocolError.outOfSequence("\(m.type) inside the artifact's data")
                }
            }
        } catch {
            // No COMMIT was written: ending psql's input rolls everything back.
            psql.closeStdin()
            _ = psql.wait()
            throw error
        }
        if feedFailure == nil {
            do {
                try inflater.finish()
                try psql.write(transactionFilter.finish())
            } catch {
                feedFailure = "\(error)"
            }
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        let hashProblem = expectedSHA256.flatMap { expected in
            expected == digest ? nil : "the artifact's SHA-256 is \(digest.prefix(16))…, its manifest says \(expected.prefix(16))…: it is corrupt"
        }
        if hashProblem == nil && feedFailure == nil {
            do { try psql.write(Array("COMMIT;\n".utf8)) } catch { feedFailure = "\(error)" }
        }
        let outcome = psql.wait()
        if let problem = hashProblem { return problem }
        if let f = outcome.failure { return "psql failed: \(f)" }
        if let f = feedFailure { return "the artifact is unreadable: \(f)" }
        return nil
    }

    /// Row counts against the manifest, key tables non-empty, schemas present.
    func validate(database: String, manifest: Manifest?, password: String) throws -> ValidationReport {
        var problems: [String] = []
        let schemas = Set(try host.query("SELECT nspname FROM pg_namespace", database: database, password: password))
        var expectedSchemas: Set<String> = ["public"]
        var tables = RestoreJob.keyTables
        var expected: [String: Int64] = [:]
        if let m = manifest {
            for (name, count) in m.rowCounts {
                guard SQLName.isQualifiedTable(name) else {
                    problems.append("the manifest names an invalid table \(name.prefix(80))")
                    continue
                }
                expected[name] = count
                expectedSchemas.insert(SQLName.unquotedSchema(name))
            }
            tables = Array(Set(tables).union(expected.keys)).sorted()
        }
        for schema in expectedSchemas.sorted() where !schemas.contains(schema) { problems.append("schema \(schema) is missing") }
        let existence = try host.query(tables.enumerated().map { i, t in
            "SELECT \(i) || '|' || (to_regclass('\(t.replacingOccurrences(of: "'", with: "''"))') IS NOT NULL)::text"
        }.joined(separator: " UNION ALL "), database: database, password: password)
        var present: [String] = []
        for line in existence {
            let f = line.split(separator: "|")
            guard f.count == 2, let i = Int(f[0]), i < tables.count else { continue }
            if f[1] == "true" { present.append(tables[i]) } else { problems.append("table \(tables[i]) is missing") }
        }
        var counts: [String: Int64] = [:]
        if !present.isEmpty {
            let rows = try host.query(present.enumerated().map { i, t in "SELECT \(i) || '|' || count(*) FROM \(t)" }
                .joined(separator: " UNION ALL "), database: database, password: password)
            for line in rows {
                let f = line.split(separator: "|")
                if f.count == 2, let i = Int(f[0]), let n = Int64(f[1]), i < present.count { counts[present[i]] = n }
            }
        }
        for t in RestoreJob.keyTables where counts[t] == 0 { problems.append("key table \(t) is empty") }
        for (t, n) in expected.sorted(by: { $0.key < $1.key }) where counts[t] != nil && counts[t] != n {
            problems.append("\(t) has \(counts[t]!) rows, the manifest says \(n)")
        }
        return ValidationReport(ok: problems.isEmpty, rowCounts: counts, problems: problems)
    }
}

/// Once the app services may be stopped, this process must live until they are started again:
/// the controller's death or a cut link (hang-up) must not end it.
enum SignalShield {
    static func engage() {
        signal(SIGHUP, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
    }
}

/// Double-quoted SQL identifier.
func ident(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

/// Table names as pg_dump writes them in COPY headers: `schema.table`, each part plain or quoted.
enum SQLName {
    static let part = "(\"([^\"]|\"\")+\"|[a-z_][a-z0-9_$]*)"
    static func isQualifiedTable(_ s: String) -> Bool {
        s.count < 300 && s.range(of: "^\(part)\\.\(part)$", options: .regularExpression) != nil
    }
    static func unquotedSchema(_ s: String) -> String {
        if s.hasPrefix("\""), let end = s.dropFirst().range(of: "\".") {
            return String(s[s.index(after: s.startIndex)..<end.lowerBound]).replacingOccurrences(of: "\"\"", with: "\"")
        }
        return String(s.prefix(while: { $0 != "." }))
    }
}

/// Authentik versions are calendar versions: 2025.10.1, 2024.12.3-rc1.
enum AuthentikVersion {
    static func compare(_ a: String, _ b: String) -> ComparisonResult {
        let pa = a.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        let pb = b.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        for i in 0..<max(pa.count, pb.count) {
            let x = i < pa.count ? pa[i] : 0, y = i < pb.count ? pb[i] : 0
            if x != y { return x < y ? .orderedAscending : .orderedDescending }
        }
        return .orderedSame
    }
}

enum AgentClock {
    /// yyyymmddhhmmss in UTC: sorts by time, valid in a database name.
    static func stamp(_ date: Date = Date()) -> String {
        let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
        return String(format: "%04d%02d%02d%02d%02d%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }
}

/// Timed steps for the receipt.
struct StepLog {
    private(set) var steps: [RestoreStep] = []

    @discardableResult
    mutating func run<T>(_ name: String, _ body: () throws -> T) throws -> T {
        let start = Date()
        do {
            let value = try body()
            steps.append(RestoreStep(name: name, startedAt: Timestamp.string(start), seconds: Date().timeIntervalSince(start), ok: true))
            return value
        } catch {
            steps.append(RestoreStep(name: name, startedAt: Timestamp.string(start), seconds: Date().timeIntervalSince(start), ok: false,
                                     detail: (error as? ErrorMessage)?.message ?? "\(error)"))
            throw error
        }
    }

    /// Runs a step whose failure is reported, not thrown.
    mutating func runQuietly(_ name: String, _ body: () throws -> Void) -> Bool {
        (try? run(name, body)) != nil
    }

    mutating func record(_ name: String, ok: Bool, detail: String?, since start: Date = Date()) {
        steps.append(RestoreStep(name: name, startedAt: Timestamp.string(start), seconds: Date().timeIntervalSince(start), ok: ok, detail: detail))
    }
}

/// Never leaves the app services stopped: whatever path leaves a scope, they are started again.
struct AppGuard {
    let host: AgentHost
    let log: (String) -> Void
    private(set) var stoppedAt: Date?
    private(set) var healthyAt: Date?
    var isStopped = false

    init(host: AgentHost, log: @escaping (String) -> Void) {
        self.host = host
        self.log = log
    }

    mutating func stop() throws {
        if stoppedAt == nil { stoppedAt = Date() }
        isStopped = true
        try host.stopApp()
    }

    mutating func start() throws {
        try host.startApp()
        isStopped = false
    }

    mutating func markHealthy() { healthyAt = Date() }

    func downtime() -> Double? {
        guard let s = stoppedAt else { return nil }
        return (healthyAt ?? Date()).timeIntervalSince(s)
    }

    mutating func restoreIfNeeded() {
        guard isStopped else { return }
        log("starting the app services again after a failure")
        for _ in 0..<3 {
            if (try? host.startApp()) != nil {
                isStopped = false
                return
            }
        }
        log("could not start the app services: start them by hand (docker compose up -d)")
    }
}
