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

    public func openChannel(role: Role, remote: ControllerConfig.Remote) throws -> (channel: ByteChannel, checks: [Check]) {
        var endpoint = try SSHConfigResolver.resolve(alias: remote.host, configFile: config.sshConfigFile)
        if let t = config.connectTimeout { endpoint.connectTimeout = t }
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
