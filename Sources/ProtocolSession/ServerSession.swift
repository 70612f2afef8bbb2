import AKBase
import AKProtocol
import Foundation
import Transport

/// The remote program's side of a session: greets, checks the controller's hello, then answers
/// requests one at a time with `handler` until the controller closes stdin.
///
/// After the handshake a reader thread (the pump) reads everything the controller sends into a small
/// queue, so the session notices a controller that went away — end of input, a read error, or
/// `peerTimeout` seconds without even a heartbeat — while a handler is busy and not reading (a
/// backup streaming out, a replay running). Handlers ask `peerGone`, or register `onPeerGone`, to
/// stop their work; `cancel` for the running request reaches `onCancel`.
public final class ServerSession: Sendable {
    public let framed: FramedChannel
    public let hello: Hello
    private let log: @Sendable (String) -> Void
    private let timing: Timing
    private let state = Monitor(State())

    /// The limits this session keeps (the defaults are the protocol's; tests and configs may shorten them).
    public struct Timing: Sendable {
        public var helloTimeout = ProtocolTiming.helloTimeout
        public var peerTimeout = ProtocolTiming.peerTimeout
        public var requestIdleTimeout = ProtocolTiming.requestIdleTimeout
        public var heartbeatInterval = ProtocolTiming.heartbeatInterval
        public init() {}
    }

    private struct State: Sendable {
        var peer: Hello?
        var inbox: [Result<Incoming?, Error>] = []
        var pumpEnded: Error?? = nil          // .some(nil): clean end of input; .some(error): failure
        var currentRequest: UInt64?
        var cancelled: Set<UInt64> = []
        var goneActions: [@Sendable () -> Void] = []
        var cancelActions: [@Sendable () -> Void] = []
        /// The incoming data stream whose items the handler is taking (its header taken, its end not yet).
        var openData: UInt64?
        /// `run` returned: the reader stops instead of waiting for room in the queue.
        var finished = false
    }

    /// How the session ended, as the remote program's exit code.
    public enum SessionEnd: Int32, Sendable {
        case clean = 0
        case protocolViolation = 2
        case versionMismatch = 3
        case linkLost = 4
    }

    public init(channel: ByteChannel, hello: Hello, timing: Timing = Timing(), log: @escaping @Sendable (String) -> Void) {
        self.framed = FramedChannel(channel)
        self.hello = hello
        self.timing = timing
        self.log = log
    }

    /// The controller's hello, once received.
    public var peer: Hello? { state.read { $0.peer } }

    /// The controller is gone (end of input, read error, or silence past the peer timeout), even if
    /// what it sent before is still queued.
    public var peerGone: Bool { state.read { $0.pumpEnded != nil } }

    /// Runs `action` (on the pump's thread) once the controller is gone; at once if it already is.
    public func onPeerGone(_ action: @escaping @Sendable () -> Void) {
        let now = state.update { s -> Bool in
            if s.pumpEnded != nil { return true }
            s.goneActions.append(action)
            return false
        }
        if now { action() }
    }

    /// Runs `action` when the controller cancels the request being handled.
    public func onCancel(_ action: @escaping @Sendable () -> Void) {
        state.update { $0.cancelActions.append(action) }
    }

    public func isCancelled(_ id: UInt64) -> Bool { state.read { $0.cancelled.contains(id) } }

    public func send(_ message: Message) throws { try framed.send(message) }
    public func send(_ body: some WireMessage) throws { try framed.send(body) }

    /// The next item the controller sent (for handlers that read: upload data, restore data).
    /// Nil at a clean end of input; throws what ended the link.
    public func receive(timeout: TimeInterval? = nil) throws -> Incoming? {
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        let next = state.wait(until: deadline) { s -> Result<Incoming?, Error>? in
            if !s.inbox.isEmpty {
                let item = s.inbox.removeFirst()
                switch item {
                case .success(.message(let m)?): if let h = m.as(DataHeader.self) { s.openData = h.id }
                case .success(.endOfData?): s.openData = nil
                default: break
                }
                return item
            }
            if let end = s.pumpEnded { return end.map { .failure($0) } ?? .success(nil) }
            return nil
        }
        guard let next else {
            throw TransportError.silent("controller", seconds: timeout ?? 0)
        }
        return try next.get()
    }

    /// Reads and discards the rest of an incoming data stream the handler did not want.
    private func discardIncomingData(_ id: UInt64) throws {
        while true {
            guard let item = try receive() else { return }
            if case .endOfData(let ended) = item, ended == id { return }
            if case .message = item { throw ProtocolError.outOfSequence("a message inside the data of request \(id)") }
        }
    }

    private func startPump() {
        let thread = Thread { [self] in
            while true {
                let item: Result<Incoming?, Error> = Result { try framed.receive(timeout: timing.peerTimeout) }
                if case .success(.message(let m)?) = item, let cancel = m.as(CancelRequest.self) {
                    let actions = state.update { s -> [@Sendable () -> Void] in
                        guard s.currentRequest == cancel.id else { return [] }
                        s.cancelled.insert(cancel.id)
                        return s.cancelActions
                    }
                    for a in actions { a() }
                    continue
                }
                var ended = false
                switch item {
                case .success(nil), .failure: ended = true
                case .success: break
                }
                // Bounded: a controller that floods us while the handler does not read is held back by
                // its own full window; ending items are always queued.
                _ = state.wait { s -> Bool? in s.inbox.count < 8 || ended || s.finished ? true : nil }
                if state.read({ $0.finished }) { return }
                let actions = state.update { s -> [@Sendable () -> Void] in
                    s.inbox.append(item)
                    guard ended else { return [] }
                    if case .failure(let e) = item { s.pumpEnded = .some(e) } else { s.pumpEnded = .some(nil) }
                    defer { s.goneActions = [] }
                    return s.goneActions
                }
                if ended {
                    if case .failure(let e) = item { log("controller gone: \(e)") }
                    for a in actions { a() }
                    return
                }
            }
        }
        thread.name = "session reader"
        thread.start()
    }

    /// Runs the session. `handler` answers one request; an `ErrorMessage` it throws goes to the
    /// controller as is, any other error as `internal`.
    public func run(handler: (Message, ServerSession) throws -> Void) -> SessionEnd {
        defer {
            framed.stopHeartbeats()
            state.update { $0.finished = true }
        }
        do {
            try framed.send(hello)
            guard let first = try framed.receive(timeout: timing.helloTimeout) else { return .clean }
            guard case .message(let message) = first, let peer = message.as(Hello.self) else {
                return reject(.outOfSequence("expected the controller's hello first"))
            }
            guard peer.protocolVersion == hello.protocolVersion else {
                let text = "protocol version mismatch: \(hello.role.rawValue) \(hello.software) speaks \(hello.protocolVersion), controller \(peer.software) speaks \(peer.protocolVersion)"
                log(text)
                try? framed.send(ErrorMessage(id: nil, code: .versionMismatch, message: text,
                                              hint: ProtocolError.versionMismatch(local: 0, remote: 0, remoteSoftware: "").hint))
                return .versionMismatch
            }
            guard peer.role == .controller else {
                return reject(.wrongRole(expected: "controller", actual: peer.role.rawValue))
            }
            state.update { $0.peer = peer }
            log("session from \(peer.host) (controller \(peer.software))")
            framed.startHeartbeats(interval: timing.heartbeatInterval)
            startPump()
            while let item = try receive(timeout: timing.requestIdleTimeout) {
                guard case .message(let message) = item else {
                    return reject(.outOfSequence("unexpected bulk data"))
                }
                switch message.body {
                case is Hello:
                    return reject(.outOfSequence("second hello"))
                case is ProbeResult, is ProgressReport, is ErrorMessage:
                    return reject(.outOfSequence("\(message.type) is sent by the remote program, not to it"))
                default:
                    break
                }
                state.update { s in
                    s.currentRequest = message.requestID
                    s.cancelled = []
                    s.cancelActions = []
                }
                defer { state.update { s in s.currentRequest = nil; s.cancelActions = [] } }
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
                    try framed.send(ErrorMessage(id: message.requestID, code: .internalError, message: e.summary, hint: e.hint))
                } catch let e as HintedError {
                    try sendError(ErrorMessage(id: message.requestID, code: .failed, message: e.summary, hint: e.hint))
                } catch {
                    try sendError(ErrorMessage(id: message.requestID, code: .internalError, message: "\(error)",
                                               hint: "this is a bug in akbackup; the \(hello.role.rawValue)'s log has details"))
                }
                // A data stream the handler did not read to its end is skipped, so its raw frames are not taken for messages.
                if let open = state.read({ $0.openData }) {
                    try discardIncomingData(open)
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

    /// A request failed: close any data stream it had open first, so the error stays in sequence.
    private func sendError(_ error: ErrorMessage) throws {
        if framed.isSendingData { try framed.endData() }
        try framed.send(error)
    }

    private func reject(_ error: ProtocolError) -> SessionEnd {
        log(error.description)
        if framed.isSendingData { try? framed.endData() }
        try? framed.send(ErrorMessage(id: nil, code: .protocolError, message: error.description, hint: error.hint))
        return .protocolViolation
    }
}

// MARK: - How the agent and the receiver start a session (one place for both hosts)

extension ServerSession {
    /// The session of a host program with its configured peer timeout: heartbeats at a quarter of it (at
    /// most the protocol's interval), and stdout writes to a controller that stopped reading given up
    /// after it. `channel` nil: stdin/stdout.
    public static func forHost(channel: ByteChannel?, hello: Hello, peerTimeout: Int, log: @escaping @Sendable (String) -> Void) -> ServerSession {
        var timing = Timing()
        timing.peerTimeout = TimeInterval(peerTimeout)
        timing.heartbeatInterval = min(ProtocolTiming.heartbeatInterval, timing.peerTimeout / 4)
        return ServerSession(channel: channel ?? StdioChannel(writeStallTimeout: timing.peerTimeout), hello: hello, timing: timing, log: log)
    }

    /// When the host's own config cannot be read: every request is answered with the same clear error
    /// (the file, the line, a hint) instead of guessing at defaults.
    public static func refusingEveryRequest(message: String, hint: String, channel: ByteChannel?, hello: Hello,
                                            log: @escaping @Sendable (String) -> Void) -> SessionEnd {
        ServerSession(channel: channel ?? StdioChannel(), hello: hello, log: log).run { request, _ in
            throw ErrorMessage(id: request.requestID, code: .failed, message: message, hint: hint)
        }
    }
}
