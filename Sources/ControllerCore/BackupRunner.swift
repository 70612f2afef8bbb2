import AKProtocol
import Foundation
import ProtocolSession
import Transport

/// A connection handed from the thread that opened it to the one that waits (DispatchGroup.wait orders them).
private final class ConnectionBox: @unchecked Sendable {
    var result: Result<Connection, Error>?
}

/// What `akbackup backup` reports when it succeeds.
public struct BackupSummary: Encodable, Equatable {
    public var name: String
    public var size: Int64
    public var sha256: String
    public var uncompressedSize: Int64
    public var seconds: Double
    public var authentikVersion: String?
    public var tables: Int
    public var rows: Int64
}

/// The controller's half of a backup: it holds no secret and touches no file. It asks the agent for
/// a dump, the receiver for an upload, and relays the raw frames between them with backpressure.
/// If either side fails, the other is told (or loses its link), and the receiver keeps nothing.
public struct BackupRunner {
    public var config: ControllerConfig
    public var connector: Connector
    public var threads: Int?
    public var progress: ((_ phase: String, _ bytes: Int64) -> Void)?

    public init(config: ControllerConfig, connector: Connector, threads: Int? = nil,
                progress: ((_ phase: String, _ bytes: Int64) -> Void)? = nil) {
        self.config = config
        self.connector = connector
        self.threads = threads
        self.progress = progress
    }

    public func run() throws -> BackupSummary {
        let began = Date()
        // Both SSH connections at once: each handshake is a round trip or two plus key exchange.
        let agentConnection = ConnectionBox()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { [connector, config] in
            agentConnection.result = Result { try connector.connect(role: .agent, remote: config.agent) }
        }
        let receiverConnection = Result { try connector.connect(role: .receiver, remote: config.receiver) }
        group.wait()
        defer {
            if case .success(let c) = receiverConnection { c.session.close() }
            if case .success(let c)? = agentConnection.result { c.session.close() }
        }
        let receiver = try receiverConnection.get().session
        let agent = try agentConnection.result!.get().session

        let backupID = agent.makeID()
        try agent.send(.backup(BackupRequest(id: backupID, threads: threads)))
        let started: BackupStarted = try agent.expect("backup.started", id: backupID) {
            if case .backupStarted(let m) = $0 { return m } else { return nil }
        }
        progress?("starting", 0)

        let uploadID = receiver.makeID()
        let ready = try receiver.call(.upload(UploadRequest(id: uploadID, name: started.name)))
        guard case .uploadReady = ready else { throw receiver.unexpected(ready, wanted: "upload.ready") }
        try receiver.send(.data(DataHeader(id: uploadID, stream: "dump")))

        var relayed: Int64 = 0
        let result: BackupResult
        do {
            result = try relay(from: agent, backupID: backupID, to: receiver, relayed: &relayed)
        } catch let failure {
            abortUpload(receiver, id: uploadID, reason: "\(failure)")
            throw failure
        }
        let manifest = Manifest(name: started.name, sha256: result.sha256, size: result.size,
                                uncompressedSize: result.uncompressedSize, startedAt: started.startedAt,
                                finishedAt: result.finishedAt, source: started.source, rowCounts: result.rowCounts,
                                compression: "gzip -6, \(result.compressionThreads) thread(s), independent members")
        progress?("verifying", relayed)
        let stored = try receiver.call(.uploadCommit(UploadCommit(id: uploadID, size: result.size, sha256: result.sha256, manifest: manifest)))
        guard case .uploadResult(let upload) = stored else { throw receiver.unexpected(stored, wanted: "upload.result") }
        guard upload.sha256 == result.sha256, upload.size == result.size else {
            throw RemoteError(host: receiver.host, code: .failed, message: "the NAS stored a different artifact than the agent sent",
                              hint: "run `akbackup verify \(started.name)`")
        }
        return BackupSummary(name: upload.name, size: upload.size, sha256: upload.sha256, uncompressedSize: result.uncompressedSize,
                             seconds: Date().timeIntervalSince(began), authentikVersion: started.source.authentikVersion,
                             tables: result.rowCounts.count, rows: result.rowCounts.values.reduce(0, +))
    }

    /// Moves the agent's data frames to the receiver until the agent's final answer.
    private func relay(from agent: ClientSession, backupID: UInt64, to receiver: ClientSession, relayed: inout Int64) throws -> BackupResult {
        var lastReport = Date.distantPast
        var dataEnded = false
        while true {
            let item = try agent.receive(context: "streaming the dump")
            switch item {
            case .chunk(let bytes):
                try receiver.framed.sendChunk(bytes)
                relayed += Int64(bytes.count)
                if let progress, Date().timeIntervalSince(lastReport) >= 0.5 {
                    progress("dumping", relayed)
                    lastReport = Date()
                }
            case .endOfData:
                try receiver.framed.endData()
                dataEnded = true
            case .message(.data(let header)) where header.id == backupID:
                continue
            case .message(.backupResult(let result)) where result.id == backupID && dataEnded:
                return result
            case .message(.error(let e)):
                if !dataEnded { try? receiver.framed.endData() }
                throw RemoteError(host: agent.host, e)
            case .message(let other):
                throw agent.unexpected(other, wanted: "dump data or backup.result")
            }
        }
    }

    /// Tells the receiver to drop the partial file; if its link is gone, it drops it by itself.
    private func abortUpload(_ receiver: ClientSession, id: UInt64, reason: String) {
        if receiver.framed.isSendingData { try? receiver.framed.endData() }
        _ = try? receiver.call(.uploadAbort(UploadAbort(id: id, reason: String(reason.prefix(500)))))
    }
}
