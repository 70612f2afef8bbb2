import Foundation
import HostConfig

/// What the receiver knows about the NAS: where backups live. The controller never sends paths.
public struct ReceiverConfig: Equatable, Sendable {
    public static let defaultPath = "/etc/akbackup/receiver.toml"
    public var directory = "/volume1/backups/apps/authentik"
    /// Seconds without a byte from the controller during an upload before the receiver gives up,
    /// removes the partial file and exits. A cut link can leave stdin open for hours (no FIN ever
    /// arrives), and the stuck receiver's lock would keep its partial file alive. 0 disables it.
    public var uploadIdleTimeout = 300

    public init() {}

    public static func load(path: String = ReceiverConfig.defaultPath) throws -> ReceiverConfig {
        var c = ReceiverConfig()
        guard let file = try ConfigFile.load(path: path) else { return c }
        try file.requireKnownKeys(["directory", "upload_idle_timeout"])
        if let v = try file.integer("upload_idle_timeout") {
            guard v >= 0 else {
                throw ConfigError(file: path, line: file.lines["upload_idle_timeout"], message: "upload_idle_timeout must be 0 or more seconds",
                                  hint: "e.g. upload_idle_timeout = 300 (0 disables it)")
            }
            c.uploadIdleTimeout = v
        }
        if let v = try file.string("directory") {
            guard v.hasPrefix("/") else {
                throw ConfigError(file: path, line: file.lines["directory"], message: "directory must be an absolute path, not \"\(v)\"",
                                  hint: "write the full path, e.g. directory = \"/volume1/backups/apps/authentik\"")
            }
            c.directory = v
        }
        return c
    }

    public static var defaultsText: String {
        """
        # akbackup-receiver configuration: the facts of this host (the NAS).
        # The receiver reads and writes only inside this directory.
        #directory = "\(ReceiverConfig().directory)"
        #upload_idle_timeout = \(ReceiverConfig().uploadIdleTimeout)   # seconds; give up a silent upload and remove its partial file

        """
    }
}
