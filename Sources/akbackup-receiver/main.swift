import ReceiverCore
import AKProtocol
import ArgumentParser
import Foundation

struct ReceiverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "akbackup-receiver",
        abstract: "akbackup's receiver on the NAS: stores, lists, verifies and serves backups in one directory.",
        discussion: """
        Runs as an SSH forced command (see deploy/receiver/install):
          command="/usr/local/bin/akbackup-receiver serve",restrict ssh-ed25519 AAAA…
        It reads its own config (\(ReceiverConfig.defaultPath)) and never writes outside its directory; the controller
        only asks for operations and never sends paths.

        Exit codes of serve: 0 session ended cleanly, 1 could not start, 2 protocol violation,
        3 protocol version mismatch, 4 link to the controller lost.
        """,
        version: "akbackup-receiver \(AKVersion.software) (protocol \(AKVersion.protocolVersion))",
        subcommands: [Serve.self, Config.self]
    )
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Speak the akbackup protocol on stdin/stdout (log on stderr).")

    @Option(help: "Config file.") var config = ReceiverConfig.defaultPath
    @Option(help: .hidden) var protocolVersion = AKVersion.protocolVersion

    func run() throws {
        throw ExitCode(ReceiverServer.serve(configPath: config, protocolVersion: protocolVersion))
    }
}

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the default config file (for \(ReceiverConfig.defaultPath)).")

    @Flag(help: "Print the defaults.") var defaults = false

    func run() throws {
        guard defaults else { throw ValidationError("use --defaults") }
        print(ReceiverConfig.defaultsText, terminator: "")
    }
}

ReceiverCommand.main()
