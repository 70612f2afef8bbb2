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
        subcommands: [Backup.self, List.self, Verify.self, Doctor.self, Trust.self]
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

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Dump the Authentik database on infra-core and store it, verified, on the NAS.",
        discussion: "The artifact is the runbook's format (plain SQL, gzip) named authentik-db-YYYY-MM-DDTHHMMSSZ.sql.gz, with a manifest NAME.json beside it.\n\n\(ExitStatus.helpText)")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print one JSON summary object.") var json = false
    @Option(help: "Compression threads on the agent (default: its core count).") var threads: Int?

    func run() throws {
        try runReportingErrors {
            let config = try global.load()
            let meter = ProgressMeter(enabled: !json && isatty(2) != 0)
            let summary = try BackupRunner(config: config, connector: SSHConnector(config: config), threads: threads,
                                           progress: meter.report).run()
            meter.finish()
            if json {
                print(renderJSON(summary))
            } else {
                print("stored \(summary.name)  \(ByteFormat.human(summary.size))  sha256 \(summary.sha256)")
            }
            return .ok
        }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the backups on the NAS, newest first.",
                                                    discussion: ExitStatus.helpText)
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try runReportingErrors {
            let config = try global.load()
            let result = try Catalog.list(config: config, connector: SSHConnector(config: config))
            print(json ? renderJSON(result) : Catalog.renderList(result), terminator: json ? "\n" : "")
            return .ok
        }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read a backup on the NAS: hash against its manifest, gzip integrity, dump trailer.",
        discussion: "Exits 0 when the backup is OK, 1 when it is corrupt.\n\n\(ExitStatus.helpText)")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "An artifact name, or latest.") var name = "latest"
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try runReportingErrors {
            let config = try global.load()
            let result = try Catalog.verify(name: name, config: config, connector: SSHConnector(config: config))
            print(json ? renderJSON(result) : Catalog.renderVerify(result), terminator: json ? "\n" : "")
            return result.ok ? .ok : .failed
        }
    }
}

func renderJSON<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    return String(decoding: try! encoder.encode(value), as: UTF8.self)
}

/// Phase, bytes, rate and elapsed time on one updating stderr line; silent when not a terminal.
final class ProgressMeter {
    let enabled: Bool
    let start = Date()
    var shown = false

    init(enabled: Bool) { self.enabled = enabled }

    func report(phase: String, bytes: Int64) {
        guard enabled else { return }
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Int64(Double(bytes) / elapsed) : 0
        let line = String(format: "\r%@  %@  %@/s  %02d:%02d ", phase, ByteFormat.human(bytes), ByteFormat.human(rate),
                          Int(elapsed) / 60, Int(elapsed) % 60)
        FileHandle.standardError.write(Data((line + "\u{1B}[K").utf8))
        shown = true
    }

    func finish() {
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

AKBackup.main()
