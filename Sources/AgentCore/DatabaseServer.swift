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
    /// Size and free space of the file system holding PostgreSQL's data directory, when they can be told.
    func dataVolume() -> VolumeSpace?
}

/// A file system's size and the bytes free on it (for an unprivileged user: `df`'s "Available").
public struct VolumeSpace: Equatable, Sendable {
    public var totalBytes: Int64
    public var freeBytes: Int64
    public init(totalBytes: Int64, freeBytes: Int64) {
        self.totalBytes = totalBytes
        self.freeBytes = freeBytes
    }
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

    /// Every database whose name starts like one of akbackup's (`AgentDatabases.familyPattern`), with
    /// its size: the undo policy's input. Names that start like akbackup's but do not parse are listed
    /// too, so they can be reported (and are never dropped). Names holding a control character or `|`
    /// are not listed: akbackup never makes them, and they could not be read back line by line.
    public func undoCandidates() throws -> [DatabaseInfo] {
        let pattern = AgentDatabases.familyPattern + "[^|[:cntrl:]]*$"
        return try query("SELECT pg_database_size(datname) || '|' || datname FROM pg_database WHERE datname ~ \(SQL.literal(pattern)) ORDER BY datname",
                         database: "postgres").compactMap { line in
            guard let bar = line.firstIndex(of: "|"), let size = Int64(line[..<bar]) else { return nil }
            return DatabaseInfo(name: String(line[line.index(after: bar)...]), sizeBytes: size)
        }
    }

    /// Free bytes on the volume holding the data directory, when it can be told.
    public func freeBytes() -> Int64? { dataVolume()?.freeBytes }

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

    /// Names that start like akbackup's, whatever follows the prefix: the undo policy reports those
    /// whose stamp does not parse instead of ignoring them.
    public static let familyPattern = "^authentik_(pre_restore|restore|restoretest|failed|undone)_"

    /// Each prefix and what a database of that name is.
    static let prefixes: [(prefix: String, kind: UndoKind)] = [
        ("authentik_pre_restore_", .preRestore), ("authentik_restoretest_", .scratch), ("authentik_restore_", .staging),
        ("authentik_failed_", .failed), ("authentik_undone_", .undone),
    ]

    /// The kind and the text after the prefix, for a name in akbackup's family; nil for any other name.
    public static func classify(_ name: String) -> (kind: UndoKind, stamp: String)? {
        // authentik_restoretest_ is tried before authentik_restore_, which is its prefix.
        for (prefix, kind) in prefixes where name.hasPrefix(prefix) {
            return (kind, String(name.dropFirst(prefix.count)))
        }
        return nil
    }

    /// The UTC time a stamp (yyyymmddhhmmss, as `AgentContext.stamp()` writes it) stands for; nil unless it
    /// is exactly 14 digits naming a real time (no month 13, no February 30, no second 60).
    public static func date(ofStamp stamp: String) -> Date? {
        guard stamp.utf8.count == 14, stamp.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        let digits = Array(stamp.utf8).map { Int($0) - 0x30 }
        func number(_ from: Int, _ count: Int) -> Int { digits[from..<from + count].reduce(0) { $0 * 10 + $1 } }
        let (year, month, day) = (number(0, 4), number(4, 2), number(6, 2))
        let (hour, minute, second) = (number(8, 2), number(10, 2), number(12, 2))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        // Calendar rolls impossible values over (month 13 → next January): only a round trip proves the stamp.
        guard year >= 1970, let date = calendar.date(from: parts) else { return nil }
        let back = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        guard back.year == year, back.month == month, back.day == day, back.hour == hour, back.minute == minute, back.second == second else {
            return nil
        }
        return date
    }

    /// The pre-restore database `restore --undo` puts back: the newest whose stamp names a real time (for
    /// those, name order is time order; `…_20261399000000`, month 13, is not akbackup's and would sort
    /// last). One place, so the undo policy can be proven never to drop it.
    public static func newestPreRestore(_ names: [String]) -> String? {
        names.filter { name in
            guard let (kind, stamp) = classify(name), kind == .preRestore, isOwn(name) else { return false }
            return date(ofStamp: stamp) != nil
        }.max()
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
