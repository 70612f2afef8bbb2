import AKProtocol
import Foundation
import Transport

/// The remote program's side of a session: greets, checks the controller's hello, then answers
/// requests one at a time with `handler` until the controller closes stdin.
public final class ServerSession {
    public let framed: FramedChannel
    public let hello: Hello
    /// The controller's hello, once received.
    public private(set) var peer: Hello?
    private let log: (String) -> Void

    /// How the session ended, as the remote program's exit code.
    public enum Outcome: Int32 {
        case clean = 0
        case protocolViolation = 2
        case versionMismatch = 3
        case linkLost = 4
    }

    public init(channel: ByteChannel, hello: Hello, log: @escaping (String) -> Void) {
        self.framed = FramedChannel(channel)
        self.hello = hello
        self.log = log
    }

    /// Runs the session. `handler` answers one request; an `ErrorMessage` it throws goes to the
    /// controller as is, any other error as `internal`.
    public func run(handler: (Message, ServerSession) throws -> Void) -> Outcome {
        do {
            try framed.send(.hello(hello))
            guard let first = try framed.receive() else { return .clean }
            guard case .message(.hello(let peer)) = first else {
                return reject(.outOfSequence("expected the controller's hello first"))
            }
            guard peer.protocolVersion == hello.protocolVersion else {
                let message = "protocol version mismatch: \(hello.role.rawValue) \(hello.software) speaks \(hello.protocolVersion), controller \(peer.software) speaks \(peer.protocolVersion)"
                log(message)
                try? framed.send(.error(ErrorMessage(id: nil, code: .versionMismatch, message: message,
                                                     hint: ProtocolError.versionMismatch(local: 0, remote: 0, remoteSoftware: "").hint)))
                return .versionMismatch
            }
            guard peer.role == .controller else {
                return reject(.wrongRole(expected: "controller", actual: peer.role.rawValue))
            }
            self.peer = peer
            log("session from \(peer.host) (controller \(peer.software))")
            while let item = try framed.receive() {
                guard case .message(let message) = item else {
                    return reject(.outOfSequence("unexpected bulk data"))
                }
                switch message {
                case .hello:
                    return reject(.outOfSequence("second hello"))
                case .cancel:
                    continue  // nothing is running between requests: cancelling it is a no-op
                case .probeResult, .progress, .error:
                    return reject(.outOfSequence("\(message.type) is sent by the remote program, not to it"))
                default:
                    do {
                        try handler(message, self)
                    } catch var e as ErrorMessage {
                        if e.id == nil { e.id = message.requestID }
                        try sendError(e)
                    } catch let e as ProtocolError {
                        return reject(e)
                    } catch let e as TransportError {
                        log("link lost: \(e.message)")
                        return .linkLost
                    } catch let e as OutgoingLimitError {
                        log(e.summary)
                        try framed.send(.error(ErrorMessage(id: message.requestID, code: .internalError, message: e.summary, hint: e.hint)))
                    } catch let e as HintedError {
                        try sendError(ErrorMessage(id: message.requestID, code: .failed, message: e.summary, hint: e.hint))
                    } catch {
                        try sendError(ErrorMessage(id: message.requestID, code: .internalError, message: "\(error)",
                                                            hint: "this is a bug in akbackup; the \(hello.role.rawValue)'s log has details"))
                    }
                    // A data stream the handler did not read to its end is skipped, so its raw frames are not taken for messages.
                    if case .data(let header) = message, framed.incomingDataID == header.id {
                        try framed.discardIncomingData()
                    }
                }
            }
            return .clean
        } catch let e as ProtocolError {
            return reject(e)
        } catch {
            log("link lost: \(error)")
            return .linkLost
        }
    }

    public func send(_ message: Message) throws { try framed.send(message) }

    /// A request failed: close any data stream it had open first, so the error stays in sequence.
    private func sendError(_ error: ErrorMessage) throws {
        if framed.isSendingData { try framed.endData() }
        try framed.send(.error(error))
    }

    private func reject(_ error: ProtocolError) -> Outcome {
        log(error.description)
        try? framed.send(.error(ErrorMessage(id: nil, code: .protocolError, message: error.description, hint: error.hint)))
        return .protocolViolation
    }
}
