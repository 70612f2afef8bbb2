import Foundation

/// Versions and hard limits of the akbackup wire protocol. See protocol/PROTOCOL.md.
public enum AKVersion {
    /// The wire protocol version. Both ends must speak the same one.
    public static let protocolVersion = 2
    /// The software version of all three programs (they are released together).
    public static let software = "0.2.0"
}

public enum ProtocolLimits {
    /// Largest payload of any frame, control or bulk (1 MiB).
    public static let maxFramePayload = 1 << 20
    /// Deepest nesting of JSON arrays/objects in a control message.
    public static let maxJSONDepth = 16
    /// Longest JSON string value or key, in UTF-8 bytes.
    public static let maxStringBytes = 64 * 1024
    /// Most elements in one JSON array and most members in one object.
    public static let maxCollectionCount = 10_000
    /// Largest size, in bytes, any message may announce (1 PiB): sizes beyond are refused when decoded.
    public static let maxSize: Int64 = 1 << 50
    /// Largest `limit` of a paged request (`list`, `receipts`).
    public static let maxPage = 1000
    /// Largest manifest or receipt file a program reads (its JSON), in bytes.
    public static let maxDocumentBytes = 1 << 20
}

/// The protocol's clocks (§5.6): every side writes at least every `heartbeatInterval` while a session
/// is open (a heartbeat frame when it has nothing else to say) and declares its peer dead after
/// `peerTimeout` seconds without a byte from it.
public enum ProtocolTiming {
    public static let heartbeatInterval: TimeInterval = 15
    public static let peerTimeout: TimeInterval = 60
    /// How long a remote program waits for the controller's hello.
    public static let helloTimeout: TimeInterval = 30
    /// How long a remote program waits for the next request once the previous one was answered.
    public static let requestIdleTimeout: TimeInterval = 600
    /// How long any write may make no progress before the link counts as dead.
    public static let writeStallTimeout: TimeInterval = 60
}
