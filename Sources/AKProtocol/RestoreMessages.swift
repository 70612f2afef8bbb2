import Foundation

/// Messages of the restore path: the receiver serves an artifact, the controller relays it, the agent
/// spools and checks it, replays it into a staging database and (for a real restore) swaps it in.
///
///   controller → receiver: fetch → fetch.started, data + raw frames + empty frame, fetch.result
///   controller → agent:    restore → restore.ready, (controller sends) data + frames + empty frame,
///                          agent: progress…, restore.result | error
///   controller → agent:    undo → restore.result;  databases → databases.result;  drop-database → done
///   controller → receiver: receipt.store → done;  receipts → receipts.result

/// Asks the receiver to stream an artifact ("latest" or a name).
public struct FetchRequest: RequestBound {
    public static let type = "fetch"
    public var id: UInt64
    public var name: String
    /// Also send the set's files member after the dump, as a second stream "files" (§15).
    public var files: Bool?
    public init(id: UInt64, name: String, files: Bool? = nil) {
        self.id = id
        self.name = name
        self.files = files
    }
}

/// The artifact the receiver is about to send, with its manifest when there is one.
public struct FetchStarted: RequestBound {
    public static let type = "fetch.started"
    public var id: UInt64
    public var name: String
    public var size: Int64
    public var manifest: Manifest?
    /// The files member's size when it follows the dump (asked for, and the set has one).
    public var filesSize: Int64?
    public init(id: UInt64, name: String, size: Int64, manifest: Manifest?, filesSize: Int64? = nil) {
        self.id = id
        self.name = name
        self.size = size
        self.manifest = manifest
        self.filesSize = filesSize
    }
    public func validate() throws {
        try FieldChecks(Self.type).size(size, "size")
        if let f = filesSize { try FieldChecks(Self.type).size(f, "filesSize") }
        try manifest?.validate(Self.type)
    }
}

/// What the receiver actually read and sent.
public struct FetchResult: RequestBound {
    public static let type = "fetch.result"
    public var id: UInt64
    public var size: Int64
    public var sha256: String
    /// What was read of the files member, when it was sent.
    public var filesSize: Int64?
    public var filesSHA256: String?
    public init(id: UInt64, size: Int64, sha256: String, filesSize: Int64? = nil, filesSHA256: String? = nil) {
        self.id = id
        self.size = size
        self.sha256 = sha256
        self.filesSize = filesSize
        self.filesSHA256 = filesSHA256
    }
    public func validate() throws {
        let c = FieldChecks(Self.type)
        try c.size(size, "size")
        try c.sha256(sha256, "sha256")
        if let f = filesSize { try c.size(f, "filesSize") }
        if let f = filesSHA256 { try c.sha256(f, "filesSHA256") }
    }
}

/// What a restore puts back (§15.3). Absent in a request: the database only, as before §15.
public enum RestoreScope: String, Codable, Sendable, CaseIterable {
    /// The database and, when the set has them, Authentik's files, in one downtime window.
    case all
    case database
    case files

    public var database: Bool { self != .files }
    public var files: Bool { self != .database }
}

public enum RestoreMode: String, Codable, Sendable {
    /// Replay into a staging database, validate, swap it in (live kept as the undo point).
    case swap
    /// The runbook's drop-and-recreate, for hosts without room for two copies (after a local undo copy).
    case replace
    /// Replay into a scratch database, validate, drop it; live and services untouched.
    case test
}

/// Asks the agent to restore the artifact the controller will stream after `restore.ready`.
public struct RestoreRequest: RequestBound {
    public static let type = "restore"
    public var id: UInt64
    public var mode: RestoreMode
    public var artifact: String
    /// The size and SHA-256 the stream must have: the signed manifest's, or (with `trustUnsigned`)
    /// what the receiver's preflight verify read.
    public var size: Int64
    public var sha256: String
    /// The artifact's signed manifest; absent for a dump made by hand.
    public var manifest: Manifest?
    /// Restore a dump no trusted key signed (the operator said so: `--trust-unsigned`).
    public var trustUnsigned: Bool
    /// Restore even if the artifact's Authentik version is newer than the running one.
    public var force: Bool
    /// Seconds to wait for /-/health/ready/ after the services start (1 … 3600; the agent may cap it).
    public var healthTimeout: Int
    public var requestedBy: RequestedBy
    /// What to put back; absent: the database only. With files, the files member follows the dump
    /// as a second stream "files" whose size and hash are the signed manifest's.
    public var scope: RestoreScope?

    public init(id: UInt64, mode: RestoreMode, artifact: String, size: Int64, sha256: String, manifest: Manifest?,
                trustUnsigned: Bool, force: Bool, healthTimeout: Int, requestedBy: RequestedBy, scope: RestoreScope? = nil) {
        self.id = id
        self.mode = mode
        self.artifact = artifact
        self.size = size
        self.sha256 = sha256
        self.manifest = manifest
        self.trustUnsigned = trustUnsigned
        self.force = force
        self.healthTimeout = healthTimeout
        self.requestedBy = requestedBy
        self.scope = scope
    }

    public func validate() throws {
        let c = FieldChecks(Self.type)
        try c.size(size, "size")
        try c.sha256(sha256, "sha256")
        try c.range(healthTimeout, 1...3600, "healthTimeout")
        try manifest?.validate(Self.type)
    }
}

/// The lock is held and the preflight passed: send the artifact now. Nothing has changed yet.
public struct RestoreReady: RequestBound {
    public static let type = "restore.ready"
    public var id: UInt64
    /// The database the artifact will be replayed into, once it is proven.
    public var targetDatabase: String
    public var runningAuthentikVersion: String?
    public var warnings: [String]
    public init(id: UInt64, targetDatabase: String, runningAuthentikVersion: String?, warnings: [String]) {
        self.id = id
        self.targetDatabase = targetDatabase
        self.runningAuthentikVersion = runningAuthentikVersion
        self.warnings = warnings
    }
}

/// One timed step of a restore, for the receipt.
public struct RestoreStep: Codable, Equatable, Sendable {
    public var name: String
    public var startedAt: String
    public var seconds: Double
    public var ok: Bool
    public var detail: String?
    public init(name: String, startedAt: String, seconds: Double, ok: Bool, detail: String? = nil) {
        self.name = name
        self.startedAt = startedAt
        self.seconds = seconds
        self.ok = ok
        self.detail = detail
    }
}

/// The staging database compared with the manifest.
public struct ValidationReport: Codable, Equatable, Sendable {
    public var ok: Bool
    public var rowCounts: [String: Int64]
    public var problems: [String]
    /// The kinds of schema objects compared with the manifest's digests (absent: none were).
    public var schemaChecked: [String]?
    public init(ok: Bool, rowCounts: [String: Int64], problems: [String], schemaChecked: [String]? = nil) {
        self.ok = ok
        self.rowCounts = rowCounts
        self.problems = problems
        self.schemaChecked = schemaChecked
    }
}

/// The outcome of a restore, restore test or undo: the agent's signed receipt.
public struct RestoreResult: RequestBound {
    public static let type = "restore.result"
    public var id: UInt64
    public var receipt: Receipt
    public init(id: UInt64, receipt: Receipt) {
        self.id = id
        self.receipt = receipt
    }
    public func validate() throws { try receipt.validate(Self.type) }
}

/// Puts the newest undo point back (`akbackup restore --undo`).
public struct UndoRequest: RequestBound {
    public static let type = "undo"
    public var id: UInt64
    public var healthTimeout: Int
    public var requestedBy: RequestedBy
    public init(id: UInt64, healthTimeout: Int, requestedBy: RequestedBy) {
        self.id = id
        self.healthTimeout = healthTimeout
        self.requestedBy = requestedBy
    }
    public func validate() throws { try FieldChecks(Self.type).range(healthTimeout, 1...3600, "healthTimeout") }
}

/// Lists the databases akbackup made (pre-restore undo points, leftovers).
public struct DatabasesRequest: RequestBound {
    public static let type = "databases"
    public var id: UInt64
    public init(id: UInt64) { self.id = id }
}

public struct DatabaseInfo: Codable, Equatable, Sendable {
    public var name: String
    public var sizeBytes: Int64
    public init(name: String, sizeBytes: Int64) {
        self.name = name
        self.sizeBytes = sizeBytes
    }
}

public struct DatabasesResult: RequestBound {
    public static let type = "databases.result"
    public var id: UInt64
    public var databases: [DatabaseInfo]
    public init(id: UInt64, databases: [DatabaseInfo]) {
        self.id = id
        self.databases = databases
    }
    public func validate() throws {
        for d in databases { try FieldChecks(Self.type).size(d.sizeBytes, "databases.sizeBytes") }
    }
}

/// Drops one database akbackup made. The agent refuses any other name, and the live one.
public struct DropDatabaseRequest: RequestBound {
    public static let type = "drop-database"
    public var id: UInt64
    public var name: String
    public init(id: UInt64, name: String) {
        self.id = id
        self.name = name
    }
}

/// Stores a receipt under `receipts/` on the NAS.
public struct ReceiptStore: RequestBound {
    public static let type = "receipt.store"
    public var id: UInt64
    public var name: String
    public var receipt: Receipt
    public init(id: UInt64, name: String, receipt: Receipt) {
        self.id = id
        self.name = name
        self.receipt = receipt
    }
    public func validate() throws { try receipt.validate(Self.type) }
}

/// Asks the receiver for its receipts, newest first, one page at a time.
public struct ReceiptsRequest: RequestBound {
    public static let type = "receipts"
    public var id: UInt64
    public var offset: Int?
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

/// A receipt as stored on the NAS, with its file name.
public struct StoredReceipt: Codable, Equatable, Sendable {
    public var name: String
    public var receipt: Receipt
    /// The receiver's verdict on the receipt's signature (the controller checks it again itself).
    public var signature: SignatureStatus?
    public init(name: String, receipt: Receipt, signature: SignatureStatus? = nil) {
        self.name = name
        self.receipt = receipt
        self.signature = signature
    }
}

public struct ReceiptsResult: RequestBound {
    public static let type = "receipts.result"
    public var id: UInt64
    /// Newest first. A page stops early (before `limit`) when it would not fit one frame.
    public var receipts: [StoredReceipt]
    /// How many receipt files there are in all.
    public var total: Int
    public init(id: UInt64, receipts: [StoredReceipt], total: Int) {
        self.id = id
        self.receipts = receipts
        self.total = total
    }
    public func validate() throws {
        try FieldChecks(Self.type).range(total, 0...Int(Int32.max), "total")
        for r in receipts { try r.receipt.validate(Self.type) }
    }
}

/// How a restore, restore test or undo ended (§11.6).
public enum RestoreOutcome: String, Codable, Sendable {
    /// swap: the restored database is live and healthy, the previous one kept; replace: replayed, validated, healthy.
    case restored
    /// test: replayed and validated; the scratch database was dropped.
    case tested
    /// undo: the undo point is live and healthy.
    case undone
    /// swap or undo: the candidate never became healthy; the previous database is live again.
    case rolledBack = "rolled-back"
    /// anything else; the message says what is live.
    case failed

    public var succeeded: Bool { self == .restored || self == .tested || self == .undone }
}

/// Evidence of a restore, a restore test or an undo: the runbook's "spine receipt", made and signed
/// by the agent that did the work (§12), so a forged file on the NAS cannot make a drill look done.
public struct Receipt: SignedDocument, Equatable {
    public static let signingDomain = "akbackup-receipt-2"
    public var format = "akbackup-receipt-2"
    /// "restore", "restore-test", "undo".
    public var operation: String
    public var artifact: String?
    public var sha256: String?
    /// Whether the artifact carried a trusted agent signature (false: restored with --trust-unsigned).
    public var artifactSigned: Bool?
    public var operatorName: String
    public var controllerHost: String
    public var agentHost: String
    public var startedAt: String
    public var finishedAt: String
    public var steps: [RestoreStep]
    public var validation: ValidationReport?
    public var downtimeSeconds: Double?
    public var outcome: RestoreOutcome
    public var message: String
    /// The undo point kept (a pre-restore database, or the agent's undo file of a replace).
    public var undoPoint: String?
    public var software: String
    public var signature: Signature?

    public init(operation: String, artifact: String?, sha256: String?, artifactSigned: Bool?, operatorName: String,
                controllerHost: String, agentHost: String, startedAt: String, finishedAt: String, steps: [RestoreStep],
                validation: ValidationReport?, downtimeSeconds: Double?, outcome: RestoreOutcome, message: String,
                undoPoint: String? = nil, software: String = AKVersion.software) {
        self.operation = operation
        self.artifact = artifact
        self.sha256 = sha256
        self.artifactSigned = artifactSigned
        self.operatorName = operatorName
        self.controllerHost = controllerHost
        self.agentHost = agentHost
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.steps = steps
        self.validation = validation
        self.downtimeSeconds = downtimeSeconds
        self.outcome = outcome
        self.message = message
        self.undoPoint = undoPoint
        self.software = software
    }

    public var succeeded: Bool { outcome.succeeded }

    public func validate(_ type: String) throws {
        let c = FieldChecks(type)
        if let d = downtimeSeconds { try c.seconds(d, "receipt.downtimeSeconds") }
        for s in steps { try c.seconds(s.seconds, "receipt.steps.seconds") }
        for (table, n) in validation?.rowCounts ?? [:] { try c.count(n, "receipt.validation.rowCounts.\(table.prefix(64))") }
        if let h = sha256 { try c.sha256(h, "receipt.sha256") }
    }
}
