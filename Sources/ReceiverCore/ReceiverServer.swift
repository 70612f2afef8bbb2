import AKBase
import AKProtocol
import Foundation
import HostConfig
import Logging
import ProtocolSession
import Retention
import Transport

/// `akbackup-receiver serve`: one protocol session on stdin/stdout, logging to stderr.
public enum ReceiverServer {
    public static let capabilities = ["probe", "upload", "list", "verify", "fetch", "receipts", "prune", "pin", "files"]

    public static func serve(configPath: String, protocolVersion: Int = AKVersion.protocolVersion,
                             channel: ByteChannel? = nil) -> Int32 {
        let logger = Logger(label: "akbackup-receiver")
        let log: @Sendable (String) -> Void = { logger.info("\($0)") }
        let hello = Hello(role: .receiver, protocolVersion: protocolVersion, host: ProcessInfo.processInfo.hostName,
                          capabilities: capabilities)
        let config: ReceiverConfig
        do {
            config = try ReceiverConfig.load(path: configPath)
        } catch let e as ConfigError {
            return ServerSession.refusingEveryRequest(message: e.located, hint: e.hint, channel: channel, hello: hello, log: log).rawValue
        } catch {
            return 1
        }
        let session = ServerSession.forHost(channel: channel, hello: hello, peerTimeout: config.peerTimeout, log: log)
        let source = FileManager.default.fileExists(atPath: configPath) ? configPath : "defaults (\(configPath) absent)"
        let store = BackupStore(config: config)
        store.removeStalePartials(log: log)
        store.finishInterruptedPrunesLocked(log: log)
        return serve(session: session, store: store, configSource: source, log: log).rawValue
    }

    /// The request loop, over any session and store (tests run it in-process).
    public static func serve(session: ServerSession, store: BackupStore, configSource: String,
                             log: @escaping @Sendable (String) -> Void, now: @escaping () -> Date = Date.init,
                             pruneHook: PruneHook? = nil) -> ServerSession.SessionEnd {
        // The plan the last `prune` at offset 0 made: later pages of this session come from it.
        var lastPrune: (dryRun: Bool, plan: RetentionPlan)?
        return session.run { message, session in
            switch message.body {
            case let request as ProbeRequest:
                try session.send(ProbeResult(id: request.id, checks: store.probe(configSource: configSource, now: now())))
            case let request as UploadRequest:
                try UploadJob(store: store, log: log, now: now).run(request, session: session)
            case let request as ListRequest:
                if (request.offset ?? 0) == 0 { store.finishInterruptedPrunesLocked(log: log) }
                let (page, total) = try store.list(offset: request.offset ?? 0, limit: request.limit ?? ProtocolLimits.maxPage)
                try session.send(ListResult(id: request.id, artifacts: page, total: total, freeBytes: store.space()?.free))
            case let request as VerifyRequest:
                try session.send(try store.verify(request.name, id: request.id))
            case let request as FetchRequest:
                try store.serve(request, session: session)
            case let request as ReceiptStore:
                try session.send(try store.storeReceipt(request))
            case let request as ReceiptsRequest:
                let (page, total) = store.receipts(offset: request.offset ?? 0, limit: request.limit ?? 100)
                try session.send(ReceiptsResult(id: request.id, receipts: page, total: total))
            case let request as PruneRequest:
                let offset = request.offset ?? 0
                if offset == 0 {
                    lastPrune = nil
                    let plan = try store.prune(dryRun: request.dryRun, now: now(), id: request.id, log: log, hook: pruneHook)
                    lastPrune = (request.dryRun, plan)
                }
                guard let (dryRun, plan) = lastPrune, dryRun == request.dryRun else {
                    throw ErrorMessage(id: request.id, code: .badRequest,
                                       message: "prune at offset \(offset) pages a plan this session has not made (\(request.dryRun ? "dry run" : "prune") at offset 0 first)",
                                       hint: "ask for offset 0 first; later pages come from that plan and never remove anything")
                }
                try session.send(store.pruneResult(plan, dryRun: dryRun, id: request.id, offset: offset,
                                                   limit: request.limit ?? ProtocolLimits.maxPage))
            case let request as PinRequest:
                try session.send(try store.pin(request, now: now(), log: log))
            default:
                throw ErrorMessage(id: message.requestID, code: .unsupported,
                                   message: "the receiver does not handle \(message.type) messages",
                                   hint: "install the same akbackup version on the laptop and on the NAS")
            }
        }
    }
}
