import AKBase

/// A violation of the wire protocol: the peer sent something this side cannot accept.
/// Every case ends the session; none of them is retried.
public enum ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The length prefix announced more than `ProtocolLimits.maxFramePayload`.
    case frameTooLarge(announced: UInt32)
    /// The stream ended inside a frame.
    case truncatedFrame(expected: Int, received: Int)
    /// The payload of a control frame is not valid UTF-8.
    case invalidUTF8
    /// The payload is not a JSON object we can decode.
    case invalidJSON(String)
    /// Nesting, string length or collection size over the limit.
    case limitExceeded(String)
    /// A well-formed message with a type this version does not know.
    case unknownMessageType(String)
    /// A message that is valid on its own but not allowed at this point.
    case outOfSequence(String)
    /// The first bytes from the remote program were not a protocol frame (a login banner, a shell rc printing).
    case nonProtocolOutput(preview: String)
    /// The two ends speak different protocol versions.
    case versionMismatch(local: Int, remote: Int, remoteSoftware: String)
    /// The peer is not the program we expected (an agent where a receiver should be).
    case wrongRole(expected: String, actual: String)

    public var description: String {
        switch self {
        case .frameTooLarge(let n):
            return "protocol error: frame length \(n) exceeds the limit of \(ProtocolLimits.maxFramePayload) bytes"
        case .truncatedFrame(let expected, let received):
            return "protocol error: stream ended inside a frame (\(received) of \(expected) bytes)"
        case .invalidUTF8:
            return "protocol error: control message is not valid UTF-8"
        case .invalidJSON(let why):
            return "protocol error: control message is not valid JSON (\(why))"
        case .limitExceeded(let what):
            return "protocol error: \(what)"
        case .unknownMessageType(let t):
            return "protocol error: unknown message type \"\(t)\""
        case .outOfSequence(let what):
            return "protocol error: message out of sequence: \(what)"
        case .nonProtocolOutput(let preview):
            return "remote program printed non-protocol output: \"\(preview)\""
        case .versionMismatch(let local, let remote, let software):
            return "protocol version mismatch: this side speaks \(local), remote \(software) speaks \(remote)"
        case .wrongRole(let expected, let actual):
            return "remote program is \(article(actual)) \(actual), expected \(article(expected)) \(expected)"
        }
    }

    private func article(_ word: String) -> String {
        word.first.map { "aeiou".contains($0) } == true ? "an" : "a"
    }

    public var hint: String {
        switch self {
        case .nonProtocolOutput:
            return "something on the remote host writes to stdout before the program starts (login banner, shell rc file); use a forced command in authorized_keys (see deploy/) or silence it"
        case .versionMismatch:
            return "install the same akbackup version on the laptop and the remote host (deploy/agent/install, deploy/receiver/install)"
        case .wrongRole:
            return "check the host and remote command for this role in the akbackup config and the authorized_keys forced command"
        default:
            return "check that the remote program is akbackup's and the same version; its stderr may say more"
        }
    }
}

extension ProtocolError: HintedError {
    public var summary: String { description }
}
