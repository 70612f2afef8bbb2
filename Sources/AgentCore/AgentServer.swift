import AKProtocol
import Foundation
import HostConfig
import Logging
import ProtocolSession
import Transport

/// `akbackup-agent serve`: one protocol session on stdin/stdout, logging to stderr.
public enum AgentServer {
    public static let capabilities = ["probe", "backup", "restore", "undo", "databases", "drop-database"]

    public static func serve(configPath: String, protocolVersion: Int = AKVersion.protocolVersion,
                             channel: ByteChannel = StdioChannel()) -> Int32 {
        var logger = Logger(label: "akbackup-agent")
        logger.logLevel = .info
        let host = ProcessInfo.processInfo.hostName
        let log: (String) -> Void = { logger.info("\($0)") }
        let hello = Hello(role: .agent, protocolVersion: protocolVersion, host: host, capabilities: capabilities)
        let session = ServerSession(channel: channel, hello: hello, log: log)

        let config: AgentConfig
        let configSource: String
        do {
            config = try AgentConfig.load(path: configPath)
            configSource = FileManager.default.fileExists(atPath: configPath) ? configPath : "defaults (\(configPath) absent)"
        } catch let e as ConfigError {
            // A broken config answers every request with the same clear error instead of guessing.
            let outcome = session.run { message, session in
                throw ErrorMessage(id: message.requestID, code: .failed, message: e.located, hint: e.hint)
            }
            return outcome.rawValue
        } catch {
            return 1
        }
        let agentHost = AgentHost(config: config)
        func restoreJob(_ session: ServerSession) -> RestoreJob {
            RestoreJob(host: agentHost, hostName: host, controller: session.peer?.host ?? "unknown", log: log)
        }
        let outcome = session.run { message, session in
            switch message {
            case .probe(let request):
                try session.send(.probeResult(ProbeResult(id: request.id, checks: agentHost.probe(configSource: configSource))))
            case .backup(let request):
                try BackupJob(host: agentHost, hostName: host, controller: session.peer?.host ?? "unknown")
                    .run(request, session: session)
            case .restore(let request):
                try restoreJob(session).run(request, session: session)
            case .undo(let request):
                try restoreJob(session).undo(request, session: session)
            case .databases(let request):
                let password = try agentHost.secret()
                try session.send(.databasesResult(DatabasesResult(id: request.id, databases: try restoreJob(session).ownDatabases(password: password))))
            case .dropDatabase(let request):
                try restoreJob(session).drop(request, session: session)
            default:
                throw ErrorMessage(id: message.requestID, code: .unsupported,
                                   message: "the agent does not handle \(message.type) messages",
                                   hint: "install the same akbackup version on the laptop and on infra-core")
            }
        }
        return outcome.rawValue
    }
}
