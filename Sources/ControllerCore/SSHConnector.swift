import AKProtocol
import Foundation
import SSHTransport
import Transport

/// Reaches remote programs the way `ssh HOST` does: the operator's ssh config, keys and known_hosts.
public struct SSHConnector: Connector {
    public var config: ControllerConfig

    public init(config: ControllerConfig) {
        self.config = config
    }

    /// Keepalive used when the ssh config sets no ServerAliveInterval (OpenSSH's default is off):
    /// without it a dead link is only noticed after the idle timeout while reading, and never
    /// while a write waits for the SSH window.
    public static let defaultServerAliveInterval = 15

    /// The endpoint as the controller uses it: ssh config, then the akbackup config's overrides
    /// and the default keepalive.
    public static func effectiveEndpoint(_ resolved: SSHEndpoint, config: ControllerConfig) -> SSHEndpoint {
        var endpoint = resolved
        if let t = config.connectTimeout { endpoint.connectTimeout = t }
        if endpoint.serverAliveInterval <= 0 {
            endpoint.serverAliveInterval = defaultServerAliveInterval
            if endpoint.serverAliveCountMax <= 0 { endpoint.serverAliveCountMax = 3 }
        }
        return endpoint
    }

    public var peerTimeout: TimeInterval { TimeInterval(config.idleTimeout) }

    public func openChannel(role: Role, remote: ControllerConfig.Remote) throws -> (channel: ByteChannel, checks: [Check]) {
        let endpoint = SSHConnector.effectiveEndpoint(
            try SSHConfigResolver.resolve(alias: remote.host, configFile: config.sshConfigFile), config: config)
        var options = SSHOptions()
        options.idleTimeout = TimeInterval(config.idleTimeout)
        let connection = try SSHConnection.open(endpoint: endpoint, command: remote.command, options: options)
        let checks = [
            Check(name: "connection", ok: true, detail: "\(endpoint.user)@\(connection.remoteAddress)"),
            Check(name: "host key", ok: true, detail: "\(connection.hostKeyType) \(connection.hostKeyFingerprint) (\(connection.hostKeyStatus))"),
            Check(name: "auth", ok: true, detail: connection.authMethod),
        ]
        return (connection, checks)
    }
}
