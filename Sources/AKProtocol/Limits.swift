/// Versions and hard limits of the akbackup wire protocol. See protocol/PROTOCOL.md.
public enum AKVersion {
    /// The wire protocol version. Both ends must speak the same one.
    public static let protocolVersion = 1
    /// The software version of all three programs (they are released together).
    public static let software = "0.1.0"
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
}
