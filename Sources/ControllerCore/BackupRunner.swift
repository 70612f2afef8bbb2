import AKBase
import AKProtocol
import Foundation
import ProtocolSession
import Transport

/// What `akbackup backup` reports when it succeeds.
public struct BackupSummary: Encodable, Equatable, Sendable {
    public var name: String
    public var size: Int64
    public var sha256: String
    public var uncompressedSize: Int64
    public var seconds: Double
    public var authentikVersion: String?
    public var tables: Int
    public var rows: Int64
    /// The agent key that signed the manifest.
    public var signedBy: String
    /// Authentik's files, stored beside the dump as the set's second member (§15).
    public var files: FilesMember?
    /// What the prune after the backup did (nil: not asked for, or it failed).
    public var prune: PruneSummary?
    /// Why the prune after the backup failed, and what to do (the backup itself is stored).
    public var pruneError: String?
    public var pruneHint: String?

    /// The backup is stored, but the prune after it failed: the job fails, so a NAS that stops
    /// pruning is noticed (heartbeat /fail, exit 1) before it fills.
    public var pruneFailure: Failure? {
        pruneError.map { Failure("stored \(name), but the prune after it failed: \($0)", hint: pruneHint ?? "run `akbackup prune --dry-run`") }
    }
}

/// The controller's half of a backup: it holds no secret and touches no file. It asks the agent for
/// a dump, the receiver for an upload, and relays the raw frames between them with backpressure.
/// The agent signs the manifest; the receiver keeps nothing the signature does not cover. If either
/// side fails, the other is told (or loses its link), and the receiver keeps nothing.
public struct BackupRunner {
    public var sessions: HostSessions
    public var threads: Int?
    /// Ask the NAS to prune by its own policy once the backup is stored (`--no-prune`: false).
    public var prune: Bool
    public var progress: ((_ phase: String, _ bytes: Int64) -> Void)?

    public init(sessions: HostSessions, threads: Int? = nil, prune: Bool = true, progress: ((_ phase: String, _ bytes: Int64) -> Void)? = nil) {
        self.sessions = sessions
        self.threads = threads
        self.prune = prune
        self.progress = progress
    }

    public func run() throws -> BackupSummary {
        let began = Date()
        try sessions.connectBoth()
        let receiver = try sessions.receiver()
        let agent = try sessions.agent()

        let backupID = agent.makeID()
        // Authentik's files go along when the NAS can store a set's second member (§15).
        let files = receiver.remoteHello?.capabilities.contains("files") ?? false
        try agent.send(BackupRequest(id: backupID, threads: threads, files: files))
        let started = try agent.expect(BackupStarted.self, id: backupID)
        progress?("starting", 0)

        let uploadID = receiver.makeID()
        _ = try receiver.call(UploadRequest(id: uploadID, name: started.name), expecting: UploadReady.self)
        try receiver.send(DataHeader(id: uploadID, stream: "dump"))

        var relayed: Int64 = 0
        let result: BackupResult
        do {
            result = try relay(from: agent, backupID: backupID, to: receiver, uploadID: uploadID, relayed: &relayed)
        } catch let failure {
            abortUpload(receiver, id: uploadID, reason: "\(failure)")
            throw failure
        }
        let manifest = result.manifest
        guard manifest.name == started.name else {
            abortUpload(receiver, id: uploadID, reason: "the agent's manifest names another artifact")
            throw RemoteError(host: agent.host, code: .failed, message: "the agent's manifest names \(manifest.name.prefix(80)), not \(started.name)",
                              hint: "install the same akbackup version everywhere")
        }
        progress?("verifying", relayed)
        let upload = try receiver.call(UploadCommit(id: uploadID, manifest: manifest), expecting: UploadResult.self)
        guard upload.sha256 == manifest.sha256, upload.size == manifest.size else {
            throw RemoteError(host: receiver.host, code: .failed, message: "the NAS stored a different artifact than the agent sent",
                              hint: "run `akbackup verify \(started.name)`")
        }
        var summary = BackupSummary(name: upload.name, size: upload.size, sha256: upload.sha256, uncompressedSize: manifest.uncompressedSize,
                                    seconds: Date().timeIntervalSince(began), authentikVersion: started.source.authentikVersion,
                                    tables: manifest.rowCounts.count, rows: manifest.rowCounts.values.reduce(0, +),
                                    signedBy: manifest.validSigner?.fingerprint ?? "unsigned", files: manifest.files)
        // Only after a stored backup: a failed one must never cost an old one.
        if prune {
            progress?("pruning", relayed)
            do {
                summary.prune = PruneSummary(try Pruner.run(session: receiver, dryRun: false))
            } catch let e as HintedError {
                (summary.pruneError, summary.pruneHint) = (e.summary, e.hint)
            }
        }
        return summary
    }

    /// Moves the agent's data frames to the receiver until the agent's final answer: the dump's
    /// stream (its header already sent), then perhaps the files member's (§15).
    private func relay(from agent: ClientSession, backupID: UInt64, to receiver: ClientSession, uploadID: UInt64, relayed: inout Int64) throws -> BackupResult {
        var lastReport = Date.distantPast
        var streams = 0
        var open = false
        while true {
            let item = try agent.receive(context: streams > 1 ? "streaming Authentik's files" : "streaming the dump")
            switch item {
            case .chunk(let bytes):
                try receiver.sendChunk(bytes)
                relayed += Int64(bytes.count)
                if let progress, Date().timeIntervalSince(lastReport) >= 0.5 {
                    progress(streams > 1 ? "files" : "dumping", relayed)
                    lastReport = Date()
                }
            case .endOfData:
                try receiver.endData()
                open = false
            case .message(let m):
                if let header = m.as(DataHeader.self), header.id == backupID, !open {
                    streams += 1
                    if streams == 1, header.stream == "dump" { open = true; continue }
                    if streams == 2, header.stream == "files" {
                        try receiver.send(DataHeader(id: uploadID, stream: "files"))
                        open = true
                        continue
                    }
                }
                if let r = m.as(BackupResult.self), r.id == backupID, streams > 0, !open { return r }
                if let e = m.as(ErrorMessage.self) {
                    if open || streams == 0 { try? receiver.endData() }
                    throw RemoteError(host: agent.host, e)
                }
                throw agent.unexpected(m, wanted: "dump data or backup.result")
            }
        }
    }

    /// Tells the receiver to drop the partial file; if its link is gone, it drops it by itself.
    private func abortUpload(_ receiver: ClientSession, id: UInt64, reason: String) {
        if receiver.framed.isSendingData { try? receiver.endData() }
        _ = try? receiver.call(UploadAbort(id: id, reason: String(reason.prefix(500))))
    }
}
