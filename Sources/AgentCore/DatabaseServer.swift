import AKBase
import AKProtocol
import Foundation
import ProcessRunner

/// The PostgreSQL server the agent backs up and restores. The one seam between the agent's jobs and
/// the database: the real one (`DockerPostgres`) runs psql and pg_dump in the container; tests use a
/// scripted fake (Tests/AgentCoreTests/Harness.swift) to drive every decision without a lab.
public protocol DatabaseServer: Sendable {
    /// The live database (from the agent's config).
    var liveDatabase: String { get }
    /// The role that owns the databases the agent creates.
    var owner: String { get }
    /// One query on `database` (nil: the live one); its rows as `-At` text lines.
    func query(_ sql: String, database: String?) throws -> [String]
    func createDatabase(_ name: String) throws
    /// Ends the database's sessions first (`WITH (FORCE)`); no error if it does not exist.
    func dropDatabase(_ name: String) throws
    /// Ends the sessions on `from` first; retried a few times (a reconnecting app may race it).
    func renameDatabase(_ from: String, to: String) throws
    /// psql reading SQL from its stdin into `database`, as the container's database OS user.
    func startReplay(into database: String) throws -> ReplaySink
    /// pg_dump of `database` (plain SQL) on stdout, in `snapshot` when given.
    func startDump(of database: String, snapshot: String?) throws -> DumpSource
    /// A session holding a repeatable-read, read-only transaction on `database` whose snapshot is
    /// exported, for pg_dump and the manifest's facts to see the same instant.
    func openSnapshot(on database: String) throws -> SnapshotSession
    /// What `TOOL --version` says in the container ("psql (PostgreSQL) 15.18 (Debian …)").
    func toolVersion(_ tool: String) -> String?
    /// Free bytes on the volume holding the data directory, when it can be told.
    func freeBytes() -> Int64?
}

/// Where a replay's SQL goes.
public protocol ReplaySink: AnyObject, Sendable {
    func write(_ bytes: [UInt8]) throws
    /// Ends the input (what was not committed is rolled back by PostgreSQL) and waits for psql.
    func finish() -> Termination
    /// Stops psql at once.
    func abort()
}

/// Where a dump's SQL comes from.
public protocol DumpSource: AnyObject, Sendable {
    func readAll(_ body: ([UInt8]) throws -> Void) throws
    func wait() -> Termination
    func stop()
}

/// An open snapshot: its id, and queries that see exactly it.
public protocol SnapshotSession: AnyObject, Sendable {
    var snapshotID: String { get }
    func query(_ sql: String) throws -> [String]
    func close()
}

extension DatabaseServer {
    public func databaseExists(_ name: String) throws -> Bool {
        try query("SELECT 1 FROM pg_database WHERE datname = \(SQL.literal(name))", database: "postgres").first == "1"
    }

    /// Databases akbackup made: undo points, and leftovers of interrupted restores.
    public func ownDatabases() throws -> [DatabaseInfo] {
        try query("SELECT datname || '|' || pg_database_size(datname) FROM pg_database WHERE datname ~ \(SQL.literal(AgentDatabases.ownPattern)) ORDER BY datname",
                  database: "postgres").compactMap { line in
            let f = line.split(separator: "|")
            guard f.count == 2, let size = Int64(f[1]) else { return nil }
            return DatabaseInfo(name: String(f[0]), sizeBytes: size)
        }
    }

    public func databaseSize(_ name: String) throws -> Int64? {
        try query("SELECT pg_database_size(\(SQL.literal(name)))", database: "postgres").first.flatMap { Int64($0) }
    }
}

/// The names of the databases the agent makes, one place.
public enum AgentDatabases {
    /// Databases this agent creates; only these may be dropped on request.
    public static let ownPattern = "^authentik_(pre_restore|restore|restoretest|failed|undone)_[0-9]{14}$"

    public static func isOwn(_ name: String) -> Bool {
        name.range(of: ownPattern, options: .regularExpression) != nil
    }

    public static func staging(_ stamp: String) -> String { "authentik_restore_\(stamp)" }
    public static func scratch(_ stamp: String) -> String { "authentik_restoretest_\(stamp)" }
    public static func preRestore(_ stamp: String) -> String { "authentik_pre_restore_\(stamp)" }
    public static func failed(_ stamp: String) -> String { "authentik_failed_\(stamp)" }
    public static func undone(_ stamp: String) -> String { "authentik_undone_\(stamp)" }
}

/// SQL quoting, the one place identifiers and literals are written into SQL.
public enum SQL {
    /// A double-quoted identifier.
    public static func ident(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
    /// A standard string literal (standard_conforming_strings is on since PostgreSQL 9.1).
    public static func literal(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
}

/// Table names as pg_dump writes them in COPY headers: `schema.table`, each part plain or quoted.
public enum QualifiedTableName {
    static let part = "(\"([^\"]|\"\")+\"|[a-z_][a-z0-9_$]*)"
    public static func isValid(_ s: String) -> Bool {
        s.count < 300 && s.range(of: "^\(part)\\.\(part)$", options: .regularExpression) != nil
    }
    public static func schema(of s: String) -> String {
        if s.hasPrefix("\""), let end = s.dropFirst().range(of: "\".") {
            return String(s[s.index(after: s.startIndex)..<end.lowerBound]).replacingOccurrences(of: "\"\"", with: "\"")
        }
        return String(s.prefix(while: { $0 != "." }))
    }
}
