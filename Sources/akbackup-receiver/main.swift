import AKBase
import AKProtocol
import ArgumentParser
import CLISupport
import Foundation
import HostConfig
import ReceiverCore

struct ReceiverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "akbackup-receiver",
        abstract: "akbackup's receiver on the NAS: stores, lists, verifies and serves backups in one directory.",
        discussion: """
        Runs as an SSH forced command (see deploy/receiver/install):
          command="/usr/local/bin/akbackup-receiver serve",restrict ssh-ed25519 AAAA…
        It reads its own config (\(ReceiverConfig.defaultPath)) and never writes outside its directory; the controller
        only asks for operations and never sends paths. It keeps only backups and receipts signed by an
        agent key it trusts (trusted_agent_keys).

        Exit codes of serve: 0 session ended cleanly, 1 could not start, 2 protocol violation,
        3 protocol version mismatch, 4 link to the controller lost.
        Exit codes of the other commands: 0 done, 1 failed, 2 usage error.
        """,
        version: "akbackup-receiver \(AKVersion.software) (protocol \(AKVersion.protocolVersion))",
        subcommands: [Serve.self, TrustAgentKey.self, Config.self]
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

struct TrustAgentKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trust-agent-key",
        abstract: "Accept backups and receipts signed by this agent key (as `akbackup-agent key --public` prints it on infra-core).",
        discussion: "Adds KEY to trusted_agent_keys in the receiver's config (run as root).")

    @Option(help: "Config file.") var config = ReceiverConfig.defaultPath
    @Argument(help: "The agent's public key, ed25519:BASE64.") var key: String

    func run() throws {
        try exitingOneOnFailure {
            guard let k = AgentPublicKey(text: key) else {
                throw Failure("\"\(key.prefix(60))\" is not an agent public key",
                              hint: "keys look like ed25519:BASE64, as `akbackup-agent key --public` prints them on infra-core")
            }
            let added = try ConfigEditor.addToStringArray(path: config, key: "trusted_agent_keys", value: k.text)
            print(added ? "now trusting agent key \(k.fingerprint) (\(config))" : "agent key \(k.fingerprint) was already trusted")
        }
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

ReceiverCommand.mainWithDocumentedExitCodes()
