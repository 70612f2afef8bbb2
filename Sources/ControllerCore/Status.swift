import AKBase
import AKProtocol
import Foundation
import ProtocolSession

/// `akbackup status`: is there a recent, intact, agent-signed backup, and a recent passed restore
/// test whose receipt the agent signed? Non-zero exit when not, so cron or monitoring can alert.
/// Signatures are checked here against the agent's own trusted keys; when infra-core cannot be
/// reached, the NAS's verdict (against its trusted keys) stands in, and the report says so.
/// The report is plain data; `StatusFormat` turns it into text, Prometheus or Nagios output.
public struct StatusReport: Encodable, Sendable {
    public struct Backup: Encodable, Sendable {
        public var name: String
        /// Since the dump started (the moment the data is from).
        public var ageHours: Double
        public var size: Int64
        public var verified: Bool
        public var problem: String?
        /// From its signed manifest.
        public var startedAt: String
        public var finishedAt: String
        /// finishedAt − startedAt; nil when the manifest's clock went backwards.
        public var durationSeconds: Double?

        public init(name: String, ageHours: Double, size: Int64, verified: Bool, problem: String? = nil,
                    startedAt: String, finishedAt: String) {
            self.name = name
            self.ageHours = ageHours
            self.size = size
            self.verified = verified
            self.problem = problem
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            if let s = Timestamp.date(startedAt), let f = Timestamp.date(finishedAt), f >= s {
                durationSeconds = f.timeIntervalSince(s)
            }
        }
    }

    public struct RestoreTest: Encodable, Sendable {
        public var operation: String
        public var artifact: String?
        public var finishedAt: String
        public var ageDays: Double

        public init(operation: String, artifact: String?, finishedAt: String, ageDays: Double) {
            self.operation = operation
            self.artifact = artifact
            self.finishedAt = finishedAt
            self.ageDays = ageDays
        }
    }

    /// akbackup's databases in infra-core's live cluster, from the agent's facts (its undo policy's dry run).
    public struct UndoDatabases: Encodable, Sendable {
        /// The agent's SSH alias, as configured (a label in the Prometheus output).
        public var host: String
        public var databases: [UndoDatabase]
        public var totalBytes: Int64
        /// The file system of PostgreSQL's data directory; nil when the agent could not tell.
        public var volumeBytes: Int64?
        public var percentOfVolume: Double?
        public var warnPercent: Int
        /// Set when they hold more than `warnPercent` of the volume (also in `warnings`).
        public var warning: String?

        public init(host: String, report: UndoReport) {
            self.host = host
            self.databases = report.databases
            self.totalBytes = report.keptBytes
            self.volumeBytes = report.volumeBytes
            self.percentOfVolume = report.percentOfVolume
            self.warnPercent = report.policy.warnPercent
            self.warning = report.warning(host: host)
        }
    }

    /// The NAS's retention: its policy, what each rule keeps, what the next prune would remove.
    public struct Retention: Encodable, Sendable {
        public var policy: String
        public var configured: Bool
        public var keptBy: [RetentionRuleCount]
        /// What a prune now would remove, newest first (a dry run's plan).
        public var wouldRemove: [String]
        public var wouldFreeBytes: Int64

        public init(_ plan: PruneReport) {
            policy = plan.policy.text
            configured = plan.policy.configured
            keptBy = plan.keptBy
            wouldRemove = plan.removals.map(\.name)
            wouldFreeBytes = plan.bytesFreed
        }
    }

    /// No problem: every check passed (warnings allowed).
    public var ok: Bool
    public var lastBackup: Backup?
    public var lastRestoreTest: RestoreTest?
    public var backups: Int
    public var nasFreeBytes: Int64?
    /// Nil when infra-core's agent could not be asked.
    public var undoDatabases: UndoDatabases?
    /// Nil when the NAS could not plan a prune (a note says why).
    public var retention: Retention?
    /// The receiver's SSH alias, as configured (a label in the Prometheus output).
    public var receiverHost: String
    public var signaturesCheckedBy: String
    public var limits: StatusLimits
    /// Each fails the status (Nagios CRITICAL).
    public var problems: [String]
    /// Each is a Nagios WARNING: past a warning limit, not yet past the critical one.
    public var warnings: [String]
    public var notes: [String]

    /// Judges the facts against `limits`. `findings` are problems found while reading the NAS (an
    /// unsigned newest backup, a corrupt one); the age limits and absences are judged here.
    public init(lastBackup: Backup?, lastRestoreTest: RestoreTest?, backups: Int, nasFreeBytes: Int64?, receiverHost: String,
                signaturesCheckedBy: String, limits: StatusLimits, findings: [String] = [], notes: [String] = [],
                undoDatabases: UndoDatabases? = nil, retention: Retention? = nil) {
        var problems = findings
        var warnings: [String] = []
        // Space, not safety: the undo databases never fail the status, they only warn.
        if let w = undoDatabases?.warning { warnings.append(w) }
        if let b = lastBackup {
            if b.ageHours > Double(limits.maxBackupAgeHours) {
                problems.append(String(format: "the newest backup is %.0f hours old (limit %d)", b.ageHours, limits.maxBackupAgeHours))
            } else if b.ageHours > Double(limits.warnBackupAgeHours) {
                warnings.append(String(format: "the newest backup is %.1f hours old (warning at %d, limit %d)", b.ageHours,
                                       limits.warnBackupAgeHours, limits.maxBackupAgeHours))
            }
        } else {
            problems.append(backups == 0 ? "there is no backup on the NAS" : "there is no signed backup among the newest on the NAS")
        }
        if let t = lastRestoreTest {
            if t.ageDays > Double(limits.maxRestoreTestAgeDays) {
                problems.append(String(format: "the last successful restore test is %.0f days old (limit %d): run `akbackup restore-test`",
                                        t.ageDays, limits.maxRestoreTestAgeDays))
            } else if t.ageDays > Double(limits.warnRestoreTestAgeDays) {
                warnings.append(String(format: "the last successful restore test is %.0f days old (warning at %d, limit %d): plan `akbackup restore-test`",
                                        t.ageDays, limits.warnRestoreTestAgeDays, limits.maxRestoreTestAgeDays))
            }
        } else {
            problems.append("no successful restore test with a signed receipt on record: run `akbackup restore-test`")
        }
        self.ok = problems.isEmpty
        self.lastBackup = lastBackup
        self.lastRestoreTest = lastRestoreTest
        self.backups = backups
        self.nasFreeBytes = nasFreeBytes
        self.undoDatabases = undoDatabases
        self.retention = retention
        self.receiverHost = receiverHost
        self.signaturesCheckedBy = signaturesCheckedBy
        self.limits = limits
        self.problems = problems
        self.warnings = warnings
        self.notes = notes
    }
}

public enum Status {
    public static func run(sessions: HostSessions, now: Date = Date()) throws -> StatusReport {
        let config = sessions.config
        let receiver = try sessions.receiver()
        var notes: [String] = []
        var keys: [AgentPublicKey]?
        var undo: StatusReport.UndoDatabases?
        do {
            let facts = try sessions.agentFacts()
            keys = facts.trustedKeys.compactMap { AgentPublicKey(text: $0) }
            undo = facts.undo.map { StatusReport.UndoDatabases(host: config.agent.host, report: $0) }
        } catch let e as HintedError {
            notes.append("signatures checked by the NAS only: \(e.summary)")
        }
        let checker = keys == nil ? "the NAS" : "\(config.agent.host)'s agent keys"
        func trusted(_ document: some SignedDocument, nasVerdict: SignatureStatus?) -> Bool {
            if let keys { return document.signatureStatus(trusting: keys) == .trusted }
            return nasVerdict == .trusted
        }

        var findings: [String] = []
        let listing = try receiver.call(ListRequest(id: receiver.makeID(), offset: 0, limit: 50), expecting: ListResult.self)
        var backup: StatusReport.Backup?
        for candidate in listing.artifacts.prefix(10) {
            let v = try receiver.call(VerifyRequest(id: receiver.makeID(), name: candidate.name), expecting: VerifyResult.self)
            guard let manifest = v.manifest, trusted(manifest, nasVerdict: v.signature) else {
                if backup == nil && candidate.name == listing.artifacts.first?.name {
                    findings.append("the newest backup \(candidate.name) is not signed by a trusted agent key")
                }
                continue
            }
            let made = Timestamp.date(manifest.startedAt) ?? now
            backup = .init(name: v.name, ageHours: now.timeIntervalSince(made) / 3600, size: v.size, verified: v.ok, problem: v.reason,
                           startedAt: manifest.startedAt, finishedAt: manifest.finishedAt)
            if !v.ok { findings.append("the newest signed backup \(v.name) is CORRUPT: \(v.reason ?? "")") }
            break
        }

        var test: StatusReport.RestoreTest?
        var offset = 0
        search: while offset < 1000 {
            let page = try receiver.call(ReceiptsRequest(id: receiver.makeID(), offset: offset, limit: 100), expecting: ReceiptsResult.self)
            for stored in page.receipts {
                let r = stored.receipt
                guard r.provesRestore, trusted(r, nasVerdict: stored.signature) else { continue }
                let finished = Timestamp.date(r.finishedAt) ?? now
                test = .init(operation: r.operation, artifact: r.artifact, finishedAt: r.finishedAt, ageDays: now.timeIntervalSince(finished) / 86400)
                break search
            }
            if page.receipts.isEmpty || offset + page.receipts.count >= page.total { break }
            offset += page.receipts.count
        }
        // What the next prune would do: a dry run of the NAS's own policy (it removes nothing).
        var retention: StatusReport.Retention?
        do {
            retention = StatusReport.Retention(try Pruner.run(session: receiver, dryRun: true))
            if retention?.configured == false { notes.append("the NAS has no retention policy: nothing is ever deleted") }
        } catch let e as RemoteError {
            notes.append("the NAS could not plan a prune: \(e.summary)")
        }
        return StatusReport(lastBackup: backup, lastRestoreTest: test, backups: listing.total, nasFreeBytes: listing.freeBytes,
                            receiverHost: config.receiver.host, signaturesCheckedBy: checker, limits: config.statusLimits,
                            findings: findings, notes: notes, undoDatabases: undo, retention: retention)
    }
}
