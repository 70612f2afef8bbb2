import AKProtocol
import Foundation
import HostConfig
import Logging
import ProtocolSession
import Transport

/// `akbackup-receiver serve`: one protocol session on stdin/stdout, logging to stderr.
public enum ReceiverServer {
    public static let capabilities = ["probe", "upload", "list", "verify", "fetch", "receipts"]

    public static func serve(configPath: String, protocolVersion: Int = AKVersion.protocolVersion,
                             channel: ByteChannel = StdioChannel()) -> Int32 {
        var logger = Logger(label: "akbackup-receiver")
        logger.logLevel = .info
        let hello = Hello(role: .receiver, protocolVersion: protocolVersion, host: ProcessInfo.processInfo.hostName,
                          capabilities: capabilities)
        let session = ServerSession(channel: channel, hello: hello, log: { logger.info("\($0)") })
        let config: ReceiverConfig
        do {
            config = try ReceiverConfig.load(path: configPath)
        } catch let e as ConfigError {
            return session.run { message, _ in
                throw ErrorMessage(id: message.requestID, code: .failed, message: e.located, hint: e.hint)
            }.rawValue
        } catch {
            return 1
        }
        let source = FileManager.default.fileExists(atPath: configPath) ? configPath : "defaults (\(configPath) absent)"
        let store = BackupStore(directory: config.directory)
        store.removeStalePartials(log: { logger.info("\($0)") })
        return session.run { message, session in
            switch message {
            case .probe(let request):
                try session.send(.probeResult(ProbeResult(id: request.id, checks: store.probe(configSource: source))))
            case .upload(let request):
                try UploadJob(store: store, log: { logger.info("\($0)") }, idleTimeout: TimeInterval(config.uploadIdleTimeout))
                    .run(request, session: session)
            case .list(let request):
                try session.send(.listResult(ListResult(id: request.id, artifacts: try store.list(),
                                                        freeBytes: store.space()?.free)))
            case .verify(let request):
                try session.send(.verifyResult(try store.verify(request.name, id: request.id)))
            case .fetch(let request):
                try store.serve(request, session: session)
            case .receiptStore(let request):
                try session.send(.done(try store.storeReceipt(request)))
            case .receipts(let request):
                try session.send(.receiptsResult(ReceiptsResult(id: request.id, receipts: store.receipts())))
            default:
                throw ErrorMessage(id: message.requestID, code: .unsupported,
                                   message: "the receiver does not handle \(message.type) messages",
                                   hint: "install the same akbackup version on the laptop and on the NAS")
            }
        }.rawValue
    }
}
