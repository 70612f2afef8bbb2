import AKBase
import AKProtocol
import Foundation
import HostConfig

/// How the controller reaches the agent and the receiver. Zero configuration is the runbook's
/// world: SSH aliases `infra-core` and `nas`, the remote programs by name on the remote PATH.
public struct ControllerConfig: Equatable, Sendable {
    public struct Remote: Equatable, Sendable {
        /// An SSH alias or host name, resolved like `ssh HOST` (the operator's ~/.ssh/config).
        public var host: String
        /// What is exec'd on the remote (ignored when an authorized_keys forced command is set).
        public var command: String
    }

    public var agent = Remote(host: "infra-core", command: "akbackup-agent serve")
    public var receiver = Remote(host: "nas", command: "akbackup-receiver serve")
    /// An ssh_config file instead of ssh's own (~/.ssh/config); mostly for tests.
    public var sshConfigFile: String?
    public var connectTimeout: Int?
    /// Seconds without a byte or heartbeat from a remote program before it counts as dead.
    public var idleTimeout = 60
    /// `akbackup status` fails when the newest backup is older than this.
    public var maxBackupAgeHours = 26
    /// `akbackup status` fails when the last good restore test is older than this (quarterly).
    public var maxRestoreTestAgeDays = 92
    /// Where this file came from, for messages.
    public var source = "defaults"

    public init() {}

    public func remote(_ role: Role) -> Remote {
        role == .agent ? agent : receiver
    }

    static let keys: Set<String> = [
        "agent.host", "agent.command", "receiver.host", "receiver.command",
        "ssh.config_file", "ssh.connect_timeout", "ssh.idle_timeout",
        "status.max_backup_age_hours", "status.max_restore_test_age_days",
    ]

    /// The config file to read: `--config`, then `$AKBACKUP_CONFIG`, then ~/.config/akbackup/config.toml.
    /// An explicitly named file must exist; the default one may be absent.
    public static func load(explicitPath: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ControllerConfig {
        let explicit = explicitPath ?? environment["AKBACKUP_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        let home = environment["HOME"] ?? NSHomeDirectory()
        let path = explicit ?? "\(home)/.config/akbackup/config.toml"
        guard let file = try ConfigFile.load(path: path) else {
            if let explicit {
                throw ConfigError(file: explicit, line: nil, message: "config file does not exist",
                                  hint: "create it or drop --config / AKBACKUP_CONFIG to use the defaults (hosts infra-core and nas)")
            }
            return ControllerConfig()
        }
        try file.requireKnownKeys(keys)
        var c = ControllerConfig()
        c.source = path
        if let v = try file.string("agent.host") { c.agent.host = v }
        if let v = try file.string("agent.command") { c.agent.command = v }
        if let v = try file.string("receiver.host") { c.receiver.host = v }
        if let v = try file.string("receiver.command") { c.receiver.command = v }
        if let v = try file.string("ssh.config_file") { c.sshConfigFile = v }
        if let v = try file.integer("ssh.connect_timeout") { c.connectTimeout = v }
        if let v = try file.integer("ssh.idle_timeout") {
            guard (5...3600).contains(v) else {
                throw ConfigError(file: path, line: file.lines["ssh.idle_timeout"], message: "ssh.idle_timeout must be 5…3600 seconds",
                                  hint: "e.g. idle_timeout = 60")
            }
            c.idleTimeout = v
        }
        if let v = try file.integer("status.max_backup_age_hours") { c.maxBackupAgeHours = v }
        if let v = try file.integer("status.max_restore_test_age_days") { c.maxRestoreTestAgeDays = v }
        for key in ["agent.host", "receiver.host"] {
            if let v = try file.string(key), v.isEmpty || v.hasPrefix("-") || v.contains(where: { $0 == " " || $0 == "\n" }) {
                throw ConfigError(file: path, line: file.lines[key], message: "key \"\(key)\" is not a host name: \"\(v)\"",
                                  hint: "use an SSH alias from ~/.ssh/config or a host name")
            }
        }
        return c
    }
}
