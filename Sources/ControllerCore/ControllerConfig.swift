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
    /// When `akbackup status` warns and when it fails.
    public var statusLimits = StatusLimits()
    /// `akbackup status --textfile-dir`'s default: where node_exporter's textfile collector looks.
    public var textfileDirectory: String?
    /// The heartbeat pinged by the scheduled jobs (`[notify]`).
    public var notify = NotifyConfig()
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
        "status.warn_backup_age_hours", "status.warn_restore_test_age_days", "status.textfile_dir",
        "notify.ping_url", "notify.ping_timeout",
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
        c.statusLimits = try StatusLimits.load(from: file)
        if let v = try file.string("status.textfile_dir") {
            guard v.hasPrefix("/") else {
                throw ConfigError(file: path, line: file.lines["status.textfile_dir"], message: "status.textfile_dir must be an absolute path",
                                  hint: "e.g. textfile_dir = \"/var/lib/prometheus/node-exporter\"")
            }
            c.textfileDirectory = v
        }
        c.notify = try NotifyConfig.load(from: file)
        for key in ["agent.host", "receiver.host"] {
            if let v = try file.string(key), v.isEmpty || v.hasPrefix("-") || v.contains(where: { $0 == " " || $0 == "\n" }) {
                throw ConfigError(file: path, line: file.lines[key], message: "key \"\(key)\" is not a host name: \"\(v)\"",
                                  hint: "use an SSH alias from ~/.ssh/config or a host name")
            }
        }
        return c
    }
}

/// `[status]`: how old the newest backup (hours) and the last passed restore test (days) may be
/// before `akbackup status` warns, and before it fails. A daily backup is an hour late at 25 h and
/// overdue at 26 h; the quarterly drill gets a week's warning (85 of 92 days).
public struct StatusLimits: Codable, Equatable, Sendable {
    public var warnBackupAgeHours: Int
    public var maxBackupAgeHours: Int
    public var warnRestoreTestAgeDays: Int
    public var maxRestoreTestAgeDays: Int

    public static let defaultWarnBackupAgeHours = 25
    public static let defaultMaxBackupAgeHours = 26
    public static let defaultWarnRestoreTestAgeDays = 85
    public static let defaultMaxRestoreTestAgeDays = 92

    public init(warnBackupAgeHours: Int = defaultWarnBackupAgeHours, maxBackupAgeHours: Int = defaultMaxBackupAgeHours,
                warnRestoreTestAgeDays: Int = defaultWarnRestoreTestAgeDays, maxRestoreTestAgeDays: Int = defaultMaxRestoreTestAgeDays) {
        self.warnBackupAgeHours = warnBackupAgeHours
        self.maxBackupAgeHours = maxBackupAgeHours
        self.warnRestoreTestAgeDays = warnRestoreTestAgeDays
        self.maxRestoreTestAgeDays = maxRestoreTestAgeDays
    }

    /// An unset warning limit is its default, lowered to the critical limit when that is smaller
    /// (a stricter critical limit must not leave a warning that can never come first); a warning
    /// limit set above the critical one is an error.
    static func load(from file: ConfigFile) throws -> StatusLimits {
        func read(_ key: String, range: ClosedRange<Int>, unit: String) throws -> Int? {
            guard let v = try file.integer("status.\(key)") else { return nil }
            guard range.contains(v) else {
                throw ConfigError(file: file.path, line: file.lines["status.\(key)"],
                                  message: "status.\(key) must be \(range.lowerBound)…\(range.upperBound) \(unit)", hint: "fix the value on that line")
            }
            return v
        }
        // 0 is allowed: everything is overdue, which is how to check that an alert fires.
        let maxHours = try read("max_backup_age_hours", range: 0...8760, unit: "hours") ?? defaultMaxBackupAgeHours
        let maxDays = try read("max_restore_test_age_days", range: 0...3650, unit: "days") ?? defaultMaxRestoreTestAgeDays
        let warnHours = try read("warn_backup_age_hours", range: 0...8760, unit: "hours")
        let warnDays = try read("warn_restore_test_age_days", range: 0...3650, unit: "days")
        for (key, warn, max, maxKey) in [("warn_backup_age_hours", warnHours, maxHours, "max_backup_age_hours"),
                                         ("warn_restore_test_age_days", warnDays, maxDays, "max_restore_test_age_days")] {
            if let warn, warn > max {
                throw ConfigError(file: file.path, line: file.lines["status.\(key)"],
                                  message: "status.\(key) (\(warn)) is above status.\(maxKey) (\(max))",
                                  hint: "the warning limit must not exceed the critical one")
            }
        }
        return StatusLimits(warnBackupAgeHours: warnHours ?? min(defaultWarnBackupAgeHours, maxHours), maxBackupAgeHours: maxHours,
                            warnRestoreTestAgeDays: warnDays ?? min(defaultWarnRestoreTestAgeDays, maxDays), maxRestoreTestAgeDays: maxDays)
    }
}

/// `[notify]`: a heartbeat URL in the healthchecks.io convention (see `Notifier`). The URL is a
/// secret (anyone who has it can fake the heartbeat), so no message ever repeats it.
public struct NotifyConfig: Equatable, Sendable {
    public var pingURL: String?
    /// Seconds one ping attempt may take.
    public var pingTimeout: Int
    public static let defaultPingTimeout = 10

    public init(pingURL: String? = nil, pingTimeout: Int = defaultPingTimeout) {
        self.pingURL = pingURL
        self.pingTimeout = pingTimeout
    }

    static func load(from file: ConfigFile) throws -> NotifyConfig {
        var n = NotifyConfig()
        if let t = try file.integer("notify.ping_timeout") {
            guard (1...120).contains(t) else {
                throw ConfigError(file: file.path, line: file.lines["notify.ping_timeout"], message: "notify.ping_timeout must be 1…120 seconds",
                                  hint: "e.g. ping_timeout = 10")
            }
            n.pingTimeout = t
        }
        if let url = try file.string("notify.ping_url") {
            // The value is not quoted back: it is the secret.
            guard Notifier.isUsableURL(url) else {
                throw ConfigError(file: file.path, line: file.lines["notify.ping_url"],
                                  message: "notify.ping_url is not an http:// or https:// URL with a host (or holds spaces or control characters)",
                                  hint: "e.g. ping_url = \"https://hc-ping.com/YOUR-UUID\"")
            }
            n.pingURL = url
        }
        return n
    }
}
