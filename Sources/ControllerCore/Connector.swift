import AKBase
import AKProtocol
import Foundation
import ProtocolSession
import Synchronization
import Transport

/// A live session with one remote program, plus what the transport learned on the way
/// (address, host key, authentication) for the doctor.
public struct Connection: Sendable {
    public var session: ClientSession
    public var hello: Hello
    public var transportChecks: [Check]
}

/// Opens a channel to the program that plays `role`: over SSH for real use (`SSHConnector`), over an
/// in-memory pipe to in-process servers in tests.
public protocol Connector: Sendable {
    func openChannel(role: Role, remote: ControllerConfig.Remote) throws -> (channel: ByteChannel, checks: [Check])
    /// Seconds without a byte or heartbeat before a session gives its remote up.
    var peerTimeout: TimeInterval { get }
}

extension Connector {
    public var peerTimeout: TimeInterval { ProtocolTiming.peerTimeout }

    /// Opens the channel and runs the handshake, checking the remote's role and protocol version.
    public func connect(role: Role, remote: ControllerConfig.Remote) throws -> Connection {
        let (channel, checks) = try openChannel(role: role, remote: remote)
        let session = ClientSession(channel: channel, host: remote.host, peerTimeout: peerTimeout)
        do {
            let hello = try session.handshake(expecting: role)
            return Connection(session: session, hello: hello, transportChecks: checks)
        } catch {
            session.close()
            throw error
        }
    }
}

/// The sessions one command uses: each host is reached once and the session passed down, and all
/// are closed when the command ends.
public final class HostSessions: Sendable {
    public let config: ControllerConfig
    public let connector: Connector
    private let connections = Mutex<[Role: Connection]>([:])
    private let facts = Mutex<AgentFacts?>(nil)

    public init(config: ControllerConfig, connector: Connector) {
        self.config = config
        self.connector = connector
    }

    deinit { close() }

    /// The session with `role`'s program, connecting on first use.
    public func connection(_ role: Role) throws -> Connection {
        if let c = connections.withLock({ $0[role] }) { return c }
        let c = try connector.connect(role: role, remote: config.remote(role))
        connections.withLock { $0[role] = c }
        return c
    }

    public func agent() throws -> ClientSession { try connection(.agent).session }
    public func receiver() throws -> ClientSession { try connection(.receiver).session }

    /// Both hosts at once: each handshake is a round trip or two plus key exchange.
    public func connectBoth() throws {
        let agentResult = Mutex<Result<Connection, Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            let r = Result { try connection(.agent) }
            agentResult.withLock { $0 = r }
            done.signal()
        }
        thread.start()
        let receiverResult = Result { try connection(.receiver) }
        done.wait()
        _ = try receiverResult.get()
        _ = try agentResult.withLock { $0! }.get()
    }

    /// What the agent reports about its host (asked once per command).
    public func agentFacts() throws -> AgentFacts {
        if let f = facts.withLock({ $0 }) { return f }
        let session = try agent()
        let result = try session.probe()
        guard let f = result.agent else {
            throw RemoteError(host: session.host, code: .failed, message: "the agent did not report its facts",
                              hint: "install the same akbackup version on the laptop and on infra-core")
        }
        facts.withLock { $0 = f }
        return f
    }

    /// The agent's trusted keys, for checking signatures on this side too.
    public func agentTrustedKeys() throws -> [AgentPublicKey] {
        try agentFacts().trustedKeys.compactMap { AgentPublicKey(text: $0) }
    }

    public func close() {
        let all = connections.withLock { c -> [Connection] in
            defer { c = [:] }
            return Array(c.values)
        }
        for c in all { c.session.close() }
    }
}
