import AKProtocol
import Foundation
import ProtocolSession
import Transport

/// A live session with one remote program, plus what the transport learned on the way
/// (address, host key, authentication) for the doctor.
public struct Connection {
    public var session: ClientSession
    public var hello: Hello
    public var transportChecks: [Check]
}

/// Opens a channel to the program that plays `role`. Implemented over SSH for real use and
/// over a local subprocess for tests of the controller's logic.
public protocol Connector {
    func openChannel(role: Role, remote: ControllerConfig.Remote) throws -> (channel: ByteChannel, checks: [Check])
}

extension Connector {
    /// Opens the channel and runs the handshake, checking the remote's role and protocol version.
    public func connect(role: Role, remote: ControllerConfig.Remote) throws -> Connection {
        let (channel, checks) = try openChannel(role: role, remote: remote)
        let session = ClientSession(channel: channel, host: remote.host)
        let hello = try session.handshake(expecting: role)
        return Connection(session: session, hello: hello, transportChecks: checks)
    }
}

/// Runs the remote programs as local processes: for tests, and for a controller on the same host.
public struct LocalConnector: Connector {
    public var agentArguments: [String]
    public var receiverArguments: [String]

    public init(agentArguments: [String], receiverArguments: [String]) {
        self.agentArguments = agentArguments
        self.receiverArguments = receiverArguments
    }

    public func openChannel(role: Role, remote: ControllerConfig.Remote) throws -> (channel: ByteChannel, checks: [Check]) {
        let argv = role == .agent ? agentArguments : receiverArguments
        let channel = try SubprocessChannel(arguments: argv, peerName: remote.host)
        return (channel, [Check(name: "connection", ok: true, detail: "local process \(argv[0])")])
    }
}
