import AKBase
import AKProtocol
import ArgumentParser
import CLISupport
import ControllerCore
import Foundation
import ProcessRunner

struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Config file (default: $AKBACKUP_CONFIG, then ~/.config/akbackup/config.toml; none needed).")
    var config: String?

    /// The config and the sessions of this one command (each host is reached once).
    func sessions() throws -> HostSessions {
        let config = try ControllerConfig.load(explicitPath: config)
        return HostSessions(config: config, connector: SSHConnector(config: config))
    }
}

/// Prints what the command produced; strings from remote hosts never reach the terminal raw.
func emit(_ text: String, json: Bool) {
    print(json ? text : Terminal.safe(text), terminator: text.hasSuffix("\n") ? "" : "\n")
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
        subcommands: [Backup.self, List.self, Verify.self, Restore.self, RestoreTest.self, Status.self, Doctor.self, Trust.self, DropDatabase.self,
                      NotifyFailure.self, Prune.self, Pin.self, Unpin.self]
    )
}

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check both hosts: SSH, remote programs, keys, Docker, the database, the backup directory.",
        discussion: "Exits 0 only when every check passes.\n\n\(ExitStatus.helpText)")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func run() throws {
        try runReportingErrors {
            let sessions = try global.sessions()
            defer { sessions.close() }
            let report = ControllerCore.Doctor.run(sessions: sessions)
            emit(json ? renderJSON(report) : ControllerCore.Doctor.renderText(report), json: json)
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
            let config = try ControllerConfig.load(explicitPath: global.config)
            return try TrustHost.run(alias: host, config: config, assumeYes: yes)
        }
    }
}

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Dump the Authentik database on infra-core and store it, signed and verified, on the NAS.",
        discussion: """
        The artifact is the runbook's format (plain SQL, gzip) named authentik-db-YYYY-MM-DDTHHMMSSZ.sql.gz, \
        with a manifest NAME.json beside it that the agent signs.

        Once the backup is stored, the NAS prunes by its own retention policy (see `akbackup prune`; \
        --no-prune skips it). A prune that fails after a stored backup makes the run fail (exit 1), so a NAS \
        that stops pruning is noticed before it fills.

        \(scheduledHelp)

        \(ExitStatus.helpText)
        """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print one JSON summary object.") var json = false
    @Option(help: "Compression threads on the agent (default: its core count minus one, at least 1).") var threads: Int?
    @Option(help: "text, or json: one JSON object per line on stdout (start and end events), for schedulers and log collectors.")
    var logFormat: LogFormat = .text
    @Flag(help: "Do not ask the NAS to prune by its retention policy after the backup.") var noPrune = false

    func validate() throws {
        if let t = threads, !(1...16).contains(t) { throw ValidationError("--threads must be 1…16") }
        if json && logFormat == .json { throw ValidationError("--json and --log-format json both write JSON to stdout: pick one") }
    }

    func run() throws {
        try runScheduled("backup", logFormat: logFormat, global: global) { sessions in
            let meter = ProgressMeter(enabled: logFormat == .text && !json && isatty(2) != 0)
            let summary = try BackupRunner(sessions: sessions, threads: threads, prune: !noPrune, progress: meter.report).run()
            meter.finish()
            var line = "stored \(summary.name)  \(ByteFormat.human(summary.size))  sha256 \(summary.sha256)  signed by \(summary.signedBy)"
            if let f = summary.files {
                line += "\n  with \(f.name)  \(ByteFormat.human(f.size))  " + f.mounts.map { "\($0.containerPath) \($0.files) files" }.joined(separator: ", ")
            }
            if let p = summary.prune { line += "\n" + Pruner.summaryLine(p) }
            if logFormat == .text { emit(json ? renderJSON(summary) : line, json: json) }
            return JobResult(exit: summary.pruneFailure == nil ? .ok : .failed, artifact: summary.name, bytes: summary.size, output: line,
                             failure: summary.pruneFailure, pruned: summary.prune?.removed)
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
            let sessions = try global.sessions()
            defer { sessions.close() }
            let result = try Catalog.list(sessions: sessions)
            emit(json ? renderJSON(result.artifacts) : Catalog.renderList(result), json: json)
            return .ok
        }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read a backup on the NAS: hash and sizes against its manifest, gzip, dump trailer, signature.",
        discussion: "Exits 0 when the backup is OK, 1 when it is corrupt.\n\n\(ExitStatus.helpText)")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "An artifact name, or latest.") var name = "latest"
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try runReportingErrors {
            let sessions = try global.sessions()
            defer { sessions.close() }
            let result = try Catalog.verify(name: name, sessions: sessions)
            emit(json ? renderJSON(result) : Catalog.renderVerify(result), json: json)
            return result.ok ? .ok : .failed
        }
    }
}

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore a backup into the live Authentik database, without ever risking it.",
        discussion: """
        The artifact is checked on the NAS, sent to infra-core where the agent checks its size, hash and
        signature before anything changes, replayed into a staging database while Authentik keeps running,
        validated against its manifest, then swapped in during a downtime of seconds. If Authentik does not
        become healthy, the agent swaps the previous database back by itself. The previous database is kept:
        `akbackup restore --undo` puts it back. Every restore leaves a receipt the agent signs, on the NAS
        (receipts/) and in ~/.local/state/akbackup/receipts.

        A backup set also holds Authentik's files (authentik-files-STAMP.tar.gz: /media or /data, \
        /templates, /certs, custom blueprints). They are unpacked beside their live directories before \
        the downtime, checked against the signed manifest, and swapped in by rename in the same window \
        as the database; a rollback puts both back, and --undo both. --db-only leaves the files as they \
        are; --files-only restores only them.

        \(ExitStatus.helpText)
        """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "An artifact name, or latest.") var name = "latest"
    @Flag(help: "Do not ask: restore right away.") var yes = false
    @Flag(help: "Put the newest undo point back (the database a restore replaced).") var undo = false
    @Flag(help: "The runbook's drop-and-recreate (for hosts without room for two copies); the agent keeps an undo copy first.") var replace = false
    @Flag(help: "Restore a dump no trusted agent key signed (made by hand with the runbook, or from an old key).") var trustUnsigned = false
    @Flag(help: "Restore even a backup of a newer Authentik than the running one.") var force = false
    @Flag(help: "Restore the database only; leave Authentik's files (media, templates, certificates, blueprints) as they are.") var dbOnly = false
    @Flag(help: "Restore Authentik's files only (media, templates, certificates, blueprints); leave the database as it is.") var filesOnly = false
    @Option(help: "Seconds to wait for Authentik's ready endpoint after the swap (1…3600).") var healthTimeout = 120
    @Flag(help: "Print the receipt as JSON.") var json = false

    func validate() throws {
        guard (1...3600).contains(healthTimeout) else { throw ValidationError("--health-timeout must be 1…3600 seconds") }
        if dbOnly && filesOnly { throw ValidationError("--db-only and --files-only exclude each other: without either, both are restored") }
        if filesOnly && (replace || undo) { throw ValidationError("--files-only cannot be combined with --\(replace ? "replace" : "undo")") }
    }

    func run() throws {
        try runReportingErrors {
            let sessions = try global.sessions()
            defer { sessions.close() }
            var options = RestoreOptions()
            options.artifact = name
            options.mode = replace ? .replace : .swap
            options.trustUnsigned = trustUnsigned
            options.force = force
            options.healthTimeout = healthTimeout
            options.scope = dbOnly ? .database : (filesOnly ? .files : .all)
            let runner = RestoreRunner(sessions: sessions, options: options)
            let receipt: Receipt
            if undo {
                receipt = try runner.undo()
            } else {
                let plan = try runner.plan()
                if !json { emit(plan.render(), json: false) }
                if !yes {
                    let database = plan.facts.database
                    guard isatty(0) != 0 else {
                        throw Failure("not restoring without a confirmation", hint: "run it on a terminal, or pass --yes once you have read the plan")
                    }
                    print("Type the database name (\(database)) to go ahead: ", terminator: "")
                    fflush(nil)
                    guard readLine()?.trimmingCharacters(in: .whitespaces) == database else {
                        print("not restored: nothing was changed")
                        return .failed
                    }
                }
                receipt = try runner.execute(plan, progress: json ? nil : { emit("  \($0)", json: false) })
            }
            emit(json ? renderJSON(receipt) : receipt.summary(), json: json)
            return receipt.succeeded ? .ok : .failed
        }
    }
}

struct RestoreTest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore-test",
        abstract: "The quarterly restore drill: restore into a scratch database, validate, drop it, keep a signed receipt.",
        discussion: """
        Never touches the live database or the services. The receipt is the runbook's evidence.

        \(scheduledHelp)

        \(ExitStatus.helpText)
        """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "An artifact name, or latest.") var name = "latest"
    @Flag(help: "Test a dump no trusted agent key signed (made by hand with the runbook).") var trustUnsigned = false
    @Flag(help: "Print the receipt as JSON.") var json = false
    @Option(help: "text, or json: one JSON object per line on stdout (start and end events), for schedulers and log collectors.")
    var logFormat: LogFormat = .text

    func validate() throws {
        if json && logFormat == .json { throw ValidationError("--json and --log-format json both write JSON to stdout: pick one") }
    }

    func run() throws {
        try runScheduled("restore-test", logFormat: logFormat, global: global) { sessions in
            var options = RestoreOptions()
            options.artifact = name
            options.mode = .test
            options.trustUnsigned = trustUnsigned
            let runner = RestoreRunner(sessions: sessions, options: options)
            let plan = try runner.plan()
            let human = logFormat == .text && !json
            if human && trustUnsigned { emit(plan.render(), json: false) }
            let receipt = try runner.execute(plan)
            if logFormat == .text { emit(json ? renderJSON(receipt) : receipt.summary(), json: json) }
            return JobResult(exit: receipt.succeeded ? .ok : .failed, artifact: plan.artifact.name, bytes: plan.verified.size,
                             output: receipt.summary(),
                             failure: receipt.succeeded ? nil : Failure("restore test of \(plan.artifact.name) \(receipt.outcome.rawValue): \(receipt.message)",
                                                                         hint: "the receipt's steps say where it failed (~/.local/state/akbackup/receipts, or receipts/ on the NAS)"))
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Last signed backup, last signed restore test, NAS space; exits 1 when a backup or a restore test is overdue.",
        discussion: """
        Limits, in the config's [status] table: warn_backup_age_hours (default \(StatusLimits.defaultWarnBackupAgeHours)) and \
        max_backup_age_hours (default \(StatusLimits.defaultMaxBackupAgeHours)) for the newest backup; warn_restore_test_age_days \
        (default \(StatusLimits.defaultWarnRestoreTestAgeDays)) and max_restore_test_age_days (default \(StatusLimits.defaultMaxRestoreTestAgeDays)) \
        for the last passed restore test. An unset warning limit is never above its critical one. \
        Past a max_* limit status fails; past a warn_* limit it warns.

        --format text (default), json (same as --json), prometheus (node_exporter's text format), or nagios: \
        one line "AKBACKUP OK|WARNING|CRITICAL|UNKNOWN - summary | perfdata".

        With --format nagios the exit codes are Nagios's, not the ones below: 0 OK, 1 WARNING, 2 CRITICAL, \
        3 UNKNOWN (e.g. a host unreachable, a config error).

        --textfile-dir DIR (or [status] textfile_dir) also writes the Prometheus text to DIR/akbackup.prom \
        (mode 0644, replaced atomically) for node_exporter's textfile collector. When the status cannot be made \
        (a host unreachable), the file says akbackup_up 0 and akbackup_status_ok 0, so an alert fires. \
        A fact not known (no backup yet) has no sample.

        \(ExitStatus.helpText)
        """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON (same as --format json).") var json = false
    @Option(help: "Output format (default: text).") var format: StatusFormat?
    @Option(help: "Also write the Prometheus text to DIR/akbackup.prom (default: [status] textfile_dir).") var textfileDir: String?

    func validate() throws {
        if json, let f = format, f != .json { throw ValidationError("--json is --format json: pick one format") }
    }

    func run() throws {
        let format = json ? .json : (format ?? .text)
        var directory = textfileDir
        /// Reports `error` and exits: in Nagios's terms (UNKNOWN, 3) with --format nagios.
        func exit(_ error: Error) throws -> Never {
            if format == .nagios { print(Terminal.safe(StatusFormat.nagiosUnknown(error).line)) }
            FileHandle.standardError.write(Data((describeForOperator(error) + "\n").utf8))
            throw ExitCode(format == .nagios ? StatusFormat.NagiosState.unknown.rawValue : ExitStatus.of(error).rawValue)
        }
        let report: StatusReport
        do {
            let config = try ControllerConfig.load(explicitPath: global.config)
            directory = directory ?? config.textfileDirectory
            let sessions = HostSessions(config: config, connector: SSHConnector(config: config))
            defer { sessions.close() }
            report = try ControllerCore.Status.run(sessions: sessions)
        } catch {
            // The last good file must not linger: the collector would keep reporting all is well.
            if let directory {
                do {
                    try StatusFormat.writeTextfile(directory: directory, text: StatusFormat.prometheusDown())
                } catch let unwritten {
                    FileHandle.standardError.write(Data((describeForOperator(unwritten) + "\n").utf8))
                }
            }
            try exit(error)
        }
        if let directory {
            do {
                try StatusFormat.writeTextfile(directory: directory, text: StatusFormat.prometheus(report))
            } catch {
                if format == .nagios { try exit(error) }
                emit(format.render(report), json: format == .json)
                try exit(error)
            }
        }
        emit(format.render(report), json: format == .json)
        let code = format == .nagios ? StatusFormat.nagios(report).state.rawValue : (report.ok ? ExitStatus.ok : .failed).rawValue
        if code != 0 { throw ExitCode(code) }
    }
}

struct DropDatabase: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drop-database",
        abstract: "Remove a database akbackup made on infra-core (an old pre-restore undo point); `doctor` lists them.",
        discussion: ExitStatus.helpText)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "For example authentik_pre_restore_20261129074500.") var name: String

    func run() throws {
        try runReportingErrors {
            let sessions = try global.sessions()
            defer { sessions.close() }
            let agent = try sessions.agent()
            let done = try agent.call(DropDatabaseRequest(id: agent.makeID(), name: name), expecting: Done.self)
            emit(done.detail, json: false)
            return .ok
        }
    }
}

/// For systemd's OnFailure=: a scheduled run that died without saying so itself (killed, timed out
/// by systemd, out of memory) still reaches the heartbeat check as a failure.
struct NotifyFailure: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify-failure",
        abstract: "Send the failure ping for a systemd unit that failed, with the end of its journal (for OnFailure=).",
        discussion: """
        Pings [notify] ping_url + /fail with the unit's last 40 journal lines as the body. Used by akbackup-notify-failure@.service;
        a run that fails by itself already pinged /fail.

        \(ExitStatus.helpText)
        """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The systemd unit that failed, e.g. akbackup-backup.service.") var unit: String

    func validate() throws {
        // The name reaches journalctl's argv: a unit name, nothing that reads as an option.
        guard unit.range(of: #"^[A-Za-z0-9@_.:\\-]+$"#, options: .regularExpression) != nil, !unit.hasPrefix("-") else {
            throw ValidationError("\"\(unit.prefix(80))\" is not a systemd unit name")
        }
    }

    func run() throws {
        try runReportingErrors {
            let config = try ControllerConfig.load(explicitPath: global.config)
            guard let notifier = Notifier(config: config.notify) else {
                throw Failure("no ping_url in [notify]: nothing to notify of \(unit)'s failure",
                              hint: "set ping_url under [notify] in the config (now: \(config.source)), or drop OnFailure= from the unit")
            }
            var body = "\(unit) failed\n"
            if let journal = try? ChildProcess.run(["journalctl", "--unit", unit, "--lines", "40", "--output", "cat", "--no-pager"], timeout: 30),
               journal.status == 0 {
                body += journal.stdoutText
            } else {
                body += "(its journal could not be read)\n"
            }
            return notifier.ping(.failure, body: body) ? .ok : .failed
        }
    }
}

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the hosts' own policies: the NAS's retention, and infra-core's for the databases restores leave.",
        discussion: """
        The policy lives on the NAS ([retention] in /etc/akbackup/receiver.toml); this only asks for it to be \
        applied and names nothing to delete. Without a policy nothing is ever deleted. Whatever the policy, \
        the NAS keeps the newest backup that verifies, the one the newest passing restore test used, every \
        backup younger than min_age, the min_keep newest, and pinned ones (`akbackup pin`). `akbackup backup` \
        prunes after every backup it stored.

        Then infra-core's agent applies its undo policy (undo_* in /etc/akbackup/agent.toml) to the \
        databases restores left in the live cluster (the agent does that after every restore, too).

        Prints every backup with keep or remove and every reason that keeps it, then a summary, then \
        infra-core's databases. --json: {"nas": …, "infraCore": …}.

        \(ExitStatus.helpText)
        """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Only show what would be removed.") var dryRun = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try runReportingErrors {
            let sessions = try global.sessions()
            defer { sessions.close() }
            let report = try Pruner.run(sessions: sessions, dryRun: dryRun)
            // infra-core's half is separate: its failure must not hide what the NAS did.
            let undo = Result { try UndoPrune.run(sessions: sessions, dryRun: dryRun) }
            if json {
                struct Both: Encodable { var nas: PruneReport; var infraCore: UndoPruneSummary? }
                emit(renderJSON(Both(nas: report, infraCore: try? undo.get())), json: true)
            } else {
                emit(Pruner.render(report) + ((try? undo.get()).map { "\n" + UndoPrune.renderText($0) } ?? ""), json: false)
            }
            switch undo {
            case .success(let u): return u.ok ? .ok : .failed
            case .failure(let error): throw error
            }
        }
    }
}

struct Pin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Keep a backup whatever the retention policy says (NAME.pin on the NAS).",
        discussion: "Pinning again replaces the reason. `akbackup list` shows pins.\n\n\(ExitStatus.helpText)")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "An artifact name (see `akbackup list`).") var name: String
    @Option(help: "Why (at most \(PinText.maxReasonBytes) bytes, one line; default: who pinned it and when).") var reason: String?

    func validate() throws {
        if let reason, let problem = PinText.problem(reason, maxBytes: PinText.maxReasonBytes) { throw ValidationError("--reason \(problem)") }
    }

    func run() throws {
        try runReportingErrors {
            let sessions = try global.sessions()
            defer { sessions.close() }
            let done = try Pruner.pin(sessions: sessions, name: name, reason: reason ?? Pruner.defaultReason(), pinned: true)
            emit(done.detail, json: false)
            return .ok
        }
    }
}

struct Unpin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Let the retention policy decide about a pinned backup again.",
        discussion: ExitStatus.helpText)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "An artifact name (see `akbackup list`).") var name: String

    func run() throws {
        try runReportingErrors {
            let sessions = try global.sessions()
            defer { sessions.close() }
            emit(try Pruner.pin(sessions: sessions, name: name, reason: nil, pinned: false).detail, json: false)
            return .ok
        }
    }
}

extension StatusFormat: ExpressibleByArgument {}
extension LogFormat: ExpressibleByArgument {}

let scheduledHelp = """
With [notify] ping_url in the config, pings a healthchecks.io-style check: URL/start as the run \
begins, URL on success, URL/fail on failure, with the end of the run's output as the body. A ping \
that fails is a warning and does not change the exit code.
"""

/// Runs a scheduled job in its frame (`ScheduledRun`): events, heartbeat pings, error lines. A
/// config error is reported there too, as the end of the run.
func runScheduled(_ operation: String, logFormat: LogFormat, global: GlobalOptions,
                  _ body: (HostSessions) throws -> JobResult) throws {
    let loaded = Result { try ControllerConfig.load(explicitPath: global.config) }
    let notifier = (try? loaded.get()).flatMap { Notifier(config: $0.notify) }
    let code = ScheduledRun(operation: operation, logFormat: logFormat, notifier: notifier).run {
        let config = try loaded.get()
        let sessions = HostSessions(config: config, connector: SSHConnector(config: config))
        defer { sessions.close() }
        return try body(sessions)
    }
    if code != 0 { throw ExitCode(code) }
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

AKBackup.mainWithDocumentedExitCodes()
