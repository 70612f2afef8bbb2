import AKBase
import AKProtocol
import Foundation
import HostConfig

/// What the receiver knows about the NAS: where backups live, which agents it takes them from, and
/// which mount they must be on. The controller never sends paths or keys.
public struct ReceiverConfig: Equatable, Sendable {
    public static let defaultPath = "/etc/akbackup/receiver.toml"
    public var directory = "/volume1/backups/apps/authentik"
    /// The backup directory must be on this mount point, or nothing is written (a volume that is not
    /// mounted must not fill the NAS's system disk). Empty: not checked.
    public var requireMount = "/volume1"
    /// Agent public keys (`ed25519:BASE64`) whose signed backups and receipts this receiver accepts.
    public var trustedAgentKeys: [String] = []
    /// Seconds without a byte or heartbeat from the controller before the receiver treats it as gone.
    public var peerTimeout = 60

    public init() {}

    public var trustedKeys: [AgentPublicKey] { trustedAgentKeys.compactMap { AgentPublicKey(text: $0) } }

    public static func load(path: String = ReceiverConfig.defaultPath) throws -> ReceiverConfig {
        var c = ReceiverConfig()
        guard let file = try ConfigFile.load(path: path) else { return c }
        try file.requireKnownKeys(["directory", "require_mount", "trusted_agent_keys", "peer_timeout"])
        if let v = try file.integer("peer_timeout") {
            guard (5...3600).contains(v) else {
                throw ConfigError(file: path, line: file.lines["peer_timeout"], message: "peer_timeout must be 5…3600 seconds",
                                  hint: "e.g. peer_timeout = 60")
            }
            c.peerTimeout = v
        }
        if let v = try file.string("directory") {
            guard v.hasPrefix("/") else {
                throw ConfigError(file: path, line: file.lines["directory"], message: "directory must be an absolute path, not \"\(v)\"",
                                  hint: "write the full path, e.g. directory = \"/volume1/backups/apps/authentik\"")
            }
            c.directory = v
        }
        if let v = try file.string("require_mount") {
            guard v.isEmpty || v.hasPrefix("/") else {
                throw ConfigError(file: path, line: file.lines["require_mount"], message: "require_mount must be an absolute path or empty",
                                  hint: "e.g. require_mount = \"/volume1\"")
            }
            c.requireMount = v
        }
        if let v = try file.strings("trusted_agent_keys") {
            for key in v where AgentPublicKey(text: key) == nil {
                throw ConfigError(file: path, line: file.lines["trusted_agent_keys"], message: "trusted_agent_keys holds \"\(key.prefix(60))\", which is not an agent public key",
                                  hint: "keys look like ed25519:BASE64, as `akbackup-agent key --public` prints them on infra-core")
            }
            c.trustedAgentKeys = v
        }
        return c
    }

    public static var defaultsText: String {
        let d = ReceiverConfig()
        return """
        # akbackup-receiver configuration: the facts of this host (the NAS).
        # The receiver reads and writes only inside this directory.
        #directory = "\(d.directory)"
        #require_mount = "\(d.requireMount)"      # the directory must be on this mount ("" to skip the check)
        #peer_timeout = \(d.peerTimeout)                # seconds of silence from the controller before it counts as gone
        # Agents whose signed backups are accepted (akbackup-receiver trust-agent-key KEY adds one):
        trusted_agent_keys = []

        """
    }
}
