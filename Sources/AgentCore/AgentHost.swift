import AKProtocol
import Foundation
import ProcessRunner

/// The agent's view of infra-core: the env file, Docker, the containers and PostgreSQL.
/// Every command is an argv array; the database password only ever travels in a child's environment.
public struct AgentHost {
    public let config: AgentConfig

    public init(config: AgentConfig) {
        self.config = config
    }

    /// Why the password could not be read, phrased for the operator.
    public struct SecretError: Error {
        public var message: String
        public var hint: String
    }

    /// The database password from the stack's env file, read on this host only.
    public func databasePassword() throws -> String {
        let path = config.envPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw SecretError(message: "env file \(path) does not exist",
                              hint: "set env_file / compose_dir in \(AgentConfig.defaultPath) to the stack's .env")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SecretError(message: "env file \(path) is not readable by \(NSUserName())",
                              hint: "give the agent's login user read access (e.g. chown \(NSUserName()) \(path); keep mode 600)")
        }
        let values = DotEnv.parse(String(decoding: data, as: UTF8.self))
        guard let password = values[config.passwordVariable], !password.isEmpty else {
            throw SecretError(message: "env file \(path) has no \(config.passwordVariable)",
                              hint: "add \(config.passwordVariable)=… to it or set password_variable in \(AgentConfig.defaultPath)")
        }
        return password
    }

    public func docker(_ args: [String], password: String? = nil, stdin: [UInt8]? = nil, timeout: TimeInterval = 60) throws -> ProcessResult {
        try ProcessRunner.run([config.docker] + args, extraEnvironment: password.map { ["PGPASSWORD": $0] } ?? [:],
                              stdin: stdin, timeout: timeout)
    }

    /// Runs one SQL statement with psql inside the Postgres container; `-At` output.
    public func psql(_ sql: String, database: String? = nil, password: String) throws -> ProcessResult {
        try docker(["exec", "-i", "-e", "PGPASSWORD", config.postgresContainer,
                    "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                    "-U", config.dbUser, "-d", database ?? config.database, "-c", sql],
                   password: password)
    }

    /// `docker inspect` state of a container: ("running", "healthy"), or nil when it does not exist.
    public func containerState(_ name: String) throws -> (status: String, health: String?)? {
        let r = try docker(["inspect", "--format", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", name])
        guard r.status == 0 else { return nil }
        let parts = r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
        return (parts.first ?? "unknown", parts.count > 1 ? parts[1] : nil)
    }

    /// The doctor's checks for this host.
    public func probe(configSource: String) -> [Check] {
        var checks: [Check] = [Check(name: "agent config", ok: true, detail: configSource)]

        let dockerVersion: ProcessResult
        do {
            dockerVersion = try docker(["version", "--format", "{{.Server.Version}}"], timeout: 20)
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

        var postgresRunning = false
        for name in [config.postgresContainer, config.serverContainer, config.workerContainer] {
            guard let state = try? containerState(name) else {
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

        let password: String
        do {
            password = try databasePassword()
            checks.append(Check(name: "env file", ok: true, detail: "\(config.envPath): \(config.passwordVariable) present"))
        } catch let e as SecretError {
            checks.append(Check(name: "env file", ok: false, detail: e.message, hint: e.hint))
            return checks
        } catch {
            checks.append(Check(name: "env file", ok: false, detail: "\(error)", hint: "check \(config.envPath)"))
            return checks
        }

        guard postgresRunning else {
            checks.append(Check(name: "postgres", ok: false, detail: "not checked: \(config.postgresContainer) is not running",
                                hint: "start it: docker compose -p \(config.effectiveComposeProject) up -d \(config.postgresContainer)"))
            return checks
        }
        do {
            let r = try psql("SELECT current_setting('server_version') || '|' || pg_database_size(current_database())", password: password)
            let fields = r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|")
            if r.status == 0, fields.count == 2, let size = Int64(fields[1]) {
                checks.append(Check(name: "postgres", ok: true,
                                    detail: "PostgreSQL \(fields[0]), database \(config.database) \(ByteFormat.human(size))"))
                checks.append(Check(name: "authentik version", ok: true, detail: runningAuthentikVersion() ?? "unknown (no image label)"))
                if let own = try? akbackupDatabases(password: password), !own.isEmpty {
                    checks.append(Check(name: "akbackup databases", ok: true,
                                        detail: own.map { "\($0.name) (\(ByteFormat.human($0.sizeBytes)))" }.joined(separator: ", "),
                                        hint: "undo points of past restores; remove one with `akbackup drop-database NAME`"))
                }
            } else {
                checks.append(Check(name: "postgres", ok: false, detail: "query failed: \(r.stderrLastLine)",
                                    hint: "check database = \"\(config.database)\" and db_user = \"\(config.dbUser)\" in \(AgentConfig.defaultPath)"))
            }
        } catch {
            checks.append(Check(name: "postgres", ok: false, detail: "\(error)", hint: "check the docker client"))
        }
        return checks
    }
}
