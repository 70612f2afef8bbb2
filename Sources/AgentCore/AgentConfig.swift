import AKBase
import AKProtocol
import Foundation
import HostConfig

/// What the agent knows about its host. Defaults are the runbook's values; the controller never
/// sends any of these, so a stolen controller key cannot point the agent elsewhere.
public struct AgentConfig: Equatable, Sendable {
    public static let defaultPath = "/etc/akbackup/agent.toml"
    /// The group of the logins the agent runs as (the package makes it): it may read the signing key
    /// and write the state directory, which root owns.
    public static let packageGroup = "akbackup"

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
    /// The operating-system user psql and pg_dump run as inside the container (`docker exec --user`);
    /// empty: the container's default user.
    public var dbOSUser = "postgres"
    public var docker = "docker"
    /// How compose is invoked: the v2 plugin by default, `["docker-compose"]` for v1.
    public var composeCommand = ["docker", "compose"]
    /// The ready endpoint; empty means http://<server container IP>:9000/-/health/ready/.
    public var healthURL = ""
    /// The longest health wait a controller may ask for, in seconds.
    public var maxHealthTimeout = 600
    public var stateDir = "/var/lib/akbackup-agent"
    /// Public keys whose signatures this agent accepts besides its own (e.g. the key of this host
    /// before it was rebuilt), as `ed25519:BASE64`.
    public var trustedKeys: [String] = []
    /// Seconds without a byte or heartbeat from the controller before the agent treats it as gone.
    public var peerTimeout = 60
    /// Whether a dump no trusted key signed may replace the live database (with the controller's
    /// --trust-unsigned). Off by default: whoever holds the operator's key could otherwise put any
    /// content into Authentik. Restore tests of such dumps are always allowed.
    public var allowUnsignedRestores = false
    /// Back up and restore Authentik's files (the server's and worker's bind mounts, §15).
    public var files = true
    /// Container or host paths of mounts left out of the files member.
    public var filesExclude: [String] = []
    /// "CONTAINER_PATH=HOST_PATH": Authentik's directories the agent cannot find among the bind mounts
    /// (a named volume's directory, say), added to (or replacing) what it finds.
    public var filesInclude: [String] = []
    /// The key whose keyed fingerprint the manifest records (never the key itself).
    public var secretKeyVariable = "AUTHENTIK_SECRET_KEY"
    /// The undo policy (PROTOCOL.md §13.1), applied after every successful restore, restore test and
    /// undo, and on request (`akbackup prune`). Every restore leaves a full copy of the database in the
    /// live cluster; without a policy they add up to several times its size within days.
    /// The newest this many pre-restore databases are always kept: `restore --undo` puts the newest
    /// back, so at least 1 (0 would let a prune take away the undo a restore just promised).
    public var undoKeepNewest = 1
    /// Older pre-restore databases are dropped once older than this many days (0: at the next prune).
    public var undoMaxAgeDays = 7
    /// Failed (rolled back) and undone databases: restores that were judged bad, kept only for a look.
    public var failedMaxAgeDays = 1
    /// doctor and status warn when akbackup's databases hold more than this percent of the file system
    /// of PostgreSQL's data directory (0: whenever there is one).
    public var undoWarnPercent = 50

    public init() {}

    public var undoPolicy: UndoPolicy {
        UndoPolicy(keepNewest: undoKeepNewest, maxAgeDays: undoMaxAgeDays, failedMaxAgeDays: failedMaxAgeDays, warnPercent: undoWarnPercent)
    }

    static let keys: Set<String> = [
        "compose_dir", "compose_file", "compose_project", "env_file", "password_variable",
        "postgres_container", "server_container", "worker_container", "app_services",
        "database", "db_user", "db_os_user", "docker", "compose_command", "health_url", "max_health_timeout",
        "state_dir", "trusted_keys", "peer_timeout", "allow_unsigned_restores", "files", "files_exclude", "files_include", "secret_key_variable",
        "undo_keep_newest", "undo_max_age_days", "failed_max_age_days", "undo_warn_percent",
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
        if let v = try file.string("db_os_user") { c.dbOSUser = v }
        if let v = try file.string("docker") { c.docker = v }
        if let v = try file.strings("compose_command") { c.composeCommand = v }
        if let v = try file.string("health_url") { c.healthURL = v }
        if let v = try file.integer("max_health_timeout") {
            guard (1...3600).contains(v) else {
                throw ConfigError(file: path, line: file.lines["max_health_timeout"], message: "max_health_timeout must be 1…3600 seconds",
                                  hint: "e.g. max_health_timeout = 600")
            }
            c.maxHealthTimeout = v
        }
        if let v = try file.string("state_dir") { c.stateDir = v }
        if let v = try file.strings("trusted_keys") {
            for key in v where AgentPublicKey(text: key) == nil {
                throw ConfigError(file: path, line: file.lines["trusted_keys"], message: "trusted_keys holds \"\(key.prefix(60))\", which is not an agent public key",
                                  hint: "keys look like ed25519:BASE64 (as `akbackup-agent key --public` prints them)")
            }
            c.trustedKeys = v
        }
        if let v = try file.boolean("allow_unsigned_restores") { c.allowUnsignedRestores = v }
        if let v = try file.boolean("files") { c.files = v }
        if let v = try file.strings("files_exclude") { c.filesExclude = v }
        if let v = try file.strings("files_include") {
            for entry in v {
                let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, FilesMount.isAuthentikFiles(parts[0]), FilesMount.isPlainAbsolute(parts[1]) else {
                    throw ConfigError(file: path, line: nil, message: "files_include entry \"\(entry.prefix(100))\" is not CONTAINER_PATH=HOST_PATH",
                                      hint: "e.g. files_include = [\"/media=/srv/authentik/media\"]; the container path is one of /media, /data, /templates, /certs or under /blueprints")
                }
            }
            c.filesInclude = v
        }
        if let v = try file.string("secret_key_variable") { c.secretKeyVariable = v }
        if let v = try file.integer("peer_timeout") {
            guard (5...3600).contains(v) else {
                throw ConfigError(file: path, line: file.lines["peer_timeout"], message: "peer_timeout must be 5…3600 seconds",
                                  hint: "e.g. peer_timeout = 60")
            }
            c.peerTimeout = v
        }
        try loadUndoPolicy(file, path: path, into: &c)
        return c
    }

    private static func loadUndoPolicy(_ file: ConfigFile, path: String, into c: inout AgentConfig) throws {
        func bounded(_ key: String, _ range: ClosedRange<Int>, _ unit: String, hint: String) throws -> Int? {
            guard let v = try file.integer(key) else { return nil }
            guard range.contains(v) else {
                throw ConfigError(file: path, line: file.lines[key], message: "\(key) must be \(range.lowerBound)…\(range.upperBound)\(unit)", hint: hint)
            }
            return v
        }
        if let v = try bounded("undo_keep_newest", UndoPolicy.keepNewestRange, "",
                               hint: "the newest undo point is what `akbackup restore --undo` puts back, so at least 1 is kept; drop one by hand with `akbackup drop-database NAME`") {
            c.undoKeepNewest = v
        }
        if let v = try bounded("undo_max_age_days", UndoPolicy.maxAgeDaysRange, " days", hint: "e.g. undo_max_age_days = 7 (0: drop them at the next prune)") {
            c.undoMaxAgeDays = v
        }
        if let v = try bounded("failed_max_age_days", UndoPolicy.maxAgeDaysRange, " days", hint: "e.g. failed_max_age_days = 1 (0: drop them at the next prune)") {
            c.failedMaxAgeDays = v
        }
        if let v = try bounded("undo_warn_percent", UndoPolicy.warnPercentRange, " percent", hint: "e.g. undo_warn_percent = 50 (of the database volume)") {
            c.undoWarnPercent = v
        }
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
        #db_os_user = "\(d.dbOSUser)"         # psql and pg_dump run as this user inside the container
        #docker = "\(d.docker)"
        #compose_command = ["docker", "compose"]   # ["docker-compose"] for Compose v1
        #health_url = ""                 # empty: http://<authentik-server IP>:9000/-/health/ready/
        #max_health_timeout = \(d.maxHealthTimeout)        # seconds; caps what a controller may ask for
        #state_dir = "\(d.stateDir)"     # the signing key, the lock, spool and undo files
        #trusted_keys = []               # more agent keys to accept, e.g. this host's key before a rebuild
        #peer_timeout = \(d.peerTimeout)              # seconds of silence from the controller before it counts as gone
        #allow_unsigned_restores = false  # true: --trust-unsigned may restore a hand-made dump into live
        # Authentik's files: the bind mounts of server_container and worker_container at /media, /data,
        # /templates, /certs and under /blueprints go into each backup as authentik-files-STAMP.tar.gz.
        #files = true
        #files_exclude = []              # container or host paths to leave out, e.g. ["/certs"]
        #files_include = []              # directories not bind-mounted, e.g. ["/media=/srv/authentik/media"]
        #secret_key_variable = "AUTHENTIK_SECRET_KEY"   # only a keyed fingerprint of it is recorded
        # Undo policy for akbackup's databases in the live cluster (each a full copy of the database),
        # applied after every successful restore, restore test and undo, and by `akbackup prune`.
        # Ages come from the UTC stamp in each name; a name whose stamp does not parse is never dropped.
        #undo_keep_newest = \(d.undoKeepNewest)           # authentik_pre_restore_*: the newest N are always kept (1…100)
        #undo_max_age_days = \(d.undoMaxAgeDays)          # other authentik_pre_restore_*: dropped once older (0: at the next prune)
        #failed_max_age_days = \(d.failedMaxAgeDays)        # authentik_failed_* (rolled back) and authentik_undone_*: likewise
        #undo_warn_percent = \(d.undoWarnPercent)         # doctor and status warn above this share of the database volume

        """
    }
}

