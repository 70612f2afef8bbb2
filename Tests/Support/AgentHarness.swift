import AgentCore
import ControllerCore
import ReceiverCore
import AKBase
import AKProtocol
import Crypto
import Foundation
import ProcessRunner
import ProtocolSession
import Synchronization
import Transport

/// A scripted PostgreSQL server: databases with row counts and schema digests, every call recorded,
/// any operation made to fail. Replays and dumps move "content" (the database model) around.
public final class FakeDatabase: DatabaseServer, Sendable {
    public struct Model: Equatable, Sendable {
        public var rowCounts: [String: Int64] = [:]
        public var digests: [String: String] = [:]
        public init(rowCounts: [String: Int64] = [:], digests: [String: String] = [:]) {
            self.rowCounts = rowCounts
            self.digests = digests
        }
    }
    public enum Op: Hashable, Sendable {
        case create(String), drop(String), rename(String, String), replay(String), dump, query(String)
    }
    public struct State: Sendable {
        public var databases: [String: Model] = [:]
        public var calls: [String] = []
        public var failing: [Op: String] = [:]
        public var replayed: [String: [UInt8]] = [:]
        /// What a committed replay leaves in its target.
        public var artifactModel = Model()
        public var dumpText = FakeDatabase.dump(rows: 3)
        public var freeBytes: Int64? = 1 << 40
        /// The data volume's size (with `freeBytes`: what `df` says in the container); nil: df fails.
        public var volumeBytes: Int64? = 2 << 40
        /// pg_database_size per database (1000 when not set).
        public var sizes: [String: Int64] = [:]
        /// pg_dump sends its first chunk, then waits until it is stopped (a slow or stuck dump).
        public var dumpHangs = false
        public var dumpStopped = false
        public var psql = "psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    }
    public let state = Monitor(State())
    public let liveDatabase = "authentik"
    public let owner = "authentik"

    public init(live: Model = FakeDatabase.sample) {
        state.update { $0.databases["authentik"] = live; $0.databases["postgres"] = Model() }
    }

    public static let sample = Model(rowCounts: ["public.authentik_core_user": 3, "public.authentik_core_group": 2,
                                          "public.authentik_core_user_ak_groups": 2, "public.authentik_flows_flow": 4,
                                          "public.authentik_core_application": 1],
                              digests: Dictionary(uniqueKeysWithValues: SchemaDigest.kinds.map { ($0, String(repeating: "a", count: 64)) }))

    /// A plain dump as pg_dump writes it: header, a COPY section of `rows` lines, the trailer.
    public static func dump(rows: Int) -> [UInt8] {
        var s = "--\n-- PostgreSQL database dump\n--\n\n\\restrict abc123\n\nSET statement_timeout = 0;\n"
        s += "COPY public.authentik_core_user (id, username) FROM stdin;\n"
        for i in 0..<rows { s += "\(i)\tuser\(i)\n" }
        s += "\\.\n\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc123\n\n"
        return Array(s.utf8)
    }

    public func fail(_ op: Op, _ why: String = "scripted failure") { state.update { $0.failing[op] = why } }
    public var calls: [String] { state.read { $0.calls } }
    public var databases: [String: Model] { state.read { $0.databases } }

    private func record(_ call: String, _ op: Op) throws {
        let why = state.update { s -> String? in
            s.calls.append(call)
            return s.failing[op]
        }
        if let why { throw ErrorMessage(id: nil, code: .failed, message: "PostgreSQL: \(why)", hint: "scripted") }
    }

    public func query(_ sql: String, database: String?) throws -> [String] {
        let db = database ?? liveDatabase
        if let failing = state.read({ s in s.failing.first { if case .query(let p) = $0.key { return sql.contains(p) } else { return false } } }) {
            state.update { $0.calls.append("query \(db)") }
            throw ErrorMessage(id: nil, code: .failed, message: "PostgreSQL: \(failing.value)", hint: "scripted")
        }
        let s = state.read { $0 }
        let model = s.databases[db] ?? Model()
        if sql.contains("FROM pg_database WHERE datname ~ '") {
            // The pattern the agent sent, applied to every database here (PostgreSQL's ~ is a regex match):
            // the fake answers what the query asks, so a wrong pattern shows in the tests.
            guard let pattern = Self.literal(after: "datname ~ ", in: sql) else { return [] }
            let names = s.databases.keys.filter { $0.range(of: pattern, options: .regularExpression) != nil }.sorted()
            if sql.hasPrefix("SELECT pg_database_size(datname) || '|' || datname") {
                return names.map { "\(s.sizes[$0] ?? 1000)|\($0)" }
            }
            return names.map { "\($0)|\(s.sizes[$0] ?? 1000)" }
        }
        if sql.hasPrefix("SELECT 1 FROM pg_database WHERE datname = ") {
            return s.databases.keys.contains { sql.contains("'\($0)'") } ? ["1"] : []
        }
        if sql.hasPrefix("SELECT pg_database_size(") {
            return ["\(Self.literal(after: "pg_database_size(", in: sql).flatMap { s.sizes[$0] } ?? 1000)"]
        }
        if sql == "SELECT nspname FROM pg_namespace" { return ["pg_catalog", "public"] }
        if sql.contains("to_regclass(") {
            return sql.components(separatedBy: " UNION ALL ").enumerated().map { i, part in
                let exists = model.rowCounts.keys.contains { part.contains("'\($0)'") }
                return "\(i)|\(exists)"
            }
        }
        if sql.contains("count(*) FROM") {
            return sql.components(separatedBy: " UNION ALL ").enumerated().map { i, part in
                let table = part.components(separatedBy: "count(*) FROM ").last ?? ""
                return "\(i)|\(model.rowCounts[table] ?? 0)"
            }
        }
        if sql == SchemaDigest.canReadLargeObjectsSQL { return ["t"] }
        if sql.contains("WITH ns AS") { return model.digests.sorted { $0.key < $1.key }.map { "\($0.key)|\($0.value)" } }
        if sql == "ANALYZE" { return [] }
        if sql.contains("current_setting('server_version')") { return ["15.18|2025.10.1|authentik_core.0048_x"] }
        return []
    }

    public func createDatabase(_ name: String) throws {
        try record("create \(name)", .create(name))
        state.update { $0.databases[name] = Model() }
    }

    public func dropDatabase(_ name: String) throws {
        try record("drop \(name)", .drop(name))
        state.update { _ = $0.databases.removeValue(forKey: name) }
    }

    public func renameDatabase(_ from: String, to: String) throws {
        try record("rename \(from) \(to)", .rename(from, to))
        state.update { s in
            if let m = s.databases.removeValue(forKey: from) { s.databases[to] = m }
        }
    }

    public func startReplay(into database: String) throws -> ReplaySink {
        try record("replay \(database)", .replay(database))
        return FakeSink(database: database, owner: self)
    }

    public func startDump(of database: String, snapshot: String?) throws -> DumpSource {
        try record("dump \(database)\(snapshot.map { " snapshot \($0)" } ?? "")", .dump)
        return FakeDump(bytes: state.read { $0.dumpText }, hangs: state.read { $0.dumpHangs }, owner: self)
    }

    public func openSnapshot(on database: String) throws -> SnapshotSession {
        state.update { $0.calls.append("snapshot \(database)") }
        return FakeSnapshot(db: self, database: database)
    }

    public func toolVersion(_ tool: String) -> String? { tool == "psql" ? state.read { $0.psql } : "pg_dump (PostgreSQL) 15.18" }
    public func dataVolume() -> VolumeSpace? {
        state.read { s in s.freeBytes.flatMap { free in s.volumeBytes.map { VolumeSpace(totalBytes: $0, freeBytes: free) } } }
    }

    /// The SQL string literal after `marker` in `sql`, unquoted ('' → ').
    static func literal(after marker: String, in sql: String) -> String? {
        guard let start = sql.range(of: marker + "'")?.upperBound else { return nil }
        var out = "", i = start
        while i < sql.endIndex {
            let c = sql[i]
            i = sql.index(after: i)
            if c == "'" {
                guard i < sql.endIndex, sql[i] == "'" else { return out }
                i = sql.index(after: i)
            }
            out.append(c)
        }
        return nil
    }

    /// What psql received for `database` (the last replay into it).
    public func replayed(_ database: String) -> String { String(decoding: state.read { $0.replayed[database] ?? [] }, as: UTF8.self) }

    final class FakeSink: ReplaySink, Sendable {
        let database: String
        let owner: FakeDatabase
        private let bytes = Mutex<[UInt8]>([])
        private let aborted = Mutex(false)
        init(database: String, owner: FakeDatabase) {
            self.database = database
            self.owner = owner
        }
        func write(_ b: [UInt8]) throws { bytes.withLock { $0 += b } }
        func abort() { aborted.withLock { $0 = true } }
        func finish() -> Termination {
            let all = bytes.withLock { $0 }
            let committed = !aborted.withLock { $0 } && String(decoding: all.suffix(8), as: UTF8.self).hasSuffix("COMMIT;\n")
            owner.state.update { s in
                s.replayed[database] = all
                s.calls.append("replay \(database) \(committed ? "committed" : "rolled back")")
                if committed { s.databases[database] = s.artifactModel }
            }
            return Termination(exitStatus: 0, signal: nil, stderr: "")
        }
    }

    final class FakeDump: DumpSource, Sendable {
        let bytes: [UInt8]
        let hangs: Bool
        let owner: FakeDatabase
        private let stopped = DispatchSemaphore(value: 0)
        init(bytes: [UInt8], hangs: Bool, owner: FakeDatabase) {
            self.bytes = bytes
            self.hangs = hangs
            self.owner = owner
        }
        func readAll(_ body: ([UInt8]) throws -> Void) throws {
            var i = 0
            while i < bytes.count {
                try body(Array(bytes[i..<min(i + 7000, bytes.count)]))
                i += 7000
                if hangs {
                    stopped.wait()
                    return
                }
            }
        }
        func wait() -> Termination {
            Termination(exitStatus: owner.state.read { $0.dumpStopped } ? nil : 0, signal: owner.state.read { $0.dumpStopped } ? 15 : nil, stderr: "")
        }
        func stop() {
            owner.state.update { $0.dumpStopped = true }
            stopped.signal()
        }
    }

    final class FakeSnapshot: SnapshotSession, Sendable {
        let db: FakeDatabase
        let database: String
        let snapshotID = "00000003-00000002-1"
        init(db: FakeDatabase, database: String) {
            self.db = db
            self.database = database
        }
        func query(_ sql: String) throws -> [String] { try db.query(sql, database: database) }
        func close() {}
    }
}

/// Scripted app services: health answers in order, failures on demand, and whether the signal
/// shield was up when the services were stopped.
public final class FakeApp: AppServices, Sendable {
    public struct State: Sendable {
        public var calls: [String] = []
        public var stopFails = false
        public var startFailures = 0
        public var health: [Bool] = [true]
        public var running = true
        public var shieldUp = false
        public var stoppedWithoutShield = false
    }
    public let state = Monitor(State())
    public let names = ["authentik-server", "authentik-worker"]
    public init() {}

    public var calls: [String] { state.read { $0.calls } }
    public var running: Bool { state.read { $0.running } }

    public func stop() throws {
        let fail = state.update { s -> Bool in
            s.calls.append("stop")
            if !s.shieldUp { s.stoppedWithoutShield = true }
            if !s.stopFails { s.running = false }
            return s.stopFails
        }
        if fail { throw ErrorMessage(id: nil, code: .failed, message: "compose stop failed", hint: "scripted") }
    }

    public func start() throws {
        let fail = state.update { s -> Bool in
            s.calls.append("start")
            if s.startFailures > 0 { s.startFailures -= 1; return true }
            s.running = true
            return false
        }
        if fail { throw ErrorMessage(id: nil, code: .failed, message: "compose up failed", hint: "scripted") }
    }

    public func waitHealthy(timeout: TimeInterval) -> Health {
        let ok = state.update { s -> Bool in
            s.calls.append("health")
            let next = s.health.count > 1 ? s.health.removeFirst() : (s.health.first ?? true)
            return next && s.running
        }
        return Health(ok: ok, detail: ok ? "ready endpoint answered 200" : "ready endpoint answered 503")
    }

    public func runningVersion() -> String? { "2025.10.1" }
}

public enum Harness {
    /// A fixed signing key for tests.
    public static let key = SigningKey(privateKey: try! Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 7, count: 32)))
    public static let otherKey = SigningKey(privateKey: try! Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 9, count: 32)))

    public static func context(db: FakeDatabase = FakeDatabase(), app: FakeApp = FakeApp(), stateDir: String? = nil,
                        clock: Date = Date(timeIntervalSince1970: 1_800_000_000), signingKey: SigningKey? = Harness.key,
                        trustedKeys: [String] = [], log: Monitor<[String]> = Monitor([]),
                        configure: (inout AgentConfig) -> Void = { _ in }) -> AgentContext {
        var config = AgentConfig()
        configure(&config)
        config.stateDir = stateDir ?? (NSTemporaryDirectory() + "akbackup-agent-test-" + UUID().uuidString)
        config.trustedKeys = trustedKeys
        return AgentContext(config: config, hostName: "infra-core", database: { db }, app: app, signingKey: { signingKey },
                            log: { line in log.update { $0.append(line) } },
                            shield: { app.state.update { $0.shieldUp = true } },
                            clock: { abs(clock.timeIntervalSinceNow) < 5 ? Date() : clock })
    }

    /// A manifest for `bytes` (a gzip'd dump), signed by `key`.
    public static func manifest(for bytes: [UInt8], name: String = "authentik-db-2027-01-15T080000Z.sql.gz", model: FakeDatabase.Model = FakeDatabase.sample,
                         signedBy key: SigningKey? = Harness.key) throws -> Manifest {
        var m = Manifest(name: name, sha256: Hex.encode(SHA256.hash(data: bytes)), size: Int64(bytes.count), uncompressedSize: 1,
                         startedAt: "2027-01-15T08:00:00Z", finishedAt: "2027-01-15T08:00:05Z",
                         source: SourceFacts(host: "infra-core", database: "authentik", postgresVersion: "15.18", pgDumpVersion: "pg_dump 15.18",
                                             authentikVersion: "2025.10.1", latestMigration: nil),
                         rowCounts: model.rowCounts, schemaDigests: model.digests, compression: "gzip -6")
        if let key { try m.sign(with: key.privateKey) }
        return m
    }
}

/// The agent's request loop on one end of an in-memory pipe; the test is the controller on the other.
public final class InProcessAgent {
    public let client: ClientSession
    let ended = DispatchSemaphore(value: 0)
    private let outcome = Monitor<ServerSession.SessionEnd?>(nil)

    public init(context: AgentContext, timing: ServerSession.Timing = ServerSession.Timing()) throws {
        let (serverEnd, clientEnd) = InProcessPipe.makePair(capacity: 1 << 20, writeStallTimeout: 10)
        let session = ServerSession(channel: serverEnd, hello: Hello(role: .agent, host: "infra-core"), timing: timing, log: { _ in })
        let thread = Thread { [outcome, ended] in
            let o = AgentServer.serve(session: session, context: context, configSource: "test")
            serverEnd.close()
            outcome.update { $0 = o }
            ended.signal()
        }
        thread.start()
        client = ClientSession(channel: clientEnd, host: "infra-core", peerTimeout: 20)
        try client.handshake(expecting: .agent, localHost: "laptop")
    }

    /// Waits for the agent's loop to end (after the client closed or went away).
    public func waitForEnd(seconds: TimeInterval = 20) -> ServerSession.SessionEnd? {
        guard ended.wait(timeout: .now() + seconds) == .success else { return nil }
        return outcome.read { $0 }
    }
}

/// Connects the controller's runners to an in-process agent (scripted host) and an in-process
/// receiver (a real directory), each on its own in-memory pipe: `BackupRunner`, `RestoreRunner`,
/// `Status` and `Catalog` run end to end in milliseconds.
public struct InProcessConnector: Connector {
    public let agent: AgentContext
    public let store: BackupStore
    public let now: @Sendable () -> Date

    public init(agent: AgentContext, store: BackupStore, now: @escaping @Sendable () -> Date = { Date() }) {
        self.agent = agent
        self.store = store
        self.now = now
    }

    public var peerTimeout: TimeInterval { 20 }

    public func openChannel(role: Role, remote: ControllerConfig.Remote) throws -> (channel: ByteChannel, checks: [Check]) {
        let (serverEnd, clientEnd) = InProcessPipe.makePair(capacity: 1 << 20, writeStallTimeout: 10)
        let (agent, store, now) = (self.agent, self.store, self.now)
        Thread {
            if role == .agent {
                let session = ServerSession(channel: serverEnd, hello: Hello(role: .agent, host: "infra-core"), log: { _ in })
                _ = AgentServer.serve(session: session, context: agent, configSource: "in-process")
            } else {
                let session = ServerSession(channel: serverEnd, hello: Hello(role: .receiver, host: "nas"), log: { _ in })
                _ = ReceiverServer.serve(session: session, store: store, configSource: "in-process", log: { _ in }, now: now)
            }
            serverEnd.close()
        }.start()
        return (clientEnd, [Check(name: "connection", ok: true, detail: "in-process \(role.rawValue)")])
    }
}
