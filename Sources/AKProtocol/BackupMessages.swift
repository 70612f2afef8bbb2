/// Messages of the backup path: agent dumps, controller relays, receiver stores.
///
///   controller → agent:    backup
///   agent → controller:    backup.started, data + raw frames + empty frame, backup.result | error
///   controller → receiver: upload, (upload.ready), data + raw frames + empty frame, upload.commit | upload.abort
///   receiver → controller: upload.ready, upload.result | error

/// Asks the agent for a dump of its database. The agent decides everything else from its own config.
public struct BackupRequest: Codable, Equatable, Sendable {
    public var id: UInt64
    /// Compression threads; nil means the agent host's core count.
    public var threads: Int?
    public init(id: UInt64, threads: Int? = nil) {
        self.id = id
        self.threads = threads
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
public struct BackupStarted: Codable, Equatable, Sendable {
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

/// The dump finished cleanly: pg_dump exited 0, wrote its trailer, and these describe the bytes sent.
public struct BackupResult: Codable, Equatable, Sendable {
    public var id: UInt64
    public var size: Int64
    public var sha256: String
    public var uncompressedSize: Int64
    public var rowCounts: [String: Int64]
    public var finishedAt: String
    public var compressionThreads: Int
    public init(id: UInt64, size: Int64, sha256: String, uncompressedSize: Int64, rowCounts: [String: Int64],
                finishedAt: String, compressionThreads: Int) {
        self.id = id
        self.size = size
        self.sha256 = sha256
        self.uncompressedSize = uncompressedSize
        self.rowCounts = rowCounts
        self.finishedAt = finishedAt
        self.compressionThreads = compressionThreads
    }
}

/// Asks the receiver to accept a new artifact named `name` (it checks the name's pattern).
public struct UploadRequest: Codable, Equatable, Sendable {
    public var id: UInt64
    public var name: String
    public init(id: UInt64, name: String) {
        self.id = id
        self.name = name
    }
}

/// The receiver created `NAME.partial` and waits for the data.
public struct UploadReady: Codable, Equatable, Sendable {
    public var id: UInt64
    public var freeBytes: Int64?
    public init(id: UInt64, freeBytes: Int64?) {
        self.id = id
        self.freeBytes = freeBytes
    }
}

/// All data was sent: check it against `size` and `sha256`, then publish it with this manifest.
public struct UploadCommit: Codable, Equatable, Sendable {
    public var id: UInt64
    public var size: Int64
    public var sha256: String
    public var manifest: Manifest
    public init(id: UInt64, size: Int64, sha256: String, manifest: Manifest) {
        self.id = id
        self.size = size
        self.sha256 = sha256
        self.manifest = manifest
    }
}

/// The upload failed upstream: delete `NAME.partial`.
public struct UploadAbort: Codable, Equatable, Sendable {
    public var id: UInt64
    public var reason: String
    public init(id: UInt64, reason: String) {
        self.id = id
        self.reason = reason
    }
}

public struct UploadResult: Codable, Equatable, Sendable {
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
}

/// `NAME.json` beside each artifact: what it is, where it came from, what it holds.
public struct Manifest: Codable, Equatable, Sendable {
    public var format = "akbackup-manifest-1"
    public var name: String
    public var sha256: String
    public var size: Int64
    public var uncompressedSize: Int64
    public var startedAt: String
    public var finishedAt: String
    public var source: SourceFacts
    public var rowCounts: [String: Int64]
    public var compression: String
    public var software: String

    public init(name: String, sha256: String, size: Int64, uncompressedSize: Int64, startedAt: String, finishedAt: String,
                source: SourceFacts, rowCounts: [String: Int64], compression: String, software: String = AKVersion.software) {
        self.name = name
        self.sha256 = sha256
        self.size = size
        self.uncompressedSize = uncompressedSize
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.source = source
        self.rowCounts = rowCounts
        self.compression = compression
        self.software = software
    }
}

/// Asks the receiver for its artifacts, newest first.
public struct ListRequest: Codable, Equatable, Sendable {
    public var id: UInt64
    public init(id: UInt64) { self.id = id }
}

public struct ArtifactInfo: Codable, Equatable, Sendable {
    public var name: String
    public var size: Int64
    public var modifiedAt: String
    /// Nil for a dump made by hand with the runbook (no manifest). In list.result its `rowCounts`
    /// is left empty so a long list fits one message; verify.result carries the full manifest.
    public var manifest: Manifest?
    public init(name: String, size: Int64, modifiedAt: String, manifest: Manifest?) {
        self.name = name
        self.size = size
        self.modifiedAt = modifiedAt
        self.manifest = manifest
    }
}

public struct ListResult: Codable, Equatable, Sendable {
    public var id: UInt64
    public var artifacts: [ArtifactInfo]
    public var freeBytes: Int64?
    public init(id: UInt64, artifacts: [ArtifactInfo], freeBytes: Int64?) {
        self.id = id
        self.artifacts = artifacts
        self.freeBytes = freeBytes
    }
}

/// Asks the receiver to re-read an artifact: hash against the manifest, gzip integrity, dump trailer.
public struct VerifyRequest: Codable, Equatable, Sendable {
    public var id: UInt64
    /// An artifact name, or "latest".
    public var name: String
    public init(id: UInt64, name: String) {
        self.id = id
        self.name = name
    }
}

public struct VerifyResult: Codable, Equatable, Sendable {
    public var id: UInt64
    public var name: String
    public var ok: Bool
    /// Why it is corrupt, when it is.
    public var reason: String?
    public var sha256: String
    public var size: Int64
    public var hasManifest: Bool
    public var rowCounts: [String: Int64]
    /// The full manifest (list.result leaves its row counts out to stay small).
    public var manifest: Manifest?
    public init(id: UInt64, name: String, ok: Bool, reason: String?, sha256: String, size: Int64, hasManifest: Bool,
                rowCounts: [String: Int64], manifest: Manifest? = nil) {
        self.id = id
        self.name = name
        self.ok = ok
        self.reason = reason
        self.sha256 = sha256
        self.size = size
        self.hasManifest = hasManifest
        self.rowCounts = rowCounts
        self.manifest = manifest
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
}

import Foundation
