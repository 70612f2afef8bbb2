import AKBase
import AKProtocol
import Foundation
import HostConfig
import Logging
import ProtocolSession
import Transport

/// `akbackup-agent serve`: one protocol session on stdin/stdout, logging to stderr.
public enum AgentServer {
    public static let capabilities = ["probe", "backup", "restore", "undo", "databases", "drop-database", "undo.prune"]

    public static func serve(configPath: String, protocolVersion: Int = AKVersion.protocolVersion,
                             channel: ByteChannel? = nil) -> Int32 {
        let logger = Logger(label: "akbackup-agent")
        let log: @Sendable (String) -> Void = { logger.info("\($0)") }
        let host = ProcessInfo.processInfo.hostName
        let hello = Hello(role: .agent, protocolVersion: protocolVersion, host: host, capabilities: capabilities)
        let config: AgentConfig
        let configSource: String
        do {
            config = try AgentConfig.load(path: configPath)
            configSource = FileManager.default.fileExists(atPath: configPath) ? configPath : "defaults (\(configPath) absent)"
        } catch let e as ConfigError {
            return ServerSession.refusingEveryRequest(message: e.located, hint: e.hint, channel: channel, hello: hello, log: log).rawValue
        } catch {
            return 1
        }
        let session = ServerSession.forHost(channel: channel, hello: hello, peerTimeout: config.peerTimeout, log: log)
        let context = AgentContext.live(config: config, hostName: host, log: log)
        return serve(session: session, context: context, configSource: configSource).rawValue
    }

    /// The request loop, over any session and context (tests run it in-process with fakes).
    public static func serve(session: ServerSession, context: AgentContext, configSource: String) -> ServerSession.SessionEnd {
        session.run { message, session in
            let controller = session.peer?.host ?? "unknown"
            switch message.body {
            case let request as ProbeRequest:
                let probe = AgentProbe(context: context)
                // Asked once: doctor shows it as checks, status reads it from the facts.
                let undo = probe.undoReport()
                try session.send(ProbeResult(id: request.id, checks: probe.checks(configSource: configSource, undo: undo), agent: probe.facts(undo: undo)))
            case let request as BackupRequest:
                try BackupJob(context: context, controller: controller).run(request, session: session)
            case let request as RestoreRequest:
                try RestoreJob(context: context, controller: controller).run(request, session: session)
            case let request as UndoRequest:
                try UndoJob(context: context, controller: controller).run(request, session: session)
            case let request as DatabasesRequest:
                try session.send(DatabasesResult(id: request.id, databases: try context.database().ownDatabases()))
            case let request as DropDatabaseRequest:
                try DropDatabaseJob(context: context, controller: controller).run(request, session: session)
            case let request as UndoPruneRequest:
                try UndoPruneJob(context: context, controller: controller).run(request, session: session)
            default:
                throw ErrorMessage(id: message.requestID, code: .unsupported,
                                   message: "the agent does not handle \(message.type) messages",
                                   hint: "install the same akbackup version on the laptop and on infra-core")
            }
        }
    }
}
