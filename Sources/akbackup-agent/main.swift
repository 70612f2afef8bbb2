import AgentCore
import AKProtocol
import ArgumentParser
import Foundation

struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "akbackup-agent",
        abstract: "akbackup's agent on infra-core: dumps, restores and checks the Authentik stack on this host.",
        discussion: """
        Runs as an SSH forced command (see deploy/agent/install):
          command="/usr/local/bin/akbackup-agent serve",restrict ssh-ed25519 AAAA…
        It reads its own config (\(AgentConfig.defaultPath)) and the stack's .env on this host; the controller
        only asks for operations and never sees the database password.

        Exit codes of serve: 0 session ended cleanly, 1 could not start, 2 protocol violation,
        3 protocol version mismatch, 4 link to the controller lost.
        """,
        version: "akbackup-agent \(AKVersion.software) (protocol \(AKVersion.protocolVersion))",
        subcommands: [Serve.self, Config.self]
    )
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Speak the akbackup protocol on stdin/stdout (log on stderr).")

    @Option(help: "Config file.") var config = AgentConfig.defaultPath
    @Option(help: .hidden) var protocolVersion = AKVersion.protocolVersion

    func run() throws {
        throw ExitCode(AgentServer.serve(configPath: config, protocolVersion: protocolVersion))
    }
}

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the default config file (for \(AgentConfig.defaultPath)).")

    @Flag(help: "Print the defaults.") var defaults = false

    func run() throws {
        guard defaults else { throw ValidationError("use --defaults") }
        print(AgentConfig.defaultsText, terminator: "")
    }
}

AgentCommand.main()
