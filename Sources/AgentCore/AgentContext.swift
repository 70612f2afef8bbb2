import AKBase
import AKProtocol
import Crypto
import Foundation

/// Everything an agent job needs from its host, behind seams: the database server, the app services,
/// the signing key, the clock, the signal shield and the log. `AgentServer` builds the real one;
/// tests build one with scripted fakes.
public struct AgentContext: Sendable {
    public var config: AgentConfig
    public var hostName: String
    /// The database server; reading the password can fail, so it is made when a job needs it.
    public var database: @Sendable () throws -> DatabaseServer
    public var app: AppServices
    /// Authentik's files (§15): the mounts, and what the agent needs Docker for.
    public var files: AppFiles
    public var signingKey: @Sendable () throws -> SigningKey?
    public var log: @Sendable (String) -> Void
    /// Makes this process ignore hang-up and termination (the swap window, a replace).
    public var shield: @Sendable () -> Void
    public var clock: @Sendable () -> Date

    public init(config: AgentConfig, hostName: String, database: @escaping @Sendable () throws -> DatabaseServer, app: AppServices,
                signingKey: @escaping @Sendable () throws -> SigningKey?, log: @escaping @Sendable (String) -> Void,
                shield: @escaping @Sendable () -> Void = { Signals.shieldFromTermination() },
                clock: @escaping @Sendable () -> Date = { Date() }, files: AppFiles = NoAppFiles()) {
        self.config = config
        self.hostName = hostName
        self.database = database
        self.app = app
        self.files = files
        self.signingKey = signingKey
        self.log = log
        self.shield = shield
        self.clock = clock
    }

    /// The real host: docker, compose, the .env and the key in the state directory.
    public static func live(config: AgentConfig, hostName: String, log: @escaping @Sendable (String) -> Void) -> AgentContext {
        AgentContext(config: config, hostName: hostName,
                     database: { DockerPostgres(config: config, password: try EnvFile.databasePassword(config: config)) },
                     app: ComposeApp(config: config),
                     signingKey: { try SigningKey.load(stateDir: config.stateDir) },
                     log: log, files: DockerFiles(config: config))
    }

    /// The signing key, or the error that says how to make one.
    public func requireSigningKey() throws -> SigningKey {
        guard let key = try signingKey() else {
            throw ErrorMessage(id: nil, code: .failed,
                               message: "\(hostName) has no signing key in \(config.stateDir): it cannot sign backups or receipts",
                               hint: "run `akbackup-agent key --init` on \(hostName) as the agent's login (deploy/agent/install does), then trust its public key on the NAS: akbackup-receiver trust-agent-key KEY")
        }
        return key
    }

    /// Keys whose signatures this agent accepts: its own, then the configured ones.
    public func trustedKeys() -> [AgentPublicKey] {
        SigningKey.trustedKeys(own: try? signingKey(), config: config)
    }

    /// yyyymmddhhmmss in UTC: sorts by time, valid in a database name.
    public func stamp() -> String {
        let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: clock())
        return String(format: "%04d%02d%02d%02d%02d%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }
}

/// The stack's `.env`, read on this host only.
public enum EnvFile {
    /// Label of the keyed fingerprint (§15.4): HMAC-SHA256 keyed by the secret key over this text.
    public static let fingerprintLabel = "akbackup secret-key fingerprint 1"

    /// HMAC-SHA256(key: AUTHENTIK_SECRET_KEY, "akbackup secret-key fingerprint 1"), hex: equal keys
    /// give equal fingerprints, and the fingerprint tells nothing about the key. Nil when unreadable.
    public static func secretKeyFingerprint(config: AgentConfig) -> String? {
        guard let data = FileManager.default.contents(atPath: config.envPath),
              let secret = DotEnv.parse(String(decoding: data, as: UTF8.self))[config.secretKeyVariable], !secret.isEmpty else { return nil }
        return fingerprint(secret)
    }

    public static func fingerprint(_ secret: String) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: Array(fingerprintLabel.utf8), using: SymmetricKey(data: Array(secret.utf8))))
    }

    /// The database password, phrased for the operator when it cannot be read.
    public static func databasePassword(config: AgentConfig) throws -> String {
        let path = config.envPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw ErrorMessage(id: nil, code: .failed, message: "env file \(path) does not exist",
                               hint: "set env_file / compose_dir in \(AgentConfig.defaultPath) to the stack's .env")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ErrorMessage(id: nil, code: .failed, message: "env file \(path) is not readable by \(NSUserName())",
                               hint: "give the agent's login user read access (e.g. chown \(NSUserName()) \(path); keep mode 600)")
        }
        guard let password = DotEnv.parse(String(decoding: data, as: UTF8.self))[config.passwordVariable], !password.isEmpty else {
            throw ErrorMessage(id: nil, code: .failed, message: "env file \(path) has no \(config.passwordVariable)",
                               hint: "add \(config.passwordVariable)=… to it or set password_variable in \(AgentConfig.defaultPath)")
        }
        return password
    }
}
