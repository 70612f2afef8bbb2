import Foundation
import HostConfig

/// What the receiver knows about the NAS: where backups live. The controller never sends paths.
public struct ReceiverConfig: Equatable, Sendable {
    public static let defaultPath = "/etc/akbackup/receiver.toml"
    public var directory = "/volume1/backups/apps/authentik"

    public init() {}

    public static func load(path: String = ReceiverConfig.defaultPath) throws -> ReceiverConfig {
        var c = ReceiverConfig()
        guard let file = try ConfigFile.load(path: path) else { return c }
        try file.requireKnownKeys(["directory"])
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

        """
    }
}
