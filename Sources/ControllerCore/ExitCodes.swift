import AKBase
import AKProtocol
import HostConfig
import ProtocolSession
import Transport

/// The controller's exit codes, documented in `akbackup --help`.
public enum ExitStatus: Int32, Sendable {
    case ok = 0
    /// The operation failed or a check did not pass.
    case failed = 1
    /// Bad command line or config file.
    case usage = 2
    /// A host could not be reached: ssh config, network, host key or authentication.
    case unreachable = 3
    /// The remote program failed, is missing, or speaks another protocol version.
    case remote = 4

    public static let helpText = """
    Exit codes:
      0  success (doctor: every check passed)
      1  the operation failed or a check did not pass
      2  usage or config file error
      3  a host could not be reached (ssh config, network, host key, authentication)
      4  a remote program failed, is missing, or speaks another protocol version
    """

    public static func of(_ error: Error) -> ExitStatus {
        switch error {
        case is ConfigError: return .usage
        // A missing remote program is found over a working connection: the host was reached.
        case let e as TransportError: return e.kind == .remoteProgram ? .remote : .unreachable
        case is RemoteError, is SessionError, is ProtocolError: return .remote
        default: return .failed
        }
    }
}

/// One line saying what failed, then one saying what to do.
public func describeForOperator(_ error: Error) -> String {
    let text: String
    switch error {
    case let e as HintedError: text = "error: \(e.summary)\nhint: \(e.hint)"
    default: text = "error: \(error)\nhint: this is unexpected; please report it with the command you ran"
    }
    return Terminal.safe(text)
}
