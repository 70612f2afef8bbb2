import Foundation

/// Messages of the backup path: agent dumps, controller relays, receiver stores.
///
///   controller → agent:    backup
///   agent → controller:    backup.started, data + raw frames + empty frame, backup.result | error
///   controller → receiver: upload, (upload.ready), data + raw frames + empty frame, upload.commit | upload.abort
///   receiver → controller: upload.ready, upload.result | error

/// Asks the agent for a dump of its database. The agent decides everything else from its own config.
public struct BackupRequest: RequestBound {
    public static let type = "backup"
    public var id: UInt64
    /// Compression threads; nil means the agent host's core count minus one.
    public var threads: Int?
    public init(id: UInt64, threads: Int? = nil) {
        self.id = id
        self.threads = threads
    }
    public func validate() throws {
        if let t = threads { try FieldChecks(Self.type).range(t, 1...16, "threads") }
    }
}

/// Facts about the source, known before the first byte of the dump.
public struct SourceFacts: Codable, Equatable, Sendable {
    public var host: String
    public var database: String
    public var postgresVersion: String
    public var pgDumpVersion: String
    /// Latest row of authentik_version_history, when the table exists.
    public var authentikVersion: String?
    /// Latest django_migrations entry, "app.name".
    public var latestMigration: String?

    public init(host: String, database: String, postgresVersion: String, pgDumpVersion: String,
                authentikVersion: String?, latestMigration: String?) {
        self.host = host
        self.database = database
        self.postgresVersion = postgresVersion
        self.pgDumpVersion = pgDumpVersion
        self.authentikVersion = authentikVersion
        self.latestMigration = latestMigration
    }
}

/// The agent has the lock and pg_dump is running; the artifact's name is fixed by its start time.
public struct BackupStarted: RequestBound {
    public static let type = "backup.started"
    public var id: UInt64
    public var name: String
    public var startedAt: String
    public var source: SourceFacts
    public init(id: UInt64, name: String, startedAt: String, source: SourceFacts) {
        self.id = id
        self.name = name
        self.startedAt = startedAt
        self.source = source
    }
}

/// The dump finished cleanly: pg_dump exited 0, wrote its trailer, and the agent signed the manifest
/// that describes the bytes it sent.
public struct BackupResult: RequestBound {
    public static let type = "backup.result"
    public var id: UInt64
    public var manifest: Manifest
    public var compressionThreads: Int
    public init(id: UInt64, manifest: Manifest, compressionThreads: Int) {
        self.id = id
        self.manifest = manifest
        self.compressionThreads = compressionThreads
    }
    public func validate() throws {
        try manifest.validate(Self.type)
        try FieldChecks(Self.type).range(compressionThreads, 1...16, "compressionThreads")
    }
}

/// Asks the receiver to accept a new artifact named `name` (it checks the name's pattern).
public struct UploadRequest: RequestBound {
    public static let type = "upload"
    public var id: UInt64
    public var name: String
    public init(id: UInt64, name: String) {
        self.id = id
        self.name = name
    }
}

/// The receiver created `NAME.partial` and waits for the data.
public struct UploadReady: RequestBound {
    public static let type = "upload.ready"
    public var id: UInt64
    public var freeBytes: Int64?
    public init(id: UInt64, freeBytes: Int64?) {
        self.id = id
        self.freeBytes = freeBytes
    }
    public func validate() throws {
        if let f = freeBytes { try FieldChecks(Self.type).size(f, "freeBytes") }
    }
}

/// All data was sent: publish it if the agent-signed manifest describes exactly these bytes.
public struct UploadCommit: RequestBound {
    public static let type = "upload.commit"
    public var id: UInt64
    public var manifest: Manifest
    public init(id: UInt64, manifest: Manifest) {
        self.id = id
        self.manifest = manifest
    }
    public func validate() throws { try manifest.validate(Self.type) }
}

/// The upload failed upstream: delete `NAME.partial`.
public struct UploadAbort: RequestBound {
    public static let type = "upload.abort"
    public var id: UInt64
    public var reason: String
    public init(id: UInt64, reason: String) {
        self.id = id
        self.reason = reason
    }
}

public struct UploadResult: RequestBound {
    public static let type = "upload.result"
    public var id: UInt64
    public var name: String
    public var size: Int64
    public var sha256: String
    public init(id: UInt64, name: String, size: Int64, sha256: String) {
        self.id = id
        self.name = name
        self.size = size
        self.sha256 = sha256
    }
    public func validate() throws {
        let c = FieldChecks(Self.type)
        try c.size(size, "size")
        try c.sha256(sha256, "sha256")
    }
}

/// `NAME.json` beside each artifact: what it is, where it came from, what it holds — signed by the
/// agent that made it (§12). Only the agent's signature makes a backup restorable.
public struct Manifest: SignedDocument, Equatable {
    public static let signingDomain = "akbackup-manifest-2"
    public var format = "akbackup-manifest-2"
    public var name: String
    public var sha256: String
    public var size: Int64
    public var uncompressedSize: Int64
    public var startedAt: String
    public var finishedAt: String
    public var source: SourceFacts
    /// Data lines of each `COPY` section, by the table named in its header.
    public var rowCounts: [String: Int64]
    /// SHA-256 of each kind of schema object's definitions, computed in the dump's own snapshot
    /// (tables, constraints, indexes, views, functions, triggers, sequences, large objects, …).
    public var schemaDigests: [String: String]?
    public var compression: String
    public var software: String
    public var signature: Signature?

    public init(name: String, sha256: String, size: Int64, uncompressedSize: Int64, startedAt: String, finishedAt: String,
                source: SourceFacts, rowCounts: [String: Int64], schemaDigests: [String: String]? = nil,
                compression: String, software: String = AKVersion.software, signature: Signature? = nil) {
        self.name = name
        self.sha256 = sha256
        self.size = size
        self.uncompressedSize = uncompressedSize
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.source = source
        self.rowCounts = rowCounts
        self.schemaDigests = schemaDigests
        self.compression = compression
        self.software = software
        self.signature = signature
    }

    /// Range checks, as part of the message `type` that carries it.
    public func validate(_ type: String) throws {
        let c = FieldChecks(type)
        try c.size(size, "manifest.size")
        try c.size(uncompressedSize, "manifest.uncompressedSize")
        try c.sha256(sha256, "manifest.sha256")
        for (table, n) in rowCounts { try c.count(n, "manifest.rowCounts.\(table.prefix(64))") }
        for (kind, digest) in schemaDigests ?? [:] { try c.sha256(digest, "manifest.schemaDigests.\(kind.prefix(64))") }
    }
}

/// Asks the receiver for its artifacts, newest first, one page at a time.
public struct ListRequest: RequestBound {
    public static let type = "list"
    public var id: UInt64
    /// Entries to skip (newest first); absent: 0.
    public var offset: Int?
    /// Most entries to return (1 … 1000); absent: 1000.
    public var limit: Int?
    public init(id: UInt64, offset: Int? = nil, limit: Int? = nil) {
        self.id = id
        self.offset = offset
        self.limit = limit
    }
    public func validate() throws {
        try FieldChecks(Self.type).page(offset: offset, limit: limit)
    }
}

public struct ArtifactInfo: Codable, Equatable, Sendable {
    public var name: String
    public var size: Int64
    public var modifiedAt: String
    /// Nil for a dump made by hand with the runbook (no manifest). In list.result its `rowCounts` is
    /// left empty so a page fits one message; verify.result and fetch.started carry the full manifest.
    public var manifest: Manifest?
    /// The receiver's verdict on the manifest's signature, against its trusted agent keys.
    public var signature: SignatureStatus?
    /// Its pin (`<base>.pin`, §13.4) when it is pinned: kept whatever the retention policy says.
    public var pin: Pin?
    public init(name: String, size: Int64, modifiedAt: String, manifest: Manifest?, signature: SignatureStatus? = nil, pin: Pin? = nil) {
        self.name = name
        self.size = size
        self.modifiedAt = modifiedAt
        self.manifest = manifest
        self.signature = signature
        self.pin = pin
    }
}

public struct ListResult: RequestBound {
    public static let type = "list.result"
    public var id: UInt64
    public var artifacts: [ArtifactInfo]
    /// How many artifacts there are in all (the page is `artifacts`).
    public var total: Int
    public var freeBytes: Int64?
    public init(id: UInt64, artifacts: [ArtifactInfo], total: Int, freeBytes: Int64?) {
        self.id = id
        self.artifacts = artifacts
        self.total = total
        self.freeBytes = freeBytes
    }
    public func validate() throws {
        let c = FieldChecks(Self.type)
        try c.range(total, 0...Int(Int32.max), "total")
        if let f = freeBytes { try c.size(f, "freeBytes") }
        for a in artifacts {
            try c.size(a.size, "artifacts.size")
            try a.manifest?.validate(Self.type)
            try a.pin?.validate(Self.type)
        }
    }
}

/// Asks the receiver to re-read an artifact: hash against the manifest, gzip integrity, dump trailer.
public struct VerifyRequest: RequestBound {
    public static let type = "verify"
    public var id: UInt64
    /// An artifact name, or "latest".
    public var name: String
    public init(id: UInt64, name: String) {
        self.id = id
        self.name = name
    }
}

public struct VerifyResult: RequestBound {
    public static let type = "verify.result"
    public var id: UInt64
    public var name: String
    public var ok: Bool
    /// Why it is corrupt, when it is.
    public var reason: String?
    public var sha256: String
    public var size: Int64
    public var uncompressedSize: Int64
    public var hasManifest: Bool
    public var rowCounts: [String: Int64]
    /// The full manifest (list.result leaves its row counts out to stay small).
    public var manifest: Manifest?
    /// The receiver's verdict on the manifest's signature.
    public var signature: SignatureStatus
    public init(id: UInt64, name: String, ok: Bool, reason: String?, sha256: String, size: Int64, uncompressedSize: Int64,
                hasManifest: Bool, rowCounts: [String: Int64], manifest: Manifest? = nil, signature: SignatureStatus) {
        self.id = id
        self.name = name
        self.ok = ok
        self.reason = reason
        self.sha256 = sha256
        self.size = size
        self.uncompressedSize = uncompressedSize
        self.hasManifest = hasManifest
        self.rowCounts = rowCounts
        self.manifest = manifest
        self.signature = signature
    }
    public func validate() throws {
        let c = FieldChecks(Self.type)
        try c.size(size, "size")
        try c.size(uncompressedSize, "uncompressedSize")
        try c.sha256(sha256, "sha256")
        for (table, n) in rowCounts { try c.count(n, "rowCounts.\(table.prefix(64))") }
        try manifest?.validate(Self.type)
    }
}

/// Artifact names: the runbook's `authentik-db-YYYY-MM-DDTHHMMSSZ.sql.gz` (UTC).
public enum ArtifactName {
    public static let prefix = "authentik-db-"
    public static let suffix = ".sql.gz"

    public static func isValid(_ name: String) -> Bool {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return false }
        let stamp = Array(name.dropFirst(prefix.count).dropLast(suffix.count).utf8)
        // YYYY-MM-DDTHHMMSSZ: 18 characters, digits except the fixed separators.
        guard stamp.count == 18 else { return false }
        for (i, c) in stamp.enumerated() {
            switch i {
            case 4, 7: if c != UInt8(ascii: "-") { return false }
            case 10: if c != UInt8(ascii: "T") { return false }
            case 17: if c != UInt8(ascii: "Z") { return false }
            default: if !(c >= 0x30 && c <= 0x39) { return false }
            }
        }
        return true
    }

    /// The name for a dump started at `date` (UTC), as the runbook's `date -u +%Y-%m-%dT%H%M%SZ`.
    public static func make(at date: Date) -> String {
        let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
        let stamp = String(format: "%04d-%02d-%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
        return prefix + stamp + suffix
    }

    /// The instant a valid name stands for; nil for an invalid name or an impossible date.
    public static func date(of name: String) -> Date? {
        guard isValid(name) else { return nil }
        let s = Array(name.dropFirst(prefix.count).utf8)
        func num(_ r: Range<Int>) -> Int { Int(String(decoding: s[r], as: UTF8.self))! }
        var c = DateComponents()
        c.calendar = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")
        (c.year, c.month, c.day) = (num(0..<4), num(5..<7), num(8..<10))
        (c.hour, c.minute, c.second) = (num(11..<13), num(13..<15), num(15..<17))
        guard c.isValidDate, let d = c.date else { return nil }
        return d
    }
}
