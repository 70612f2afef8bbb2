import AKBase
import AKProtocol
import Foundation
import HostConfig
import Retention

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
    /// `[retention]`: what a prune keeps. The default has no rule: nothing is ever deleted.
    public var retention = RetentionPolicy()

    public init() {}

    public var trustedKeys: [AgentPublicKey] { trustedAgentKeys.compactMap { AgentPublicKey(text: $0) } }

    public static func load(path: String = ReceiverConfig.defaultPath) throws -> ReceiverConfig {
        var c = ReceiverConfig()
        guard let file = try ConfigFile.load(path: path) else { return c }
        try file.requireKnownKeys(Set(["directory", "require_mount", "trusted_agent_keys", "peer_timeout"]
                                          + retentionCounts.map { "retention.\($0.key)" }
                                          + ["retention.keep_within", "retention.min_age"]))
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
        c.retention = try loadRetention(file)
        return c
    }

    /// The counted keys of `[retention]`, each 0 … `RetentionLimits.maxCount`.
    static var retentionCounts: [(key: String, path: WritableKeyPath<RetentionPolicy, Int>)] {
        [("keep_last", \.keepLast), ("keep_hourly", \.keepHourly), ("keep_daily", \.keepDaily), ("keep_weekly", \.keepWeekly),
         ("keep_monthly", \.keepMonthly), ("keep_yearly", \.keepYearly), ("min_keep", \.minKeep)]
    }

    static func loadRetention(_ file: ConfigFile) throws -> RetentionPolicy {
        var policy = RetentionPolicy()
        for (key, path) in retentionCounts {
            guard let v = try file.integer("retention.\(key)") else { continue }
            guard (0...RetentionLimits.maxCount).contains(v) else {
                throw ConfigError(file: file.path, line: file.lines["retention.\(key)"],
                                  message: "retention.\(key) must be 0…\(RetentionLimits.maxCount)", hint: "e.g. \(key) = 7")
            }
            policy[keyPath: path] = v
        }
        func duration(_ key: String) throws -> RetentionDuration? {
            guard let text = try file.string("retention.\(key)") else { return nil }
            do {
                return try RetentionDuration(parsing: text)
            } catch let e as RetentionDuration.ParseError {
                throw ConfigError(file: file.path, line: file.lines["retention.\(key)"],
                                  message: "retention.\(key) = \"\(text.prefix(40))\" is not a duration: \(e.reason)",
                                  hint: RetentionDuration.grammarHint)
            }
        }
        if let within = try duration("keep_within") {
            guard !within.isZero else {
                throw ConfigError(file: file.path, line: file.lines["retention.keep_within"], message: "retention.keep_within must be longer than 0",
                                  hint: "remove the line to keep nothing by age, or give a span such as \"30d\"")
            }
            policy.keepWithin = within
        }
        if let age = try duration("min_age") { policy.minAge = age }
        return policy
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

        # What a prune (`akbackup prune`, and after every backup) keeps, decided here on the NAS. With no
        # keep_* above 0 and no keep_within (the default) nothing is ever deleted. A backup is kept if any
        # rule keeps it (restic's `forget`); periods are UTC hours, days, ISO weeks, months and years.
        # Durations: numbers with units y, m (months), w, d, h in that order, e.g. "30d", "12h", "2w", "1y2m".
        [retention]
        #keep_last = 0          # the N newest backups
        #keep_hourly = 0        # the newest backup of each of the N newest hours that have one
        #keep_daily = 0         # … of the N newest days that have one (e.g. 7)
        #keep_weekly = 0        # … of the N newest ISO weeks, Monday to Sunday (e.g. 5)
        #keep_monthly = 0       # … of the N newest months (e.g. 12)
        #keep_yearly = 0        # … of the N newest years
        #keep_within = "30d"    # every backup made within this span of the newest one
        # Floors no policy goes below: the newest backup that verifies, the one the newest passing
        # restore test used, pinned ones (`akbackup pin`), and:
        #min_age = "\(d.retention.minAge)"        # every backup younger than this
        #min_keep = \(d.retention.minKeep)          # the N newest backups

        """
    }
}
