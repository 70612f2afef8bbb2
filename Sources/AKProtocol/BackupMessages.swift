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
    /// Also send Authentik's files as a second stream (§15): the controller asks only when the
    /// receiver can store a files member. Absent: the dump alone, as protocol 2 without §15.
    public var files: Bool?
    public init(id: UInt64, threads: Int? = nil, files: Bool? = nil) {
        self.id = id
        self.threads = threads
        self.files = files
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
    /// The set's second member, Authentik's files (§15); absent when the stack mounts none.
    public var files: FilesMember?
    /// HMAC-SHA256 of AUTHENTIK_SECRET_KEY under a fixed label (§15.4): tells a restore whether the
    /// running secret key is the one of the backup, and nothing about the key.
    public var secretKeyFingerprint: String?
    public var signature: Signature?

    public init(name: String, sha256: String, size: Int64, uncompressedSize: Int64, startedAt: String, finishedAt: String,
                source: SourceFacts, rowCounts: [String: Int64], schemaDigests: [String: String]? = nil,
                compression: String, software: String = AKVersion.software, files: FilesMember? = nil,
                secretKeyFingerprint: String? = nil, signature: Signature? = nil) {
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
        self.files = files
        self.secretKeyFingerprint = secretKeyFingerprint
        self.signature = signature
    }

    /// Range checks, as part of the message `type` that carries it.
    public func validate(_ type: String) throws {
        let c = FieldChecks(type)
        if let files {
            guard files.name == ArtifactName.filesName(for: name) else {
                throw c.fail("manifest.files.name", "must be the files member of \(name.prefix(64))")
            }
            try files.validate(type)
        }
        if let f = secretKeyFingerprint { try c.sha256(f, "manifest.secretKeyFingerprint") }
        try c.size(size, "manifest.size")
        try c.size(uncompressedSize, "manifest.uncompressedSize")
        try c.sha256(sha256, "manifest.sha256")
        for (table, n) in rowCounts { try c.count(n, "manifest.rowCounts.\(table.prefix(64))") }
        for (kind, digest) in schemaDigests ?? [:] { try c.sha256(digest, "manifest.schemaDigests.\(kind.prefix(64))") }
    }
}

/// The files member of a backup set (§15): `authentik-files-STAMP.tar.gz`, same stamp as the dump.
public struct FilesMember: Codable, Equatable, Sendable {
    public var name: String
    public var sha256: String
    public var size: Int64
    /// Uncompressed tar bytes.
    public var tarSize: Int64
    public var mounts: [FilesMount]
    public init(name: String, sha256: String, size: Int64, tarSize: Int64, mounts: [FilesMount]) {
        self.name = name
        self.sha256 = sha256
        self.size = size
        self.tarSize = tarSize
        self.mounts = mounts
    }

    public func validate(_ type: String) throws {
        let c = FieldChecks(type)
        try c.size(size, "manifest.files.size")
        try c.size(tarSize, "manifest.files.tarSize")
        try c.sha256(sha256, "manifest.files.sha256")
        try c.range(mounts.count, 0...FilesMount.maxMounts, "manifest.files.mounts")
        var seen = Set<String>()
        for m in mounts {
            try m.validate(type)
            guard seen.insert(m.containerPath).inserted else { throw c.fail("manifest.files.mounts", "\(m.containerPath) is listed twice") }
        }
        // No mount may hold another: each is unpacked and swapped in as one directory.
        for a in mounts { for b in mounts where a.containerPath != b.containerPath && b.containerPath.hasPrefix(a.containerPath + "/") {
            throw c.fail("manifest.files.mounts", "\(b.containerPath) lies inside \(a.containerPath)")
        } }
    }
}

/// One directory of Authentik's files as it was archived: where the app sees it, and what it held.
/// `digest` is SHA-256 over one line per entry (kind, mode, size, content SHA-256 or link target,
/// path; no owners or times, §15.2), so an unpacked copy can be checked without the archive.
public struct FilesMount: Codable, Equatable, Sendable {
    public static let maxMounts = 16
    public var containerPath: String
    public var files: Int64
    public var directories: Int64
    public var symlinks: Int64
    public var bytes: Int64
    public var digest: String
    public init(containerPath: String, files: Int64, directories: Int64, symlinks: Int64, bytes: Int64, digest: String) {
        self.containerPath = containerPath
        self.files = files
        self.directories = directories
        self.symlinks = symlinks
        self.bytes = bytes
        self.digest = digest
    }

    /// Container paths akbackup takes (§15.1): Authentik's file storage, templates, certificates, blueprints.
    public static func isAuthentikFiles(_ path: String) -> Bool {
        guard isPlainAbsolute(path) else { return false }
        return ["/media", "/data", "/templates", "/certs", "/blueprints"].contains(path) || path.hasPrefix("/blueprints/")
    }

    /// `/a/b`: absolute, no empty, `.` or `..` component, no trailing slash, printable, at most 255 bytes.
    public static func isPlainAbsolute(_ path: String) -> Bool {
        guard path.hasPrefix("/"), path.utf8.count <= 255, path.count > 1, !path.hasSuffix("/") else { return false }
        for part in path.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            if part.isEmpty || part == "." || part == ".." { return false }
        }
        return path.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7f }
    }

    public func validate(_ type: String) throws {
        let c = FieldChecks(type)
        guard FilesMount.isAuthentikFiles(containerPath) else {
            throw c.fail("manifest.files.mounts.containerPath", "\(containerPath.prefix(64).debugDescription) is not one of Authentik's file directories")
        }
        for (v, f) in [(files, "files"), (directories, "directories"), (symlinks, "symlinks")] { try c.count(v, "manifest.files.mounts.\(f)") }
        try c.size(bytes, "manifest.files.mounts.bytes")
        try c.sha256(digest, "manifest.files.mounts.digest")
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
    /// What the NAS read of the set's files member (§15), when the manifest names one.
    public var filesSize: Int64?
    public var filesSHA256: String?
    /// Why the files member is missing or corrupt (then `ok` is false and `reason` says the same,
    /// unless the dump itself failed): the database alone may still be restored.
    public var filesProblem: String?
    public init(id: UInt64, name: String, ok: Bool, reason: String?, sha256: String, size: Int64, uncompressedSize: Int64,
                hasManifest: Bool, rowCounts: [String: Int64], manifest: Manifest? = nil, signature: SignatureStatus,
                filesSize: Int64? = nil, filesSHA256: String? = nil, filesProblem: String? = nil) {
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
        self.filesSize = filesSize
        self.filesSHA256 = filesSHA256
        self.filesProblem = filesProblem
    }
    /// Only the files member failed: the dump is whole.
    public var onlyFilesFailed: Bool { !ok && filesProblem != nil && reason == filesProblem }
    public func validate() throws {
        let c = FieldChecks(Self.type)
        try c.size(size, "size")
        if let f = filesSize { try c.size(f, "filesSize") }
        if let f = filesSHA256 { try c.sha256(f, "filesSHA256") }
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

    public static let filesPrefix = "authentik-files-"
    public static let filesSuffix = ".tar.gz"

    /// The files member of the set whose dump is `dumpName` (§15): same stamp.
    public static func filesName(for dumpName: String) -> String {
        filesPrefix + String(dumpName.dropFirst(prefix.count).dropLast(suffix.count)) + filesSuffix
    }

    /// `authentik-files-STAMP.tar.gz` with a valid stamp.
    public static func isValidFilesName(_ name: String) -> Bool {
        guard name.hasPrefix(filesPrefix), name.hasSuffix(filesSuffix) else { return false }
        return isValid(prefix + String(name.dropFirst(filesPrefix.count).dropLast(filesSuffix.count)) + suffix)
    }

    /// The dump of the set a files member belongs to.
    public static func dumpName(forFiles name: String) -> String {
        prefix + String(name.dropFirst(filesPrefix.count).dropLast(filesSuffix.count)) + suffix
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
