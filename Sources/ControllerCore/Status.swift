import AKBase
import AKProtocol
import Foundation
import ProtocolSession

/// `akbackup status`: is there a recent, intact, agent-signed backup, and a recent passed restore
/// test whose receipt the agent signed? Non-zero exit when not, so cron or monitoring can alert.
/// Signatures are checked here against the agent's own trusted keys; when infra-core cannot be
/// reached, the NAS's verdict (against its trusted keys) stands in, and the report says so.
public struct StatusReport: Encodable, Sendable {
    public struct Backup: Encodable, Sendable {
        public var name: String
        public var ageHours: Double
        public var size: Int64
        public var verified: Bool
        public var problem: String?
    }

    public struct RestoreTest: Encodable, Sendable {
        public var operation: String
        public var artifact: String?
        public var finishedAt: String
        public var ageDays: Double
    }

    public var ok: Bool
    public var lastBackup: Backup?
    public var lastRestoreTest: RestoreTest?
    public var backups: Int
    public var nasFreeBytes: Int64?
    public var signaturesCheckedBy: String
    public var problems: [String]
    public var notes: [String]
}

public enum Status {
    public static func run(sessions: HostSessions, now: Date = Date()) throws -> StatusReport {
        let config = sessions.config
        let receiver = try sessions.receiver()
        var notes: [String] = []
        var keys: [AgentPublicKey]?
        do {
            keys = try sessions.agentTrustedKeys()
        } catch let e as HintedError {
            notes.append("signatures checked by the NAS only: \(e.summary)")
        }
        let checker = keys == nil ? "the NAS" : "\(config.agent.host)'s agent keys"
        func trusted(_ document: some SignedDocument, nasVerdict: SignatureStatus?) -> Bool {
            if let keys { return document.signatureStatus(trusting: keys) == .trusted }
            return nasVerdict == .trusted
        }

        var problems: [String] = []
        let listing = try receiver.call(ListRequest(id: receiver.makeID(), offset: 0, limit: 50), expecting: ListResult.self)
        var backup: StatusReport.Backup?
        for candidate in listing.artifacts.prefix(10) {
            let v = try receiver.call(VerifyRequest(id: receiver.makeID(), name: candidate.name), expecting: VerifyResult.self)
            guard let manifest = v.manifest, trusted(manifest, nasVerdict: v.signature) else {
                if backup == nil && candidate.name == listing.artifacts.first?.name {
                    problems.append("the newest backup \(candidate.name) is not signed by a trusted agent key")
                }
                continue
            }
            let made = Timestamp.date(manifest.startedAt) ?? now
            backup = .init(name: v.name, ageHours: now.timeIntervalSince(made) / 3600, size: v.size, verified: v.ok, problem: v.reason)
            if !v.ok { problems.append("the newest signed backup \(v.name) is CORRUPT: \(v.reason ?? "")") }
            break
        }
        if let b = backup {
            if b.ageHours > Double(config.maxBackupAgeHours) {
                problems.append(String(format: "the newest backup is %.0f hours old (limit %d)", b.ageHours, config.maxBackupAgeHours))
            }
        } else {
            problems.append(listing.artifacts.isEmpty ? "there is no backup on the NAS" : "there is no signed backup among the newest on the NAS")
        }

        var test: StatusReport.RestoreTest?
        var offset = 0
        search: while offset < 1000 {
            let page = try receiver.call(ReceiptsRequest(id: receiver.makeID(), offset: offset, limit: 100), expecting: ReceiptsResult.self)
            for stored in page.receipts {
                let r = stored.receipt
                guard (r.operation == "restore-test" || r.operation == "restore"), r.succeeded, trusted(r, nasVerdict: stored.signature) else { continue }
                let finished = Timestamp.date(r.finishedAt) ?? now
                test = .init(operation: r.operation, artifact: r.artifact, finishedAt: r.finishedAt, ageDays: now.timeIntervalSince(finished) / 86400)
                break search
            }
            if page.receipts.isEmpty || offset + page.receipts.count >= page.total { break }
            offset += page.receipts.count
        }
        if let t = test {
            if t.ageDays > Double(config.maxRestoreTestAgeDays) {
                problems.append(String(format: "the last successful restore test is %.0f days old (limit %d): run `akbackup restore-test`", t.ageDays, config.maxRestoreTestAgeDays))
            }
        } else {
            problems.append("no successful restore test with a signed receipt on record: run `akbackup restore-test`")
        }
        return StatusReport(ok: problems.isEmpty, lastBackup: backup, lastRestoreTest: test, backups: listing.total,
                            nasFreeBytes: listing.freeBytes, signaturesCheckedBy: checker, problems: problems, notes: notes)
    }

    public static func render(_ r: StatusReport) -> String {
        var out = ""
        if let b = r.lastBackup {
            out += "last backup        \(b.name), \(String(format: "%.1f", b.ageHours)) hours ago, \(ByteFormat.human(b.size)), \(b.verified ? "verified OK" : "CORRUPT")\n"
        } else {
            out += "last backup        none\n"
        }
        if let t = r.lastRestoreTest {
            out += "last restore test  \(t.finishedAt) (\(String(format: "%.0f", t.ageDays)) days ago, \(t.operation)) with \(t.artifact ?? "?")\n"
        } else {
            out += "last restore test  none\n"
        }
        out += "backups on the NAS \(r.backups)\n"
        if let free = r.nasFreeBytes { out += "NAS free space     \(ByteFormat.human(free))\n" }
        out += "signatures         checked against \(r.signaturesCheckedBy)\n"
        for n in r.notes { out += "note: \(n)\n" }
        for p in r.problems { out += "problem: \(p)\n" }
        out += r.ok ? "status OK\n" : "status NOT OK\n"
        return out
    }
}
