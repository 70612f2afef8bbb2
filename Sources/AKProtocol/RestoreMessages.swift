/// Messages of the restore path: the receiver serves an artifact, the controller relays it, the agent
/// replays it into a staging database and (for a real restore) swaps it in.
///
///   controller → receiver: fetch → fetch.started, data + raw frames + empty frame, fetch.result
///   controller → agent:    restore → restore.ready, (controller sends) data + frames + empty frame,
///                          agent: progress…, restore.result | error
///   controller → agent:    undo → restore.result;  databases → databases.result;  drop-database → …
///   controller → receiver: receipt.store → receipt.stored;  receipts → receipts.result

/// Asks the receiver to stream an artifact ("latest" or a name).
public struct FetchRequest: Codable, Equatable, Sendable {
    public var id: UInt64
    public var name: String
    public init(id: UInt64, name: String) {
        self.id = id
        self.name = name
    }
}

/// The artifact the receiver is about to send, with its manifest when there is one.
public struct FetchStarted: Codable, Equatable, Sendable {
    public var id: UInt64
    public var name: String
    public var size: Int64
    public var manifest: Manifest?
    public init(id: UInt64, name: String, size: Int64, manifest: Manifest?) {
        self.id = id
        self.name = name
        self.size = size
        self.manifest = manifest
    }
}

/// What the receiver actually read and sent.
public struct FetchResult: Codable, Equatable, Sendable {
    public var id: UInt64
    public var size: Int64
    public var sha256: String
    public init(id: UInt64, size: Int64, sha256: String) {
        self.id = id
        self.size = size
        self.sha256 = sha256
    }
}

public enum RestoreMode: String, Codable, Sendable {
    /// Replay into a staging database, validate, swap it in (live kept as the undo point).
    case swap
    /// The runbook's drop-and-recreate, for hosts without room for two copies.
    case replace
    /// Replay into a scratch database, validate, drop it; live and services untouched.
    case test
}

/// Asks the agent to restore the artifact the controller will stream after `restore.ready`.
public struct RestoreRequest: Codable, Equatable, Sendable {
    public var id: UInt64
    public var mode: RestoreMode
    public var artifact: String
    /// The SHA-256 the stream must have (from the manifest); nil for a runbook-made dump.
    public var sha256: String?
    public var manifest: Manifest?
    /// Restore even if the artifact's Authentik version is newer than the running one.
    public var force: Bool
    /// Seconds to wait for /-/health/ready/ after the services start.
    public var healthTimeout: Int
    public init(id: UInt64, mode: RestoreMode, artifact: String, sha256: String?, manifest: Manifest?, force: Bool, healthTimeout: Int) {
        self.id = id
        self.mode = mode
        self.artifact = artifact
        self.sha256 = sha256
        self.manifest = manifest
        self.force = force
        self.healthTimeout = healthTimeout
    }
}

/// Preflight passed, the lock is held and the target database exists: send the data now.
public struct RestoreReady: Codable, Equatable, Sendable {
    public var id: UInt64
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
    public init(ok: Bool, rowCounts: [String: Int64], problems: [String]) {
        self.ok = ok
        self.rowCounts = rowCounts
        self.problems = problems
    }
}

public struct RestoreResult: Codable, Equatable, Sendable {
    public var id: UInt64
    /// "restored", "tested", "rolled-back", "undone", "failed".
    public var outcome: String
    public var steps: [RestoreStep]
    public var validation: ValidationReport?
    /// From the app services' stop to the ready endpoint's first success; nil if they never stopped.
    public var downtimeSeconds: Double?
    /// The database kept as the undo point, when there is one.
    public var preRestoreDatabase: String?
    public var message: String
    public init(id: UInt64, outcome: String, steps: [RestoreStep], validation: ValidationReport?, downtimeSeconds: Double?,
                preRestoreDatabase: String?, message: String) {
        self.id = id
        self.outcome = outcome
        self.steps = steps
        self.validation = validation
        self.downtimeSeconds = downtimeSeconds
        self.preRestoreDatabase = preRestoreDatabase
        self.message = message
    }
}

/// Swap the newest pre-restore database back in (`akbackup restore --undo`).
public struct UndoRequest: Codable, Equatable, Sendable {
    public var id: UInt64
    public var healthTimeout: Int
    public init(id: UInt64, healthTimeout: Int) {
        self.id = id
        self.healthTimeout = healthTimeout
    }
}

/// Lists the databases akbackup made (pre-restore undo points, leftovers).
public struct DatabasesRequest: Codable, Equatable, Sendable {
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

public struct DatabasesResult: Codable, Equatable, Sendable {
    public var id: UInt64
    public var databases: [DatabaseInfo]
    public init(id: UInt64, databases: [DatabaseInfo]) {
        self.id = id
        self.databases = databases
    }
}

/// Drops one database akbackup made. The agent refuses any other name, and the live one.
public struct DropDatabaseRequest: Codable, Equatable, Sendable {
    public var id: UInt64
    public var name: String
    public init(id: UInt64, name: String) {
        self.id = id
        self.name = name
    }
}

/// Stores a receipt (JSON text) under `receipts/` on the NAS.
public struct ReceiptStore: Codable, Equatable, Sendable {
    public var id: UInt64
    public var name: String
    public var receipt: Receipt
    public init(id: UInt64, name: String, receipt: Receipt) {
        self.id = id
        self.name = name
        self.receipt = receipt
    }
}

public struct ReceiptsRequest: Codable, Equatable, Sendable {
    public var id: UInt64
    public init(id: UInt64) { self.id = id }
}

public struct ReceiptsResult: Codable, Equatable, Sendable {
    public var id: UInt64
    public var receipts: [Receipt]
    public init(id: UInt64, receipts: [Receipt]) {
        self.id = id
        self.receipts = receipts
    }
}

/// Generic acknowledgement for requests with nothing else to say.
public struct Done: Codable, Equatable, Sendable {
    public var id: UInt64
    public var detail: String
    public init(id: UInt64, detail: String) {
        self.id = id
        self.detail = detail
    }
}

/// Evidence of a restore or a restore test: the runbook's "spine receipt".
public struct Receipt: Codable, Equatable, Sendable {
    public var format = "akbackup-receipt-1"
    /// "restore", "restore-test", "undo".
    public var operation: String
    public var artifact: String?
    public var sha256: String?
    public var operatorName: String
    public var controllerHost: String
    public var agentHost: String
    public var startedAt: String
    public var finishedAt: String
    public var steps: [RestoreStep]
    public var validation: ValidationReport?
    public var downtimeSeconds: Double?
    /// "restored", "tested", "rolled-back", "undone", "failed".
    public var outcome: String
    public var message: String
    public var software: String

    public init(operation: String, artifact: String?, sha256: String?, operatorName: String, controllerHost: String, agentHost: String,
                startedAt: String, finishedAt: String, steps: [RestoreStep], validation: ValidationReport?, downtimeSeconds: Double?,
                outcome: String, message: String, software: String = AKVersion.software) {
        self.operation = operation
        self.artifact = artifact
        self.sha256 = sha256
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
        self.software = software
    }

    public var succeeded: Bool { outcome == "restored" || outcome == "tested" || outcome == "undone" }
}
