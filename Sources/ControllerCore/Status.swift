import AKProtocol
import Foundation
import ProtocolSession

/// `akbackup status`: is there a recent, intact backup, and a recent passed restore test?
/// Non-zero exit when not, so cron or monitoring can alert.
public struct StatusReport: Encodable {
    public struct Backup: Encodable {
        public var name: String
        public var ageHours: Double
        public var size: Int64
        public var verified: Bool
        public var problem: String?
    }

    public struct RestoreTest: Encodable {
        public var artifact: String?
        public var finishedAt: String
        public var ageDays: Double
    }

    public var ok: Bool
    public var lastBackup: Backup?
    public var lastRestoreTest: RestoreTest?
    public var nasFreeBytes: Int64?
    public var problems: [String]
}

public enum Status {
    public static func run(config: ControllerConfig, connector: Connector, now: Date = Date()) throws -> StatusReport {
        let session = try connector.connect(role: .receiver, remote: config.receiver).session
        defer { session.close() }
        let listAnswer = try session.call(.list(ListRequest(id: session.makeID())))
        guard case .listResult(let listing) = listAnswer else { throw session.unexpected(listAnswer, wanted: "list.result") }
        let receiptsAnswer = try session.call(.receipts(ReceiptsRequest(id: session.makeID())))
        guard case .receiptsResult(let receipts) = receiptsAnswer else { throw session.unexpected(receiptsAnswer, wanted: "receipts.result") }

        var problems: [String] = []
        var backup: StatusReport.Backup?
        if let newest = listing.artifacts.first {
            let verifyAnswer = try session.call(.verify(VerifyRequest(id: session.makeID(), name: newest.name)))
            guard case .verifyResult(let v) = verifyAnswer else { throw session.unexpected(verifyAnswer, wanted: "verify.result") }
            let made = Timestamp.date(newest.manifest?.startedAt ?? newest.modifiedAt) ?? now
            let age = now.timeIntervalSince(made) / 3600
            backup = .init(name: newest.name, ageHours: age, size: newest.size, verified: v.ok, problem: v.reason)
            if !v.ok { problems.append("the newest backup \(newest.name) is CORRUPT: \(v.reason ?? "")") }
            if age > Double(config.maxBackupAgeHours) {
                problems.append(String(format: "the newest backup is %.0f hours old (limit %d)", age, config.maxBackupAgeHours))
            }
        } else {
            problems.append("there is no backup on the NAS")
        }
        var test: StatusReport.RestoreTest?
        if let last = receipts.receipts.last(where: { ($0.operation == "restore-test" || $0.operation == "restore") && $0.succeeded }) {
            let finished = Timestamp.date(last.finishedAt) ?? now
            let days = now.timeIntervalSince(finished) / 86400
            test = .init(artifact: last.artifact, finishedAt: last.finishedAt, ageDays: days)
            if days > Double(config.maxRestoreTestAgeDays) {
                problems.append(String(format: "the last successful restore test is %.0f days old (limit %d): run `akbackup restore-test`", days, config.maxRestoreTestAgeDays))
            }
        } else {
            problems.append("no successful restore test on record: run `akbackup restore-test`")
        }
        return StatusReport(ok: problems.isEmpty, lastBackup: backup, lastRestoreTest: test, nasFreeBytes: listing.freeBytes, problems: problems)
    }

    public static func render(_ r: StatusReport) -> String {
        var out = ""
        if let b = r.lastBackup {
            out += "last backup        \(b.name), \(String(format: "%.1f", b.ageHours)) hours ago, \(ByteFormat.human(b.size)), \(b.verified ? "verified OK" : "CORRUPT")\n"
        } else {
            out += "last backup        none\n"
        }
        if let t = r.lastRestoreTest {
            out += "last restore test  \(t.finishedAt) (\(String(format: "%.0f", t.ageDays)) days ago) with \(t.artifact ?? "?")\n"
        } else {
            out += "last restore test  none\n"
        }
        if let free = r.nasFreeBytes { out += "NAS free space     \(ByteFormat.human(free))\n" }
        for p in r.problems { out += "problem: \(p)\n" }
        out += r.ok ? "status OK\n" : "status NOT OK\n"
        return out
    }
}
