import AKProtocol
import Transport

/// The controller's side of a session with one remote program.
///
/// Every failure is raised as a `HintedError` that names `host`: remote errors keep their code,
/// protocol violations and early exits carry the remote's last stderr lines.
public final class ClientSession {
    public let host: String
    public let framed: FramedChannel
    public private(set) var remoteHello: Hello?
    private var nextID: UInt64 = 1
    private var closedTermination: ChannelTermination?

    /// The protocol version this side speaks (other values only in tests).
    public let protocolVersion: Int

    public init(channel: ByteChannel, host: String, protocolVersion: Int = AKVersion.protocolVersion) {
        self.host = host
        self.framed = FramedChannel(channel)
        self.protocolVersion = protocolVersion
    }

    /// Reads the remote's greeting, checks role and version, and answers with ours.
    @discardableResult
    public func handshake(expecting role: Role, localHost: String = ProcessInfoHost.name) throws -> Hello {
        let first = try receive(context: "waiting for the \(role.rawValue)'s greeting")
        guard case .message(let message) = first else {
            throw fail(.outOfSequence("expected a hello, got bulk data"))
        }
        guard case .hello(let hello) = message else {
            if case .error(let e) = message { throw RemoteError(host: host, e) }
            throw fail(.outOfSequence("expected a hello, got \(message.type)"))
        }
        guard hello.protocolVersion == protocolVersion else {
            throw fail(.versionMismatch(local: protocolVersion, remote: hello.protocolVersion,
                                        remoteSoftware: "\(hello.role.rawValue) \(hello.software)"))
        }
        guard hello.role == role else {
            throw fail(.wrongRole(expected: role.rawValue, actual: hello.role.rawValue))
        }
        remoteHello = hello
        try send(.hello(Hello(role: .controller, protocolVersion: protocolVersion, host: localHost)))
        return hello
    }

    public func makeID() -> UInt64 {
        defer { nextID += 1 }
        return nextID
    }

    public func send(_ message: Message) throws {
        do {
            try framed.send(message)
        } catch let error as TransportError {
            throw explainEnd(error)
        }
    }

    /// Sends a request and waits for its final answer (anything but progress). ProgressReport goes to `onProgress`.
    public func call(_ request: Message, onProgress: (ProgressReport) -> Void = { _ in }) throws -> Message {
        guard let id = request.requestID else { preconditionFailure("requests carry ids") }
        try send(request)
        while true {
            let item = try receive(context: "waiting for the answer to \(request.type)")
            guard case .message(let message) = item else {
                throw fail(.outOfSequence("unexpected bulk data while waiting for \(request.type)"))
            }
            switch message {
            case .progress(let p) where p.id == id:
                onProgress(p)
            case .error(let e) where e.id == id || e.id == nil:
                throw RemoteError(host: host, e)
            default:
                guard message.requestID == id else {
                    throw fail(.outOfSequence("\(message.type) for request \(message.requestID.map(String.init) ?? "none"), expected \(id)"))
                }
                return message
            }
        }
    }

    /// Waits for the message `extract` accepts; an error for `id` is re-raised with the host.
    public func expect<T>(_ wanted: String, id: UInt64, _ extract: (Message) -> T?) throws -> T {
        let item = try receive(context: "waiting for \(wanted)")
        guard case .message(let message) = item else {
            throw fail(.outOfSequence("bulk data while waiting for \(wanted)"))
        }
        if case .error(let e) = message, e.id == id || e.id == nil { throw RemoteError(host: host, e) }
        guard let value = extract(message) else { throw unexpected(message, wanted: wanted) }
        return value
    }

    /// The error for a message that is valid but not what this point of the session allows.
    public func unexpected(_ message: Message, wanted: String) -> Error {
        fail(.outOfSequence("expected \(wanted), got \(message.type)"))
    }

    public func probe() throws -> ProbeResult {
        let id = makeID()
        let answer = try call(.probe(ProbeRequest(id: id)))
        guard case .probeResult(let result) = answer else {
            throw fail(.outOfSequence("expected probe.result, got \(answer.type)"))
        }
        return result
    }

    /// Reads the next item; an end of stream here is always unexpected and explained.
    public func receive(context: String) throws -> Incoming {
        do {
            if let item = try framed.receive() { return item }
        } catch let error as ProtocolError {
            throw fail(error)
        } catch let error as TransportError {
            throw explainEnd(error)
        }
        throw explainEnd(nil, context: context)
    }

    /// Ends the session: closes our side and collects how the remote ended.
    @discardableResult
    public func close() -> ChannelTermination {
        if let t = closedTermination { return t }
        try? framed.channel.closeWrite()
        let t = framed.channel.close()
        closedTermination = t
        return t
    }

    private func fail(_ error: ProtocolError) -> SessionError {
        let termination = close()
        return SessionError(host: host, error: error, stderrTail: termination.stderrTail)
    }

    /// The remote went away: say how (exit status, signal, its last stderr line) and what to do.
    private func explainEnd(_ transport: TransportError?, context: String = "") -> Error {
        if let t = transport, t.kind != .io && t.kind != .closed { return t }
        let termination = close()
        let lastLine = termination.stderrTail.last(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty })
        var message = "remote program ended unexpectedly"
        if !context.isEmpty { message += " while \(context)" }
        message += " (\(termination.summary))"
        if let line = lastLine { message += ": \(line)" }
        var hint = "check the remote program's log on \(host) and run `akbackup doctor`"
        if termination.exitStatus == 127 || (lastLine ?? "").contains("not found") {
            hint = "install the akbackup program on \(host) (deploy/agent/install or deploy/receiver/install) and check the remote command in the akbackup config"
            return RemoteError(host: host, code: .notFound, message: message, hint: hint)
        }
        if let t = transport, termination.exitStatus == nil, termination.signal == nil {
            // No exit status ever arrived: the connection was lost (link cut, sshd gone), not the
            // program. Report it as the transport's failure (a host not reachable), with its hint.
            return TransportError(t.kind, host: t.host, t.message + (context.isEmpty ? "" : " (while \(context))"), hint: t.hint)
        }
        if let t = transport { message += "; \(t.message)" }
        return RemoteError(host: host, code: .ioError, message: message, hint: hint)
    }
}

import Foundation

public enum ProcessInfoHost {
    public static var name: String { ProcessInfo.processInfo.hostName }
}
