import AgentCore
import AKBase
import AKProtocol
import ArgumentParser
import CLISupport
import Foundation
import HostConfig

struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "akbackup-agent",
        abstract: "akbackup's agent on infra-core: dumps, restores and checks the Authentik stack on this host.",
        discussion: """
        Runs as an SSH forced command (see deploy/agent/install):
          command="/usr/local/bin/akbackup-agent serve",restrict ssh-ed25519 AAAA…
        It reads its own config (\(AgentConfig.defaultPath)) and the stack's .env on this host; the controller
        only asks for operations and never sees the database password. It signs every backup's manifest and
        every receipt with its own key (state_dir/signing.key), which never leaves this host.

        Exit codes of serve: 0 session ended cleanly, 1 could not start, 2 protocol violation,
        3 protocol version mismatch, 4 link to the controller lost.
        Exit codes of the other commands: 0 done, 1 failed, 2 usage error.
        """,
        version: "akbackup-agent \(AKVersion.software) (protocol \(AKVersion.protocolVersion))",
        subcommands: [Serve.self, Key.self, TrustKey.self, Config.self]
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

struct Key: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The agent's signing key: make it (--init, run as the agent's login) or print its public half (--public).",
        discussion: "The NAS accepts only backups signed by a key it trusts: give it the --public line (akbackup-receiver trust-agent-key KEY).")

    @Option(help: "Config file.") var config = AgentConfig.defaultPath
    @Flag(help: "Create the key if there is none (never replaces one).") var `init` = false
    @Flag(help: "Print the public key (ed25519:BASE64).") var `public` = false
    @Flag(help: "Print the public key's fingerprint.") var fingerprint = false

    func run() throws {
        try exitingOneOnFailure {
            let c = try AgentConfig.load(path: config)
            if `init` {
                let (key, created) = try SigningKey.initialize(stateDir: c.stateDir)
                FileHandle.standardError.write(Data("\(created ? "created" : "kept the existing") signing key in \(SigningKey.path(stateDir: c.stateDir)) (\(key.publicKey.fingerprint))\n".utf8))
                if !`public` && !fingerprint { print(key.publicKey.text) }
            }
            guard `public` || fingerprint || `init` else { throw ValidationError("use --init, --public or --fingerprint") }
            if `public` || fingerprint {
                let key = try SigningKey.require(stateDir: c.stateDir)
                if `public` { print(key.publicKey.text) }
                if fingerprint { print(key.publicKey.fingerprint) }
            }
        }
    }
}

struct TrustKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trust-key",
        abstract: "Accept backups signed by another agent key (e.g. this host's key before it was rebuilt).",
        discussion: "Adds KEY to trusted_keys in the agent's config (run as root). Check the key's fingerprint against your records first.")

    @Option(help: "Config file.") var config = AgentConfig.defaultPath
    @Argument(help: "The public key, ed25519:BASE64.") var key: String

    func run() throws {
        try exitingOneOnFailure {
            guard let k = AgentPublicKey(text: key) else {
                throw Failure("\"\(key.prefix(60))\" is not an agent public key", hint: "keys look like ed25519:BASE64, as `akbackup-agent key --public` prints them")
            }
            let added = try ConfigEditor.addToStringArray(path: config, key: "trusted_keys", value: k.text)
            print(added ? "now trusting \(k.fingerprint) (\(config))" : "\(k.fingerprint) was already trusted")
        }
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

AgentCommand.mainWithDocumentedExitCodes()
