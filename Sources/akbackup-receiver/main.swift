import AKBase
import AKProtocol
import ArgumentParser
import CLISupport
import Foundation
import HostConfig
import HostSetup
import ReceiverCore
#if canImport(Glibc)
import Glibc
#endif

struct ReceiverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "akbackup-receiver",
        abstract: "akbackup's receiver on the NAS: stores, lists, verifies and serves backups in one directory.",
        discussion: """
        Runs as an SSH forced command, which `akbackup-receiver authorize` writes:
          command="/usr/bin/akbackup-receiver serve",restrict ssh-ed25519 AAAA…
        It reads its own config (\(ReceiverConfig.defaultPath)) and never writes outside its directory; the controller
        only asks for operations and never sends paths. It keeps only backups and receipts signed by an
        agent key it trusts (trusted_agent_keys).

        Exit codes of serve: 0 session ended cleanly, 1 could not start, 2 protocol violation,
        3 protocol version mismatch, 4 link to the controller lost.
        Exit codes of the other commands: 0 done, 1 failed, 2 usage error.
        """,
        version: "akbackup-receiver \(AKVersion.software) (protocol \(AKVersion.protocolVersion))",
        subcommands: [Serve.self, TrustAgentKey.self, Config.self, Authorize.self]
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

struct Authorize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Let the operator's key run this receiver as LOGIN: the forced-command line in LOGIN's authorized_keys (run as root).",
        discussion: """
        Checks KEYFILE (one OpenSSH public key; ed25519 or ECDSA: libssh2 1.10 cannot sign with RSA for OpenSSH ≥ 8.8), \
        writes command="<this program> serve",restrict KEY to ~LOGIN/.ssh/authorized_keys (idempotent; ~/.ssh 0700 and \
        the file 0600 owned by LOGIN; symbolic links are refused), creates the backup directory of the config for \
        LOGIN (0700) when its require_mount is mounted, and prints the line.
        """)

    @Option(help: "The login the controller connects as.") var user: String
    @Option(help: "Config file (a non-default one goes into the forced command).") var config = ReceiverConfig.defaultPath
    @Argument(help: "The operator's public key file, e.g. a copy of their ~/.ssh/id_ed25519.pub.") var keyFile: String

    func run() throws {
        try exitingOneOnFailure {
            let c = try ReceiverConfig.load(path: config)
            let (line, account) = try HostSetup.Authorize.operatorKey(program: "akbackup-receiver", user: user, keyFile: keyFile, config: config,
                                                                       defaultConfig: ReceiverConfig.defaultPath, say: say)
            try backupDirectory(c, for: account)
            if c.trustedAgentKeys.isEmpty {
                warn("no agent key is trusted yet: every backup is refused",
                     hint: "on infra-core run `akbackup-agent key --public`, then here: akbackup-receiver trust-agent-key KEY")
            }
            print(line)
        }
    }

    /// The runbook's `mkdir -p` of the backup directory, for the login — only on the mounted volume:
    /// made on the NAS's system disk it would hide a volume that failed to mount.
    func backupDirectory(_ c: ReceiverConfig, for account: Account) throws {
        let dir = c.directory
        var st = stat()
        // The path is root's own config, so a link the admin made to the real directory is fine.
        if stat(dir, &st) == 0 {
            if (st.st_mode & S_IFMT) != S_IFDIR {
                warn("\(dir) exists but is not a directory", hint: "move it away, or set directory in \(config)")
            } else if account.can("-w", dir) == false {
                warn("\(user) cannot write to \(dir)", hint: "chown -R \(user) \(dir)")
            }
            return
        }
        if let problem = BackupStore(config: c).mountProblem() {
            warn("not creating \(dir): \(problem)",
                 hint: "mount the volume and run authorize again (or set require_mount in \(config) to where the backups really live)")
            return
        }
        let parent = (dir as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        guard mkdir(dir, 0o700) == 0 || errno == EEXIST else { throw FileIOError("create", path: dir, code: errno) }
        // Owner and mode through a descriptor that refuses a link swapped in meanwhile.
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw FileIOError("open", path: dir, code: errno) }
        defer { close(fd) }
        guard fchown(fd, account.uid, account.gid) == 0 else { throw FileIOError("change the owner of", path: dir, code: errno) }
        guard fchmod(fd, 0o700) == 0 else { throw FileIOError("chmod", path: dir, code: errno) }
        say("created \(dir) for \(user) (0700)")
    }
}

ReceiverCommand.mainWithDocumentedExitCodes()
