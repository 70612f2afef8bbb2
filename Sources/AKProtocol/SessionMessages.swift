import Foundation

/// The role a program plays in a session.
public enum Role: String, Codable, Sendable {
    case controller, agent, receiver
}

/// First message each side sends. The remote program speaks first, so a banner or a
/// wrong program is detected before the controller sends anything. Frozen across versions.
public struct Hello: WireMessage {
    public static let type = "hello"
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
public struct ProbeRequest: RequestBound {
    public static let type = "probe"
    public var id: UInt64
    public init(id: UInt64) { self.id = id }
}

/// One line of a health report.
public struct Check: Codable, Equatable, Sendable {
    public var name: String
    public var ok: Bool
    public var detail: String
    public var hint: String?
    /// A problem that does not fail the check (doctor prints WARN).
    public var warning: Bool?

    public init(name: String, ok: Bool, detail: String, hint: String? = nil, warning: Bool? = nil) {
        self.name = name
        self.ok = ok
        self.detail = detail
        self.hint = hint
        self.warning = warning
    }
}

/// What the agent owns and reports once, so the controller never hard-codes it.
public struct AgentFacts: Codable, Equatable, Sendable {
    public var database: String
    public var appServices: [String]
    public var authentikVersion: String?
    /// The agent's own signing key ("ed25519:BASE64"); absent when it has none yet.
    public var signingKey: String?
    /// Every key whose signatures this agent accepts (its own first).
    public var trustedKeys: [String]
    /// akbackup's databases in the live cluster and what the agent's undo policy would do with them
    /// now (a dry run, PROTOCOL.md §13); absent when the database could not be asked.
    public var undo: UndoReport?

    public init(database: String, appServices: [String], authentikVersion: String?, signingKey: String?, trustedKeys: [String],
                undo: UndoReport? = nil) {
        self.database = database
        self.appServices = appServices
        self.authentikVersion = authentikVersion
        self.signingKey = signingKey
        self.trustedKeys = trustedKeys
        self.undo = undo
    }
}

public struct ProbeResult: RequestBound {
    public static let type = "probe.result"
    public var id: UInt64
    public var checks: [Check]
    /// The agent's facts (absent from the receiver, and when the agent cannot tell).
    public var agent: AgentFacts?
    public init(id: UInt64, checks: [Check], agent: AgentFacts? = nil) {
        self.id = id
        self.checks = checks
        self.agent = agent
    }
    public func validate() throws {
        try agent?.undo?.validate(FieldChecks(Self.type), "agent.undo.")
    }
}

/// A failed request, or a session-level failure when `id` is absent.
/// Re-raised on the controller as `RemoteError`, prefixed with the host.
public struct ErrorMessage: WireMessage, Error {
    public static let type = "error"
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

    public var requestID: UInt64? { id }
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
    /// The data is not what the agent made (no trusted signature, or it does not cover the bytes).
    case untrusted
    case internalError = "internal"
    case other

    public init(from decoder: Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        self = ErrorCode(rawValue: raw) ?? .other
    }
}

/// Asks the remote to abandon request `id`. It answers that request with an `error` of code `cancelled`
/// (or with its normal result if it had already finished).
public struct CancelRequest: RequestBound {
    public static let type = "cancel"
    public var id: UInt64
    public init(id: UInt64) { self.id = id }
}

/// Informational progress of a long request.
public struct ProgressReport: RequestBound {
    public static let type = "progress"
    public var id: UInt64
    public var phase: String
    public var bytes: Int64
    public init(id: UInt64, phase: String, bytes: Int64) {
        self.id = id
        self.phase = phase
        self.bytes = bytes
    }
    public func validate() throws { try FieldChecks(Self.type).size(bytes, "bytes") }
}

/// Announces bulk data for request `id`: the frames that follow are raw bytes, not JSON,
/// up to and including an empty frame that ends the stream.
public struct DataHeader: RequestBound {
    public static let type = "data"
    public var id: UInt64
    public var stream: String
    public init(id: UInt64, stream: String) {
        self.id = id
        self.stream = stream
    }
}

/// Generic acknowledgement for requests with nothing else to say.
public struct Done: RequestBound {
    public static let type = "done"
    public var id: UInt64
    public var detail: String
    public init(id: UInt64, detail: String) {
        self.id = id
        self.detail = detail
    }
}

/// Who asked for an operation, as the controller says (recorded in receipts; not authenticated).
public struct RequestedBy: Codable, Equatable, Sendable {
    public var user: String
    public var host: String
    public init(user: String, host: String) {
        self.user = user
        self.host = host
    }
}
