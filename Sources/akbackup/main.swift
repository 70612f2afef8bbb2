import AKProtocol
import ArgumentParser
import ControllerCore
import Foundation

struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Config file (default: $AKBACKUP_CONFIG, then ~/.config/akbackup/config.toml; none needed).")
    var config: String?

    func load() throws -> ControllerConfig {
        try ControllerConfig.load(explicitPath: config)
    }
}

/// Runs `body`, printing any error as "error: …" + "hint: …" and exiting with its documented code.
func runReportingErrors(_ body: () throws -> ExitStatus) throws {
    do {
        let status = try body()
        if status != .ok { throw ExitCode(status.rawValue) }
    } catch let exit as ExitCode {
        throw exit
    } catch {
        FileHandle.standardError.write(Data((describeForOperator(error) + "\n").utf8))
        throw ExitCode(ExitStatus.of(error).rawValue)
    }
}

struct AKBackup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "akbackup",
        abstract: "Back up and restore the Authentik identity server (infra-core → NAS), safely.",
        discussion: """
        With no configuration, the agent is reached as `ssh infra-core` and the receiver as `ssh nas`,
        using your own ~/.ssh/config, keys and known_hosts.

        \(ExitStatus.helpText)
        """,
        version: "akbackup \(AKVersion.software) (protocol \(AKVersion.protocolVersion))",
        subcommands: [Doctor.self, Trust.self]
    )
}

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check both hosts: SSH, remote programs, Docker, the database, the backup directory.",
        discussion: "Exits 0 only when every check passes.\n\n\(ExitStatus.helpText)")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func run() throws {
        try runReportingErrors {
            let config = try global.load()
            let report = ControllerCore.Doctor.run(config: config, connector: SSHConnector(config: config))
            print(json ? ControllerCore.Doctor.renderJSON(report) : ControllerCore.Doctor.renderText(report), terminator: "")
            return report.ok ? .ok : .failed
        }
    }
}

struct Trust: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a host's SSH key fingerprint and, once you confirm, add it to your known_hosts.",
        discussion: "Compare the fingerprint with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` run on the host itself.\n\n\(ExitStatus.helpText)")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "SSH alias or host name (e.g. infra-core, nas).") var host: String
    @Flag(help: "Add the key without asking (only after checking the fingerprint another way).") var yes = false

    func run() throws {
        try runReportingErrors {
            let config = try global.load()
            return try TrustHost.run(alias: host, config: config, assumeYes: yes)
        }
    }
}

AKBackup.main()
