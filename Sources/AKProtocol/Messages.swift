import Foundation

/// The role a program plays in a session.
public enum Role: String, Codable, Sendable {
    case controller, agent, receiver
}

/// First message each side sends. The remote program speaks first, so a banner or a
/// wrong program is detected before the controller sends anything.
public struct Hello: Codable, Equatable, Sendable {
    public var role: Role
    public var protocolVersion: Int
    public var software: String
    public var host: String
    public var capabilities: [String]

    enum CodingKeys: String, CodingKey {
        case role, protocolVersion = "protocol", software, host, capabilities
    }

    public init(role: Role, protocolVersion: Int = AKVersion.protocolVersion, software: String = AKVersion.software,
                host: String, capabilities: [String] = []) {
        self.role = role
        self.protocolVersion = protocolVersion
        self.software = software
        self.host = host
        self.capabilities = capabilities
    }
}

/// Asks the remote program to check its own host (doctor). The remote decides what to check:
/// the controller sends no paths or names.
public struct ProbeRequest: Codable, Equatable, Sendable {
    public var id: UInt64
    public init(id: UInt64) { self.id = id }
}

/// One line of a health report.
public struct Check: Codable, Equatable, Sendable {
    public var name: String
    public var ok: Bool
    public var detail: String
    public var hint: String?

    public init(name: String, ok: Bool, detail: String, hint: String? = nil) {
        self.name = name
        self.ok = ok
        self.detail = detail
        self.hint = hint
    }
}

public struct ProbeResult: Codable, Equatable, Sendable {
    public var id: UInt64
    public var checks: [Check]
    public init(id: UInt64, checks: [Check]) {
        self.id = id
        self.checks = checks
    }
}

/// A failed request, or a session-level failure when `id` is absent.
/// Re-raised on the controller as `RemoteError`, prefixed with the host.
public struct ErrorMessage: Codable, Equatable, Sendable, Error {
    public var id: UInt64?
    public var code: ErrorCode
    public var message: String
    public var hint: String

    public init(id: UInt64?, code: ErrorCode, message: String, hint: String) {
        self.id = id
        self.code = code
        self.message = message
        self.hint = hint
    }
}

/// Error kinds shared by both ends. Unknown codes from a newer peer decode as `.other`.
public enum ErrorCode: String, Codable, Sendable {
    case protocolError = "protocol"
    case versionMismatch = "version_mismatch"
    case badRequest = "bad_request"
    case unsupported
    case busy
    case notFound = "not_found"
    case ioError = "io"
    case noSpace = "no_space"
    case failed
    case cancelled
    case internalError = "internal"
    case other

    public init(from decoder: Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        self = ErrorCode(rawValue: raw) ?? .other
    }
}

/// Asks the remote to abandon request `id`. It answers that request with an `error` of code `cancelled`
/// (or with its normal result if it had already finished).
public struct CancelRequest: Codable, Equatable, Sendable {
    public var id: UInt64
    public init(id: UInt64) { self.id = id }
}

/// Informational progress of a long request.
public struct ProgressReport: Codable, Equatable, Sendable {
    public var id: UInt64
    public var phase: String
    public var bytes: Int64
    public init(id: UInt64, phase: String, bytes: Int64) {
        self.id = id
        self.phase = phase
        self.bytes = bytes
    }
}

/// Announces bulk data for request `id`: the frames that follow are raw bytes, not JSON,
/// up to and including an empty frame that ends the stream.
public struct DataHeader: Codable, Equatable, Sendable {
    public var id: UInt64
    public var stream: String
    public init(id: UInt64, stream: String) {
        self.id = id
        self.stream = stream
    }
}

/// Every control message, tagged by its `type` field on the wire.
public enum Message: Equatable, Sendable {
    case hello(Hello)
    case probe(ProbeRequest)
    case probeResult(ProbeResult)
    case error(ErrorMessage)
    case cancel(CancelRequest)
    case progress(ProgressReport)
    case data(DataHeader)
    case backup(BackupRequest)
    case backupStarted(BackupStarted)
    case backupResult(BackupResult)
    case upload(UploadRequest)
    case uploadReady(UploadReady)
    case uploadCommit(UploadCommit)
    case uploadAbort(UploadAbort)
    case uploadResult(UploadResult)
    case list(ListRequest)
    case listResult(ListResult)
    case verify(VerifyRequest)
    case verifyResult(VerifyResult)
    case fetch(FetchRequest)
    case fetchStarted(FetchStarted)
    case fetchResult(FetchResult)
    case restore(RestoreRequest)
    case restoreReady(RestoreReady)
    case restoreResult(RestoreResult)
    case undo(UndoRequest)
    case databases(DatabasesRequest)
    case databasesResult(DatabasesResult)
    case dropDatabase(DropDatabaseRequest)
    case receiptStore(ReceiptStore)
    case receipts(ReceiptsRequest)
    case receiptsResult(ReceiptsResult)
    case done(Done)

    public var type: String {
        switch self {
        case .hello: return "hello"
        case .probe: return "probe"
        case .probeResult: return "probe.result"
        case .error: return "error"
        case .cancel: return "cancel"
        case .progress: return "progress"
        case .data: return "data"
        case .backup: return "backup"
        case .backupStarted: return "backup.started"
        case .backupResult: return "backup.result"
        case .upload: return "upload"
        case .uploadReady: return "upload.ready"
        case .uploadCommit: return "upload.commit"
        case .uploadAbort: return "upload.abort"
        case .uploadResult: return "upload.result"
        case .list: return "list"
        case .listResult: return "list.result"
        case .verify: return "verify"
        case .verifyResult: return "verify.result"
        case .fetch: return "fetch"
        case .fetchStarted: return "fetch.started"
        case .fetchResult: return "fetch.result"
        case .restore: return "restore"
        case .restoreReady: return "restore.ready"
        case .restoreResult: return "restore.result"
        case .undo: return "undo"
        case .databases: return "databases"
        case .databasesResult: return "databases.result"
        case .dropDatabase: return "drop-database"
        case .receiptStore: return "receipt.store"
        case .receipts: return "receipts"
        case .receiptsResult: return "receipts.result"
        case .done: return "done"
        }
    }

    /// The request this message belongs to, if any.
    public var requestID: UInt64? {
        switch self {
        case .hello: return nil
        case .probe(let m): return m.id
        case .probeResult(let m): return m.id
        case .error(let m): return m.id
        case .cancel(let m): return m.id
        case .progress(let m): return m.id
        case .data(let m): return m.id
        case .backup(let m): return m.id
        case .backupStarted(let m): return m.id
        case .backupResult(let m): return m.id
        case .upload(let m): return m.id
        case .uploadReady(let m): return m.id
        case .uploadCommit(let m): return m.id
        case .uploadAbort(let m): return m.id
        case .uploadResult(let m): return m.id
        case .list(let m): return m.id
        case .listResult(let m): return m.id
        case .verify(let m): return m.id
        case .verifyResult(let m): return m.id
        case .fetch(let m): return m.id
        case .fetchStarted(let m): return m.id
        case .fetchResult(let m): return m.id
        case .restore(let m): return m.id
        case .restoreReady(let m): return m.id
        case .restoreResult(let m): return m.id
        case .undo(let m): return m.id
        case .databases(let m): return m.id
        case .databasesResult(let m): return m.id
        case .dropDatabase(let m): return m.id
        case .receiptStore(let m): return m.id
        case .receipts(let m): return m.id
        case .receiptsResult(let m): return m.id
        case .done(let m): return m.id
        }
    }

    public static let knownTypes = ["hello", "probe", "probe.result", "error", "cancel", "progress", "data",
                                    "backup", "backup.started", "backup.result", "upload", "upload.ready",
                                    "upload.commit", "upload.abort", "upload.result", "list", "list.result",
                                    "verify", "verify.result",
                                    "fetch", "fetch.started", "fetch.result", "restore", "restore.ready", "restore.result", "undo", "databases", "databases.result", "drop-database", "receipt.store", "receipts", "receipts.result", "done"]
}
