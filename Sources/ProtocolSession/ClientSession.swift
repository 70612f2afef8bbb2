import AKBase
import AKProtocol
import Foundation
import Synchronization
import Transport

/// The controller's side of a session with one remote program.
///
/// Every failure is raised as a `HintedError` that names `host`: remote errors keep their code,
/// protocol violations and early exits carry the remote's last stderr lines.
public final class ClientSession: Sendable {
    public let host: String
    public let framed: FramedChannel
    private struct State: Sendable {
        var remoteHello: Hello?
        var nextID: UInt64 = 1
        var closedTermination: ChannelTermination?
    }
    private let state = Mutex(State())
    public var remoteHello: Hello? { state.withLock { $0.remoteHello } }

    /// The protocol version this side speaks (other values only in tests).
    public let protocolVersion: Int

    /// Seconds without a byte (or heartbeat) from the remote before a read fails.
    public let peerTimeout: TimeInterval

    public init(channel: ByteChannel, host: String, protocolVersion: Int = AKVersion.protocolVersion,
                peerTimeout: TimeInterval = ProtocolTiming.peerTimeout) {
        self.host = host
        self.framed = FramedChannel(channel)
        self.protocolVersion = protocolVersion
        self.peerTimeout = peerTimeout
        framed.peerTimeout = peerTimeout
    }

    /// Reads the remote's greeting, checks role and version, and answers with ours.
    @discardableResult
    public func handshake(expecting role: Role, localHost: String = ProcessInfoHost.name) throws -> Hello {
        let first = try receive(context: "waiting for the \(role.rawValue)'s greeting")
        guard case .message(let message) = first else {
            throw fail(.outOfSequence("expected a hello, got bulk data"))
        }
        guard let hello = message.as(Hello.self) else {
            if let e = message.as(ErrorMessage.self) { throw RemoteError(host: host, e) }
            throw fail(.outOfSequence("expected a hello, got \(message.type)"))
        }
        guard hello.protocolVersion == protocolVersion else {
            throw fail(.versionMismatch(local: protocolVersion, remote: hello.protocolVersion,
                                        remoteSoftware: "\(hello.role.rawValue) \(hello.software)"))
        }
        guard hello.role == role else {
            throw fail(.wrongRole(expected: role.rawValue, actual: hello.role.rawValue))
        }
        state.withLock { $0.remoteHello = hello }
        try send(Hello(role: .controller, protocolVersion: protocolVersion, host: localHost))
        framed.startHeartbeats()
        return hello
    }

    public func makeID() -> UInt64 {
        state.withLock { s in
            defer { s.nextID += 1 }
            return s.nextID
        }
    }

    public func send(_ message: Message) throws {
        do {
            try framed.send(message)
        } catch let error as TransportError {
            throw explainEnd(error)
        }
    }

    public func send(_ body: some WireMessage) throws { try send(Message(body)) }

    /// Raw bytes of our open data stream; a remote that went away is explained like any other end.
    public func sendChunk(_ bytes: [UInt8]) throws {
        do {
            try framed.sendChunk(bytes)
        } catch let error as TransportError {
            throw explainEnd(error)
        }
    }

    /// Ends our open data stream.
    public func endData() throws {
        do {
            try framed.endData()
        } catch let error as TransportError {
            throw explainEnd(error)
        }
    }

    /// Sends a request and waits for its final answer (anything but progress). ProgressReport goes to `onProgress`.
    public func call(_ request: some WireMessage, onProgress: (ProgressReport) -> Void = { _ in }) throws -> Message {
        try call(Message(request), onProgress: onProgress)
    }

    /// Sends a request and waits for its final answer of type `T`.
    public func call<T: WireMessage>(_ request: some WireMessage, expecting: T.Type, onProgress: (ProgressReport) -> Void = { _ in }) throws -> T {
        let answer = try call(Message(request), onProgress: onProgress)
        guard let value = answer.as(T.self) else { throw unexpected(answer, wanted: T.type) }
        return value
    }

    public func call(_ request: Message, onProgress: (ProgressReport) -> Void = { _ in }) throws -> Message {
        guard let id = request.requestID else { preconditionFailure("requests carry ids") }
        try send(request)
        while true {
            let item = try receive(context: "waiting for the answer to \(request.type)")
            guard case .message(let message) = item else {
                throw fail(.outOfSequence("unexpected bulk data while waiting for \(request.type)"))
            }
            if let p = message.as(ProgressReport.self), p.id == id {
                onProgress(p)
            } else if let e = message.as(ErrorMessage.self), e.id == id || e.id == nil {
                throw RemoteError(host: host, e)
            } else {
                guard message.requestID == id else {
                    throw fail(.outOfSequence("\(message.type) for request \(message.requestID.map(String.init) ?? "none"), expected \(id)"))
                }
                return message
            }
        }
    }

    /// Waits for a message of type `T` for request `id` (progress for it is passed on); an error
    /// for `id` is re-raised with the host.
    public func expect<T: WireMessage>(_: T.Type, id: UInt64, onProgress: (ProgressReport) -> Void = { _ in }) throws -> T {
        while true {
            let item = try receive(context: "waiting for \(T.type)")
            guard case .message(let message) = item else {
                throw fail(.outOfSequence("bulk data while waiting for \(T.type)"))
            }
            if let e = message.as(ErrorMessage.self), e.id == id || e.id == nil { throw RemoteError(host: host, e) }
            if let p = message.as(ProgressReport.self), p.id == id {
                onProgress(p)
                continue
            }
            guard let value = message.as(T.self), message.requestID == id else { throw unexpected(message, wanted: T.type) }
            return value
        }
    }

    /// The error for a message that is valid but not what this point of the session allows.
    public func unexpected(_ message: Message, wanted: String) -> Error {
        fail(.outOfSequence("expected \(wanted), got \(message.type)"))
    }

    public func probe() throws -> ProbeResult {
        try call(ProbeRequest(id: makeID()), expecting: ProbeResult.self)
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
        if let t = state.withLock({ $0.closedTermination }) { return t }
        framed.stopHeartbeats()
        try? framed.channel.closeWrite()
        let t = framed.channel.close()
        state.withLock { $0.closedTermination = t }
        return t
    }

    private func fail(_ error: ProtocolError) -> SessionError {
        let termination = close()
        return SessionError(host: host, error: error, stderrTail: termination.stderrTail)
    }

    /// The remote went away: say how (exit status, signal, its last stderr line) and what to do.
    private func explainEnd(_ transport: TransportError?, context: String = "") -> Error {
        if let t = transport, t.kind != .io && t.kind != .closed {
            // Silence past the peer timeout: the remote is dead or stuck; end it and say so.
            if t.kind == .timeout { close() }
            return t
        }
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
