import AgentCore
import AKBase
import AKProtocol
import ArgumentParser
import CLISupport
import Foundation
import HostConfig
import HostSetup

struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "akbackup-agent",
        abstract: "akbackup's agent on infra-core: dumps, restores and checks the Authentik stack on this host.",
        discussion: """
        Runs as an SSH forced command, which `akbackup-agent authorize` writes:
          command="/usr/bin/akbackup-agent serve",restrict ssh-ed25519 AAAA…
        It reads its own config (\(AgentConfig.defaultPath)) and the stack's .env on this host; the controller
        only asks for operations and never sees the database password. It signs every backup's manifest and
        every receipt with its own key (state_dir/signing.key), which never leaves this host.

        Exit codes of serve: 0 session ended cleanly, 1 could not start, 2 protocol violation,
        3 protocol version mismatch, 4 link to the controller lost.
        Exit codes of the other commands: 0 done, 1 failed, 2 usage error.
        """,
        version: "akbackup-agent \(AKVersion.software) (protocol \(AKVersion.protocolVersion))",
        subcommands: [Serve.self, Key.self, TrustKey.self, Config.self, Authorize.self]
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
    @Option(help: ArgumentHelp("With --init: make the key 0640 in this group instead of 0600 (the package's postinst, as root: akbackup).",
                               valueName: "group")) var group: String?
    @Flag(help: "Print the public key (ed25519:BASE64).") var `public` = false
    @Flag(help: "Print the public key's fingerprint.") var fingerprint = false

    func run() throws {
        try exitingOneOnFailure {
            let c = try AgentConfig.load(path: config)
            var gid: gid_t?
            if let group {
                guard `init` else { throw ValidationError("--group goes with --init") }
                guard let id = Account.groupID(group) else {
                    throw Failure("there is no group \(group)", hint: "groupadd --system \(group), or leave out --group for a key only its creator reads")
                }
                gid = id
            }
            if `init` {
                let (key, created) = try SigningKey.initialize(stateDir: c.stateDir, group: gid)
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

struct Authorize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Let the operator's key run this agent as LOGIN: the forced-command line in LOGIN's authorized_keys (run as root).",
        discussion: """
        Checks KEYFILE (one OpenSSH public key; ed25519 or ECDSA: libssh2 1.10 cannot sign with RSA for OpenSSH ≥ 8.8), \
        writes command="<this program> serve",restrict KEY to ~LOGIN/.ssh/authorized_keys (idempotent; ~/.ssh 0700 and \
        the file 0600 owned by LOGIN; symbolic links are refused), adds LOGIN to the group \(AgentConfig.packageGroup) \
        (which may read the signing key and write the state directory), warns when LOGIN cannot reach Docker or \
        read the stack's .env, and prints the line.
        """)

    @Option(help: "The login the controller connects as.") var user: String
    @Option(help: "Config file (a non-default one goes into the forced command).") var config = AgentConfig.defaultPath
    @Argument(help: "The operator's public key file, e.g. a copy of their ~/.ssh/id_ed25519.pub.") var keyFile: String

    func run() throws {
        try exitingOneOnFailure {
            let c = try AgentConfig.load(path: config)
            let (line, account) = try HostSetup.Authorize.operatorKey(program: "akbackup-agent", user: user, keyFile: keyFile, config: config,
                                                                       defaultConfig: AgentConfig.defaultPath, say: say)

            let group = AgentConfig.packageGroup
            if Account.groupID(group) != nil {
                if try account.addToGroup(group) { say("added \(user) to the group \(group): it may read the signing key and write \(c.stateDir)") }
            } else {
                say("no group \(group) on this host (not installed from the package): \(c.stateDir) must belong to \(user), as deploy/agent/install makes it")
            }

            // Can the login do the job? Warnings only: the host may be set up differently on purpose.
            if !account.isMember(of: "docker") {
                warn("\(user) is not in the docker group: the agent cannot reach Docker", hint: "usermod -aG docker \(user)")
            }
            if !FileManager.default.fileExists(atPath: c.envPath) {
                warn("\(c.envPath) does not exist", hint: "set compose_dir / env_file in \(config)")
            } else if account.can("-r", c.envPath) == false {
                warn("\(user) cannot read \(c.envPath), which holds the database password", hint: "chown \(user) \(c.envPath) (keep mode 600)")
            }
            if FileManager.default.fileExists(atPath: c.stateDir), account.can("-w", c.stateDir) == false {
                warn("\(user) cannot write \(c.stateDir) (the lock, spool and undo files)",
                     hint: "chgrp \(group) \(c.stateDir) && chmod 2770 \(c.stateDir), with \(user) in \(group)")
            }
            let keyPath = SigningKey.path(stateDir: c.stateDir)
            if !FileManager.default.fileExists(atPath: keyPath) {
                warn("there is no signing key in \(c.stateDir) yet", hint: "akbackup-agent key --init --group \(group) (the package's postinst does this)")
            } else if account.can("-r", keyPath) == false {
                warn("\(user) cannot read the signing key \(keyPath)", hint: "chgrp \(group) \(keyPath) && chmod 640 \(keyPath), with \(user) in \(group)")
            }
            print(line)
        }
    }
}

AgentCommand.mainWithDocumentedExitCodes()
