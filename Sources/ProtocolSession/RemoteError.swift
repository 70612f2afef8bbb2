import AKBase
import AKProtocol
import Transport

/// An error reported by a remote program (or about it), re-raised locally with its kind
/// and prefixed with the host it came from.
public struct RemoteError: HintedError, CustomStringConvertible, Equatable, Sendable {
    public var host: String
    public var code: ErrorCode
    public var message: String
    public var hint: String

    public init(host: String, code: ErrorCode, message: String, hint: String) {
        self.host = host
        self.code = code
        self.message = message
        self.hint = hint
    }

    public init(host: String, _ error: ErrorMessage) {
        self.init(host: host, code: error.code, message: error.message, hint: error.hint)
    }

    public var summary: String { "\(host): \(message)" }
    public var description: String { "\(summary)\nhint: \(hint)" }
}

/// A protocol violation seen while talking to `host`, with what the remote printed on stderr.
public struct SessionError: HintedError, CustomStringConvertible, Sendable {
    public var host: String
    public var error: ProtocolError
    public var stderrTail: [String]

    public var summary: String {
        var s = "\(host): \(error.description)"
        if let last = stderrTail.last(where: { !$0.isEmpty }) { s += " (remote stderr: \(last))" }
        return s
    }
    public var hint: String { error.hint }
    public var description: String { "\(summary)\nhint: \(hint)" }
}
