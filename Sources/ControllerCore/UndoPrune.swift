import AKBase
import AKProtocol
import Foundation
import ProtocolSession

/// What the agent on infra-core did (or, in a dry run, would do) with akbackup's databases in the
/// live cluster when asked to apply its undo policy: the JSON of `akbackup prune` for that host.
public struct UndoPruneSummary: Encodable, Sendable {
    /// The agent's SSH alias, as configured.
    public var host: String
    public var dryRun: Bool
    /// Every database of akbackup's, the decision and, after a real run, whether the drop worked.
    public var report: UndoReport
    /// False when a drop the policy asked for failed (the command should then exit 1).
    public var ok: Bool
    /// doctor's and status's warning, when the databases still hold more than the policy's share.
    public var warning: String?

    public init(host: String, dryRun: Bool, report: UndoReport) {
        self.host = host
        self.dryRun = dryRun
        self.report = report
        self.ok = !report.databases.contains { $0.dropped == false }
        self.warning = report.warning(host: host)
    }
}

/// The undo half of `akbackup prune`: one `undo.prune` request. The controller sends no names (the
/// agent decides from its own config which of its databases go), so a stolen laptop key can, at
/// worst, make the agent apply its own policy early.
public enum UndoPrune {
    public static func run(sessions: HostSessions, dryRun: Bool) throws -> UndoPruneSummary {
        let agent = try sessions.agent()
        let result = try agent.call(UndoPruneRequest(id: agent.makeID(), dryRun: dryRun), expecting: UndoPruneResult.self)
        guard result.dryRun == dryRun else {
            throw RemoteError(host: agent.host, code: .failed,
                              message: "the agent answered a \(result.dryRun ? "dry run" : "real prune") to a request for a \(dryRun ? "dry run" : "real prune")",
                              hint: "install the same akbackup version on the laptop and on infra-core")
        }
        return UndoPruneSummary(host: sessions.config.agent.host, dryRun: dryRun, report: result.report)
    }

    /// A table for people: one line per database, then what was dropped and what is left.
    public static func renderText(_ s: UndoPruneSummary) -> String {
        let r = s.report
        var out = "\(s.host): akbackup's databases in the live cluster (policy: \(r.policy.summary))\n"
        guard !r.databases.isEmpty else {
            return out + "  none\n"
        }
        let now = Timestamp.date(r.checkedAt)
        let rows: [[String]] = r.databases.map { d in
            let age = d.stamp.flatMap(Timestamp.date).flatMap { stamp in now.map { ageText($0.timeIntervalSince(stamp)) } } ?? "?"
            let action: String
            switch (d.action, d.dropped) {
            case (.keep, _): action = "keep"
            case (.drop, nil): action = s.dryRun ? "would drop" : "drop"
            case (.drop, true?): action = "dropped"
            case (.drop, false?): action = "FAILED"
            }
            let why = d.dropped == false ? "could not drop: \(d.error ?? "unknown error")" : d.reason
            return [d.name, d.kind.rawValue, ByteFormat.human(d.sizeBytes), age, action, why]
        }
        let widths = (0..<5).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            out += "  " + (0..<5).map { row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                + "  " + row[5] + "\n"
        }
        let dropped = r.databases.filter { $0.dropped == true }
        let failed = r.databases.filter { $0.dropped == false }
        let planned = r.databases.filter { $0.action == .drop }
        var summary: [String] = []
        if s.dryRun {
            let bytes = planned.reduce(Int64(0)) { $0 &+ $1.sizeBytes }
            summary.append(planned.isEmpty ? "dry run: nothing would be dropped" : "dry run: would drop \(planned.count) (\(ByteFormat.human(bytes)))")
        } else {
            summary.append(dropped.isEmpty ? "nothing dropped" : "dropped \(dropped.count) (\(ByteFormat.human(r.droppedBytes)))")
            if !failed.isEmpty { summary.append("could not drop \(failed.count)") }
        }
        let kept = r.databases.count - dropped.count
        var left = "\(kept) left (\(ByteFormat.human(r.keptBytes))"
        if let p = r.percentOfVolume, let v = r.volumeBytes { left += String(format: ", %.0f%% of the database volume of %@", p, ByteFormat.human(v)) }
        summary.append(left + ")")
        out += summary.joined(separator: "; ") + "\n"
        if let w = s.warning { out += "warning: \(w)\n  hint: \(UndoReport.warningHint)\n" }
        return out
    }

    /// "40 min", "5 h", "3.2 d": short, for a column.
    static func ageText(_ seconds: TimeInterval) -> String {
        if seconds < 0 { return "future" }
        if seconds < 3600 { return "\(Int(seconds / 60)) min" }
        if seconds < 86400 { return "\(Int(seconds / 3600)) h" }
        return String(format: "%.1f d", seconds / 86400)
    }
}
