import AKBase
import AKProtocol
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProcessRunner

/// The doctor's checks for infra-core, and the facts the agent reports once for the controller.
struct AgentProbe {
    let context: AgentContext
    var config: AgentConfig { context.config }

    func facts(undo: UndoReport? = nil) -> AgentFacts {
        let key = try? context.signingKey()
        return AgentFacts(database: config.database, appServices: config.appServices, authentikVersion: context.app.runningVersion(),
                          signingKey: key?.publicKey.text, trustedKeys: context.trustedKeys().map(\.text), undo: undo)
    }

    /// The undo policy's dry run, for doctor and status: no lock (a probe never waits for a restore),
    /// so staging and scratch databases are reported, not judged leftovers. Nil when the database
    /// cannot be asked (the checks say why).
    func undoReport() -> UndoReport? {
        guard let db = try? context.database() else { return nil }
        var steps = StepLog()
        return try? UndoPruning(context: context, db: db).run(dryRun: true, exclusive: false, steps: &steps)
    }

    func checks(configSource: String, undo: UndoReport? = nil) -> [Check] {
        var checks: [Check] = [Check(name: "agent config", ok: true, detail: configSource)]
        switch Result(catching: { try context.signingKey() }) {
        case .success(let key?):
            checks.append(Check(name: "signing key", ok: true, detail: "\(key.publicKey.fingerprint) (\(key.publicKey.text))"))
        case .success(nil):
            checks.append(Check(name: "signing key", ok: false, detail: "none in \(config.stateDir): backups cannot be signed",
                                hint: "run `akbackup-agent key --init` on \(context.hostName) as the agent's login, then trust its public key on the NAS"))
        case .failure(let e):
            checks.append(Check(name: "signing key", ok: false, detail: describe(e), hint: (e as? HintedError)?.hint ?? "check \(config.stateDir)"))
        }
        let extra = context.trustedKeys().dropFirst(checks.last?.ok == true ? 1 : 0)
        if !extra.isEmpty {
            checks.append(Check(name: "trusted keys", ok: true, detail: extra.map(\.fingerprint).joined(separator: ", ")))
        }

        let dockerVersion: ProcessResult
        do {
            dockerVersion = try ChildProcess.run([config.docker, "version", "--format", "{{.Server.Version}}"], timeout: 20)
        } catch {
            checks.append(Check(name: "docker", ok: false, detail: "docker client not found (\(config.docker))",
                                hint: "install Docker on this host or set docker = \"/path/to/docker\" in \(AgentConfig.defaultPath)"))
            return checks
        }
        guard dockerVersion.status == 0 else {
            checks.append(Check(name: "docker", ok: false, detail: "Docker engine not reachable: \(dockerVersion.stderrLastLine)",
                                hint: "start dockerd, and make sure \(NSUserName()) is in the docker group"))
            return checks
        }
        checks.append(Check(name: "docker", ok: true, detail: "engine \(dockerVersion.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines))"))

        let composeExists = FileManager.default.fileExists(atPath: config.composePath)
        checks.append(Check(name: "compose file", ok: composeExists,
                            detail: composeExists ? "\(config.composePath) (project \(config.effectiveComposeProject))" : "\(config.composePath) does not exist",
                            hint: composeExists ? nil : "set compose_dir / compose_file in \(AgentConfig.defaultPath)"))

        let compose = ComposeApp(config: config)
        var postgresRunning = false
        for name in [config.postgresContainer, config.serverContainer, config.workerContainer] {
            guard let state = compose.containerState(name) else {
                checks.append(Check(name: "container \(name)", ok: false, detail: "does not exist",
                                    hint: "start the stack (cd \(config.composeDir) && docker compose up -d) or fix the container names in \(AgentConfig.defaultPath)"))
                continue
            }
            let running = state.status == "running" && state.health != "unhealthy"
            if name == config.postgresContainer { postgresRunning = state.status == "running" }
            let detail = state.health.map { "\(state.status) (\($0))" } ?? state.status
            checks.append(Check(name: "container \(name)", ok: running, detail: detail,
                                hint: running ? nil : "docker compose -p \(config.effectiveComposeProject) up -d \(name) in \(config.composeDir), then check its logs"))
        }

        let db: DatabaseServer
        do {
            db = try context.database()
            checks.append(Check(name: "env file", ok: true, detail: "\(config.envPath): \(config.passwordVariable) present"))
        } catch {
            checks.append(Check(name: "env file", ok: false, detail: describe(error), hint: (error as? ErrorMessage)?.hint ?? "check \(config.envPath)"))
            return checks
        }
        guard postgresRunning else {
            checks.append(Check(name: "postgres", ok: false, detail: "not checked: \(config.postgresContainer) is not running",
                                hint: "start it: docker compose -p \(config.effectiveComposeProject) up -d \(config.postgresContainer)"))
            return checks
        }
        do {
            let row = try db.query("SELECT current_setting('server_version') || '|' || pg_database_size(current_database())", database: nil).first ?? ""
            let fields = row.split(separator: "|")
            guard fields.count == 2, let size = Int64(fields[1]) else { throw Failure("unexpected answer \(row.prefix(80))", hint: "check the database") }
            checks.append(Check(name: "postgres", ok: true, detail: "PostgreSQL \(fields[0]), database \(config.database) \(ByteFormat.human(size))"))
            checks.append(Check(name: "authentik version", ok: true, detail: context.app.runningVersion() ?? "unknown (no image label)"))
            let psql = db.toolVersion("psql")
            let restricted = Replayer.supportsRestrict(psqlVersion: psql)
            checks.append(Check(name: "psql", ok: true, detail: "\(psql ?? "unknown")\(restricted ? "; restores run it in restricted mode" : "; too old for \\restrict (the replay filter still applies)")",
                                hint: restricted ? nil : "update the PostgreSQL image to a release from August 2025 or later", warning: restricted ? nil : true))
            if let undo {
                checks += UndoChecks.checks(undo, host: context.hostName, now: context.clock())
            }
        } catch {
            checks.append(Check(name: "postgres", ok: false, detail: "query failed: \(describe(error))",
                                hint: "check database = \"\(config.database)\" and db_user = \"\(config.dbUser)\" in \(AgentConfig.defaultPath)"))
        }
        checks += filesChecks()
        let copies = UndoCopy.list(stateDir: config.stateDir)
        if !copies.isEmpty {
            checks.append(Check(name: "undo copies", ok: true, detail: copies.map { "\($0.file) (\(ByteFormat.human($0.size)))" }.joined(separator: ", "),
                                hint: "kept by --replace restores in \(UndoCopy.directory(stateDir: config.stateDir))"))
        }
        return checks
    }

    /// Authentik's files (§15): what a backup takes, and whether a restore could swap each directory
    /// in (the agent's login renames inside its parent). A warning, never a failure: the database
    /// backup does not depend on it.
    func filesChecks() -> [Check] {
        let config = context.config
        guard config.files else {
            return [Check(name: "authentik files", ok: true, detail: "not backed up (files = false in \(AgentConfig.defaultPath))", warning: true)]
        }
        let mounts: [FileMount]
        do {
            mounts = try context.files.mounts()
        } catch {
            return [Check(name: "authentik files", ok: false, detail: describe(error), hint: (error as? HintedError)?.hint ?? "check the stack", warning: true)]
        }
        guard !mounts.isEmpty else {
            return [Check(name: "authentik files", ok: true, detail: "\(config.serverContainer) and \(config.workerContainer) mount none of /media, /data, /templates, /certs, /blueprints: backups hold the database only")]
        }
        var checks = [Check(name: "authentik files", ok: true, detail: mounts.map { "\($0.containerPath) = \($0.hostPath)" }.joined(separator: ", "))]
        let blocked = mounts.map { ($0.hostPath as NSString).deletingLastPathComponent }.filter { access($0, W_OK | X_OK) != 0 }
        if !blocked.isEmpty {
            checks.append(Check(name: "files restorable", ok: true, detail: "\(NSUserName()) cannot create entries in \(Set(blocked).sorted().joined(separator: ", ")): a restore of the files would be refused",
                                hint: "restores swap each directory by rename inside its parent: give \(NSUserName()) write access there (or restore with --db-only)", warning: true))
        }
        let aside = mounts.flatMap { m -> [String] in
            let dir = (m.hostPath as NSString).deletingLastPathComponent, name = (m.hostPath as NSString).lastPathComponent
            return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix(".\(name).akbackup-") }.map { dir + "/" + $0 }
        }
        if !aside.isEmpty {
            checks.append(Check(name: "files kept by restores", ok: true, detail: aside.sorted().joined(separator: ", "),
                                hint: "they go with their database under the undo policy; remove others by hand when no longer needed"))
        }
        return checks
    }
}
