import AKBase
import AKProtocol
import Foundation

/// How `akbackup status` prints its report. Every renderer is a pure function of the report.
public enum StatusFormat: String, CaseIterable, Sendable {
    case text, json, prometheus, nagios

    public func render(_ report: StatusReport) -> String {
        switch self {
        case .text: return StatusFormat.text(report)
        case .json: return renderJSON(report)
        case .prometheus: return StatusFormat.prometheus(report)
        case .nagios: return StatusFormat.nagios(report).line
        }
    }

    // MARK: text

    public static func text(_ r: StatusReport) -> String {
        var out = ""
        if let b = r.lastBackup {
            out += "last backup        \(b.name), \(String(format: "%.1f", b.ageHours)) hours ago, \(ByteFormat.human(b.size)), "
                + "\(b.durationSeconds.map { String(format: "took %.0f s, ", $0) } ?? "")\(b.verified ? "verified OK" : "CORRUPT")\n"
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
        if let u = r.undoDatabases { out += undoText(u) }
        if let t = r.retention {
            out += "retention          \(t.policy)\n"
            if !t.keptBy.isEmpty { out += "  kept by          \(Pruner.keptBy(t.keptBy))\n" }
            if t.wouldRemove.isEmpty {
                out += "next prune         removes nothing\n"
            } else {
                let shown = t.wouldRemove.prefix(5).joined(separator: ", ") + (t.wouldRemove.count > 5 ? ", …" : "")
                out += "next prune         removes \(t.wouldRemove.count) backup(s), \(ByteFormat.human(t.wouldFreeBytes)): \(shown)\n"
            }
        }
        out += "signatures         checked against \(r.signaturesCheckedBy)\n"
        for n in r.notes { out += "note: \(n)\n" }
        for w in r.warnings { out += "warning: \(w)\n" }
        for p in r.problems { out += "problem: \(p)\n" }
        out += r.ok ? "status OK\n" : "status NOT OK\n"
        return out
    }

    /// One line for the total, one per database (what the agent's policy will do with it).
    static func undoText(_ u: StatusReport.UndoDatabases) -> String {
        guard !u.databases.isEmpty else { return "undo databases     none on \(u.host)\n" }
        var out = "undo databases     \(u.databases.count) on \(u.host), \(ByteFormat.human(u.totalBytes))"
        if let p = u.percentOfVolume { out += String(format: " (%.0f%% of the database volume)", p) }
        out += "\n"
        for d in u.databases {
            out += "                   \(d.name) \(ByteFormat.human(d.sizeBytes))\(d.action == .drop ? " (the next prune drops it)" : "")\n"
        }
        return out
    }

    // MARK: Prometheus (node_exporter textfile collector)

    /// The file name `--textfile-dir` writes; the collector reads only `*.prom`, so the temp file
    /// beside it during the atomic write is never half-read.
    public static let textfileName = "akbackup.prom"

    /// Writes `DIR/akbackup.prom`, mode 0644 (node_exporter may run as another user): a temp file in
    /// DIR, fsync, rename over the old one, so the collector reads the old file or the new, never half.
    public static func writeTextfile(directory: String, text: String) throws {
        try FileIO.writeAtomically(directory + "/" + textfileName, bytes: Array(text.utf8), mode: 0o644, replace: true)
    }

    /// The text exposition format (version 0.0.4). A fact that is unknown (no backup yet, no free
    /// space reported) has no sample at all rather than a made-up value, so `absent()` alerts on it.
    public static func prometheus(_ r: StatusReport) -> String {
        var families: [PromFamily] = [
            PromFamily.up(1),
            PromFamily.statusOK(r.ok),
        ]
        var success: [PromSample] = []
        if let b = r.lastBackup, let t = Timestamp.date(b.finishedAt) {
            success.append(.init(labels: [("operation", "backup")], value: promNumber(t.timeIntervalSince1970)))
        }
        if let t = r.lastRestoreTest, let d = Timestamp.date(t.finishedAt) {
            success.append(.init(labels: [("operation", "restore_test")], value: promNumber(d.timeIntervalSince1970)))
        }
        families.append(.init("akbackup_last_success_timestamp_seconds",
                              "Unix time the newest agent-signed backup finished, or the last passed restore test with a signed receipt finished.",
                              success))
        let b = r.lastBackup
        families.append(.init("akbackup_last_backup_size_bytes", "Size of the newest agent-signed backup on the NAS (compressed).",
                              b.map { [.init(value: "\($0.size)")] } ?? []))
        families.append(.init("akbackup_last_backup_duration_seconds", "How long the newest agent-signed backup took (its manifest's startedAt to finishedAt).",
                              b?.durationSeconds.map { [.init(value: promNumber($0))] } ?? []))
        families.append(.init("akbackup_last_backup_verified", "1 when the newest agent-signed backup re-read intact on the NAS, 0 when it is corrupt.",
                              b.map { [.init(value: $0.verified ? "1" : "0")] } ?? []))
        let host = [("host", r.receiverHost)]
        families.append(.init("akbackup_backups", "Backups stored on the NAS.", [.init(labels: host, value: "\(r.backups)")]))
        families.append(.init("akbackup_nas_free_bytes", "Free bytes on the NAS's backup file system.",
                              r.nasFreeBytes.map { [.init(labels: host, value: "\($0)")] } ?? []))
        let agent = r.undoDatabases.map { [("host", $0.host)] } ?? []
        families.append(.init("akbackup_undo_databases", "Databases akbackup keeps in the live cluster (undo points, failed and undone restores).",
                              r.undoDatabases.map { [.init(labels: agent, value: "\($0.databases.count)")] } ?? []))
        families.append(.init("akbackup_undo_databases_bytes", "Bytes those databases hold (pg_database_size).",
                              r.undoDatabases.map { [.init(labels: agent, value: "\($0.totalBytes)")] } ?? []))
        families.append(.init("akbackup_undo_databases_volume_ratio", "Their share of the file system of PostgreSQL's data directory (0…1).",
                              r.undoDatabases?.percentOfVolume.map { [.init(labels: agent, value: promNumber($0 / 100))] } ?? []))
        let t = r.retention
        families.append(.init("akbackup_retention_policy", "1 when the NAS has a retention policy; 0 when it has none and never deletes a backup.",
                              t.map { [.init(labels: host, value: $0.configured ? "1" : "0")] } ?? []))
        families.append(.init("akbackup_retention_kept", "Backups each retention rule, floor or pin keeps on the NAS (one backup may count for several).",
                              t?.keptBy.map { .init(labels: host + [("rule", $0.rule)], value: "\($0.kept)") } ?? []))
        families.append(.init("akbackup_prune_would_remove", "Backups the next prune would remove (the NAS's dry run).",
                              t.map { [.init(labels: host, value: "\($0.wouldRemove.count)")] } ?? []))
        families.append(.init("akbackup_prune_would_free_bytes", "Bytes the next prune would free.",
                              t.map { [.init(labels: host, value: "\($0.wouldFreeBytes)")] } ?? []))
        return families.map(\.text).joined()
    }

    /// What `--textfile-dir` holds when the status could not be made (a host unreachable, a config
    /// error): `akbackup_up 0` and `akbackup_status_ok 0`, so an alert fires instead of the last good
    /// file lingering.
    public static func prometheusDown() -> String {
        [PromFamily.up(0), PromFamily.statusOK(false)].map(\.text).joined()
    }

    /// Label values escape backslash, double quote and line feed (the exposition format's rules).
    public static func promLabelValue(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Go's ParseFloat reads Swift's shortest round-trip form; whole numbers print without ".0".
    static func promNumber(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    // MARK: Nagios plugin

    public enum NagiosState: Int32, Sendable {
        case ok = 0, warning = 1, critical = 2, unknown = 3
        public var word: String {
            switch self {
            case .ok: return "OK"
            case .warning: return "WARNING"
            case .critical: return "CRITICAL"
            case .unknown: return "UNKNOWN"
            }
        }
    }

    /// One line, `AKBACKUP STATE - summary | perfdata`, and the state, whose raw value is the exit
    /// code. Ages go out in seconds ("s" is a unit the plugin guidelines define; hours are not), with
    /// the configured warning and critical limits as thresholds.
    public static func nagios(_ r: StatusReport) -> (line: String, state: NagiosState) {
        let state: NagiosState = !r.ok ? .critical : (r.warnings.isEmpty ? .ok : .warning)
        var summary: String
        switch state {
        case .ok, .unknown:
            var parts: [String] = []
            if let b = r.lastBackup {
                parts.append(String(format: "last backup %.1f h old", b.ageHours) + " (\(b.name), \(ByteFormat.human(b.size)), verified)")
            }
            if let t = r.lastRestoreTest { parts.append(String(format: "restore test %.0f days old", t.ageDays)) }
            parts.append("\(r.backups) backups")
            if let free = r.nasFreeBytes { parts.append("NAS \(ByteFormat.human(free)) free") }
            parts += r.notes
            summary = parts.joined(separator: ", ")
        case .warning:
            summary = r.warnings.joined(separator: "; ")
        case .critical:
            summary = (r.problems + r.warnings).joined(separator: "; ")
        }
        var perf: [String] = []
        let limits = r.limits
        if let b = r.lastBackup {
            perf.append(perfItem("backup_age", String(Int64(b.ageHours * 3600)), "s",
                                 warn: limits.warnBackupAgeHours * 3600, crit: limits.maxBackupAgeHours * 3600))
        }
        if let t = r.lastRestoreTest {
            perf.append(perfItem("restore_test_age", String(Int64(t.ageDays * 86400)), "s",
                                 warn: limits.warnRestoreTestAgeDays * 86400, crit: limits.maxRestoreTestAgeDays * 86400))
        }
        if let b = r.lastBackup {
            perf.append(perfItem("backup_size", String(b.size), "B"))
            if let d = b.durationSeconds { perf.append(perfItem("backup_duration", String(format: "%.0f", d), "s")) }
        }
        perf.append(perfItem("backups", String(r.backups), ""))
        if let free = r.nasFreeBytes { perf.append(perfItem("nas_free", String(free), "B")) }
        return ("AKBACKUP \(state.word) - \(nagiosText(summary)) | \(perf.joined(separator: " "))", state)
    }

    /// When no report could be made: a host unreachable, a config error. Nagios's UNKNOWN.
    public static func nagiosUnknown(_ error: Error) -> (line: String, state: NagiosState) {
        let what = (error as? HintedError)?.summary ?? "\(error)"
        return ("AKBACKUP UNKNOWN - \(nagiosText(what))", .unknown)
    }

    /// `'label'=value[UOM];[warn];[crit];[min];[max]`; every value here is ≥ 0.
    static func perfItem(_ label: String, _ value: String, _ unit: String, warn: Int? = nil, crit: Int? = nil) -> String {
        "'\(label)'=\(value)\(unit);\(warn.map(String.init) ?? "");\(crit.map(String.init) ?? "");0"
    }

    /// The text before the perfdata: one line, no `|` (it starts the perfdata), no control
    /// characters (names and reasons may come from the NAS), short enough for NRPE's buffer.
    static func nagiosText(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            if c == "|" { out += "/" } else if c.value < 0x20 || c.value == 0x7F || (0x80...0x9F).contains(c.value) { out += " " } else { out.unicodeScalars.append(c) }
        }
        return out.count > 600 ? String(out.prefix(599)) + "…" : out
    }
}

struct PromSample {
    var labels: [(String, String)] = []
    var value: String
}

struct PromFamily {
    var name: String
    var help: String
    var samples: [PromSample]

    init(_ name: String, _ help: String, _ samples: [PromSample]) {
        self.name = name
        self.help = help
        self.samples = samples
    }

    static func up(_ value: Int) -> PromFamily {
        PromFamily("akbackup_up", "1 when akbackup status could read the NAS; 0 when a host could not be reached or status failed.",
                   [.init(value: "\(value)")])
    }

    static func statusOK(_ ok: Bool) -> PromFamily {
        PromFamily("akbackup_status_ok", "1 when every check passed (recent, verified, signed backup and restore test); else 0.",
                   [.init(value: ok ? "1" : "0")])
    }

    /// HELP, TYPE and the samples; nothing when there is no sample.
    var text: String {
        guard !samples.isEmpty else { return "" }
        var out = "# HELP \(name) \(help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n"))\n"
        out += "# TYPE \(name) gauge\n"
        for s in samples {
            let labels = s.labels.isEmpty ? "" : "{" + s.labels.map { "\($0.0)=\"\(StatusFormat.promLabelValue($0.1))\"" }.joined(separator: ",") + "}"
            out += "\(name)\(labels) \(s.value)\n"
        }
        return out
    }
}
