import Foundation
import HostConfig

/// What the agent knows about its host. Defaults are the runbook's values; the controller never
/// sends any of these, so a stolen controller key cannot point the agent elsewhere.
public struct AgentConfig: Equatable, Sendable {
    public static let defaultPath = "/etc/akbackup/agent.toml"

    public var composeDir = "/opt/stacks/caddy-auth"
    public var composeFile = "docker-compose.yml"
    /// Compose's project name; empty means compose's own default, the directory's name.
    public var composeProject = ""
    public var envFile = ".env"
    public var passwordVariable = "AUTHENTIK_DB_PASSWORD"
    public var postgresContainer = "authentik-postgres"
    public var serverContainer = "authentik-server"
    public var workerContainer = "authentik-worker"
    public var appServices = ["authentik-server", "authentik-worker"]
    public var database = "authentik"
    public var dbUser = "authentik"
    public var docker = "docker"
    /// How compose is invoked: the v2 plugin by default, `["docker-compose"]` for v1.
    public var composeCommand = ["docker", "compose"]
    /// The ready endpoint; empty means http://<server container IP>:9000/-/health/ready/.
    public var healthURL = ""
    public var stateDir = "/var/lib/akbackup-agent"
    /// Seconds without artifact data before a restore gives up (a link that died silently): the
    /// replay is rolled back, staging dropped, the app services started again.
    public var replayIdleTimeout = 300

    public init() {}

    static let keys: Set<String> = [
        "compose_dir", "compose_file", "compose_project", "env_file", "password_variable",
        "postgres_container", "server_container", "worker_container", "app_services",
        "database", "db_user", "docker", "compose_command", "health_url", "state_dir", "replay_idle_timeout",
    ]

    /// Loads `path`; a missing file means all defaults.
    public static func load(path: String = AgentConfig.defaultPath) throws -> AgentConfig {
        var c = AgentConfig()
        guard let file = try ConfigFile.load(path: path) else { return c }
        try file.requireKnownKeys(keys)
        if let v = try file.string("compose_dir") { c.composeDir = v }
        if let v = try file.string("compose_file") { c.composeFile = v }
        if let v = try file.string("compose_project") { c.composeProject = v }
        if let v = try file.string("env_file") { c.envFile = v }
        if let v = try file.string("password_variable") { c.passwordVariable = v }
        if let v = try file.string("postgres_container") { c.postgresContainer = v }
        if let v = try file.string("server_container") { c.serverContainer = v }
        if let v = try file.string("worker_container") { c.workerContainer = v }
        if let v = try file.strings("app_services") { c.appServices = v }
        if let v = try file.string("database") { c.database = v }
        if let v = try file.string("db_user") { c.dbUser = v }
        if let v = try file.string("docker") { c.docker = v }
        if let v = try file.strings("compose_command") { c.composeCommand = v }
        if let v = try file.string("health_url") { c.healthURL = v }
        if let v = try file.string("state_dir") { c.stateDir = v }
        if let v = try file.integer("replay_idle_timeout") { c.replayIdleTimeout = max(0, v) }
        return c
    }

    /// The env file's full path (relative paths are relative to the compose directory).
    public var envPath: String {
        envFile.hasPrefix("/") ? envFile : (composeDir as NSString).appendingPathComponent(envFile)
    }

    public var composePath: String {
        composeFile.hasPrefix("/") ? composeFile : (composeDir as NSString).appendingPathComponent(composeFile)
    }

    /// Compose v1 silently does nothing with the wrong project name, so it is always explicit.
    public var effectiveComposeProject: String {
        composeProject.isEmpty ? (composeDir as NSString).lastPathComponent : composeProject
    }

    public static var defaultsText: String {
        let d = AgentConfig()
        return """
        # akbackup-agent configuration: the facts of this host (infra-core).
        # Defaults are the runbook's values; uncomment and change what differs here.
        #compose_dir = "\(d.composeDir)"
        #compose_file = "\(d.composeFile)"
        #compose_project = ""            # empty: the compose directory's name
        #env_file = "\(d.envFile)"        # relative to compose_dir; read on this host only
        #password_variable = "\(d.passwordVariable)"
        #postgres_container = "\(d.postgresContainer)"
        #server_container = "\(d.serverContainer)"
        #worker_container = "\(d.workerContainer)"
        #app_services = ["authentik-server", "authentik-worker"]
        #database = "\(d.database)"
        #db_user = "\(d.dbUser)"
        #docker = "\(d.docker)"
        #compose_command = ["docker", "compose"]   # ["docker-compose"] for Compose v1
        #health_url = ""                 # empty: http://<authentik-server IP>:9000/-/health/ready/
        #state_dir = "\(d.stateDir)"
        #replay_idle_timeout = \(d.replayIdleTimeout)        # seconds without artifact data before a restore gives up safely

        """
    }
}
