import AKBase
import AKProtocol
@testable import ControllerCore
import Foundation
import ProcessRunner
import XCTest

/// `akbackup status --format text|json|prometheus|nagios` on reports built directly.
final class StatusFormatTests: XCTestCase {
    static let now = Date(timeIntervalSince1970: 1_764_000_000)

    /// A report as `Status.run` would make it at `now`; nil ages mean "none on record".
    func report(backupAgeHours: Double? = 5.2, testAgeDays: Double? = 12, verified: Bool = true, backups: Int = 14,
                free: Int64? = 1_234_567_890, host: String = "nas", limits: StatusLimits = StatusLimits(),
                findings: [String] = [], notes: [String] = []) -> StatusReport {
        let now = StatusFormatTests.now
        let backup = backupAgeHours.map { age -> StatusReport.Backup in
            let started = now.addingTimeInterval(-age * 3600)
            return .init(name: "authentik-db-2025-11-24T090000Z.sql.gz", ageHours: age, size: 48_213_504, verified: verified,
                         startedAt: Timestamp.string(started), finishedAt: Timestamp.string(started.addingTimeInterval(125)))
        }
        let test = testAgeDays.map { age in
            StatusReport.RestoreTest(operation: "restore-test", artifact: "authentik-db-2025-11-12T090000Z.sql.gz",
                                     finishedAt: Timestamp.string(now.addingTimeInterval(-age * 86400)), ageDays: age)
        }
        return StatusReport(lastBackup: backup, lastRestoreTest: test, backups: backups, nasFreeBytes: free, receiverHost: host,
                            signaturesCheckedBy: "infra-core's agent keys", limits: limits, findings: findings, notes: notes)
    }

    // MARK: the verdict

    func testAgesAreJudgedAgainstTheWarningAndTheCriticalLimits() {
        XCTAssertTrue(report().ok)
        XCTAssertEqual(report().warnings, [])
        let lateBackup = report(backupAgeHours: 25.5)
        XCTAssertTrue(lateBackup.ok)
        XCTAssertEqual(lateBackup.warnings.count, 1)
        XCTAssertTrue(lateBackup.warnings[0].contains("25.5 hours old (warning at 25, limit 26)"), lateBackup.warnings[0])
        let overdueBackup = report(backupAgeHours: 27)
        XCTAssertFalse(overdueBackup.ok)
        XCTAssertEqual(overdueBackup.warnings, [], "past the critical limit it is a problem, not also a warning")
        XCTAssertTrue(overdueBackup.problems[0].contains("27 hours old (limit 26)"), "\(overdueBackup.problems)")
        XCTAssertEqual(report(testAgeDays: 86).warnings.count, 1)
        XCTAssertFalse(report(testAgeDays: 93).ok)
        XCTAssertEqual(report(backupAgeHours: nil, backups: 0).problems, ["there is no backup on the NAS"])
        XCTAssertEqual(report(backupAgeHours: nil, backups: 3).problems, ["there is no signed backup among the newest on the NAS"])
        XCTAssertTrue(report(testAgeDays: nil).problems[0].contains("no successful restore test"))
        XCTAssertEqual(report().lastBackup?.durationSeconds, 125)
    }

    // MARK: text and JSON

    func testTextShowsDurationWarningsAndProblems() {
        let text = StatusFormat.text(report(backupAgeHours: 25.5, testAgeDays: 93))
        XCTAssertTrue(text.contains("25.5 hours ago, 46.0 MiB, took 125 s, verified OK"), text)
        XCTAssertTrue(text.contains("warning: the newest backup is 25.5 hours old"), text)
        XCTAssertTrue(text.contains("problem: the last successful restore test is 93 days old"), text)
        XCTAssertTrue(text.hasSuffix("status NOT OK\n"), text)
        XCTAssertEqual(StatusFormat.text(report()), StatusFormat.text.render(report()))
    }

    func testJSONCarriesTheNewFacts() throws {
        let r = report(backupAgeHours: 25.5)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(StatusFormat.json.render(r).utf8)) as? [String: Any])
        let backup = try XCTUnwrap(object["lastBackup"] as? [String: Any])
        XCTAssertEqual(backup["durationSeconds"] as? Double, 125)
        XCTAssertEqual(backup["finishedAt"] as? String, r.lastBackup?.finishedAt)
        XCTAssertEqual((object["warnings"] as? [String])?.count, 1)
        XCTAssertEqual((object["limits"] as? [String: Any])?["warnBackupAgeHours"] as? Int, 25)
        XCTAssertEqual(object["receiverHost"] as? String, "nas")
        XCTAssertEqual(object["ok"] as? Bool, true)
    }

    // MARK: Prometheus, checked by the reference parser

    struct Family: Equatable {
        var name: String
        var type: String
        var samples: [Sample]
    }

    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// Parses `text` with prometheus_client's `text_string_to_metric_families` under Debian's own
    /// python3 (python3-prometheus-client). Missing: a skip with a hint, or a failure under CI=true.
    func referenceParse(_ text: String) throws -> [Family] {
        let inCI = ProcessInfo.processInfo.environment["CI"] == "true"
        let script = """
        import json, sys
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError as e:
            print("prometheus_client is missing: %s" % e, file=sys.stderr)
            sys.exit(3)
        out = []
        for f in text_string_to_metric_families(sys.stdin.read()):
            out.append({"name": f.name, "type": f.type,
                        "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
        print(json.dumps(out))
        """
        let hint = "install Debian's parser: apt-get install python3-prometheus-client (deploy/prereqs does)"
        let result: ProcessResult
        do {
            result = try ChildProcess.run(["/usr/bin/python3", "-c", script], stdin: Array(text.utf8), timeout: 60)
        } catch {
            if inCI { XCTFail("cannot run /usr/bin/python3: \(error); \(hint)"); throw error }
            throw XCTSkip("/usr/bin/python3 is missing; \(hint)")
        }
        if result.status == 3 {
            if inCI { XCTFail("\(result.stderrText); \(hint)"); throw Failure(result.stderrText, hint: hint) }
            throw XCTSkip("\(result.stderrLastLine); \(hint)")
        }
        guard result.status == 0 else {
            XCTFail("the reference parser rejected the exposition:\n\(result.stderrText)\n\(text)")
            throw Failure("parse failed", hint: "")
        }
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout)) as? [[String: Any]])
        return json.map { f in
            Family(name: f["name"] as! String, type: f["type"] as! String,
                   samples: (f["samples"] as! [[String: Any]]).map {
                       Sample(name: $0["name"] as! String, labels: $0["labels"] as! [String: String], value: ($0["value"] as! NSNumber).doubleValue)
                   })
        }
    }

    func testPrometheusRoundTripsThroughTheReferenceParser() throws {
        // A host alias with every character the format escapes in a label value, and a backslash
        // before an "n" that must not come back as a line feed.
        let host = "nas\"\\n\nx"
        let r = report(host: host)
        let text = StatusFormat.prometheus(r)
        let families = try referenceParse(text)
        let byName = Dictionary(uniqueKeysWithValues: families.map { ($0.name, $0) })
        XCTAssertEqual(Set(byName.keys), ["akbackup_up", "akbackup_status_ok", "akbackup_last_success_timestamp_seconds",
                                          "akbackup_last_backup_size_bytes", "akbackup_last_backup_duration_seconds",
                                          "akbackup_last_backup_verified", "akbackup_backups", "akbackup_nas_free_bytes"])
        for f in families { XCTAssertEqual(f.type, "gauge", f.name) }
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            byName[name]?.samples.first { $0.labels == labels }?.value
        }
        XCTAssertEqual(value("akbackup_up"), 1)
        XCTAssertEqual(value("akbackup_status_ok"), 1)
        let backupFinished = Timestamp.date(r.lastBackup!.finishedAt)!.timeIntervalSince1970
        XCTAssertEqual(value("akbackup_last_success_timestamp_seconds", ["operation": "backup"]), backupFinished)
        XCTAssertEqual(value("akbackup_last_success_timestamp_seconds", ["operation": "restore_test"]),
                       Timestamp.date(r.lastRestoreTest!.finishedAt)!.timeIntervalSince1970)
        XCTAssertEqual(value("akbackup_last_backup_size_bytes"), 48_213_504)
        XCTAssertEqual(value("akbackup_last_backup_duration_seconds"), 125)
        XCTAssertEqual(value("akbackup_last_backup_verified"), 1)
        XCTAssertEqual(value("akbackup_backups", ["host": host]), 14, "the label value comes back unescaped:\n\(text)")
        XCTAssertEqual(value("akbackup_nas_free_bytes", ["host": host]), 1_234_567_890)
        XCTAssertTrue(text.contains("# HELP akbackup_backups "), text)
        XCTAssertTrue(text.contains("# TYPE akbackup_last_backup_size_bytes gauge\n"), text)
        XCTAssertTrue(text.hasSuffix("\n"))
    }

    func testUnknownFactsHaveNoSampleAndAFailedStatusIsZero() throws {
        let r = report(backupAgeHours: nil, testAgeDays: nil, backups: 0, free: nil)
        let families = try referenceParse(StatusFormat.prometheus(r))
        let names = Set(families.map(\.name))
        XCTAssertEqual(names, ["akbackup_up", "akbackup_status_ok", "akbackup_backups"])
        XCTAssertEqual(families.first { $0.name == "akbackup_status_ok" }?.samples.first?.value, 0)
        XCTAssertFalse(StatusFormat.prometheus(r).lowercased().contains("nan"))

        let corrupt = try referenceParse(StatusFormat.prometheus(report(verified: false, findings: ["the newest signed backup x is CORRUPT"])))
        XCTAssertEqual(corrupt.first { $0.name == "akbackup_last_backup_verified" }?.samples.first?.value, 0)
        XCTAssertEqual(corrupt.first { $0.name == "akbackup_status_ok" }?.samples.first?.value, 0)
    }

    func testTheUnreachableFileSaysDownAndNotOK() throws {
        let families = try referenceParse(StatusFormat.prometheusDown())
        XCTAssertEqual(families.map(\.name), ["akbackup_up", "akbackup_status_ok"])
        XCTAssertEqual(families.map { $0.samples.first?.value }, [0, 0])
    }

    func testTheTextfileIsReplacedAtomicallyWithMode0644() throws {
        let dir = NSTemporaryDirectory() + "akbackup-textfile-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let old = umask(0o077)
        defer { umask(old) }
        try StatusFormat.writeTextfile(directory: dir, text: StatusFormat.prometheusDown())
        let text = StatusFormat.prometheus(report())
        try StatusFormat.writeTextfile(directory: dir, text: text)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["akbackup.prom"], "no temp file left behind")
        XCTAssertEqual(try String(contentsOfFile: dir + "/akbackup.prom", encoding: .utf8), text)
        var st = stat()
        XCTAssertEqual(stat(dir + "/akbackup.prom", &st), 0)
        XCTAssertEqual(st.st_mode & 0o7777, 0o644, "readable by node_exporter whatever the umask")

        XCTAssertThrowsError(try StatusFormat.writeTextfile(directory: dir + "/missing", text: text)) { error in
            let e = error as! FileIOError
            XCTAssertTrue(e.hint.contains("does not exist"), e.hint)
        }
    }

    // MARK: Nagios

    /// `'label'=value[UOM];[warn];[crit];[min];[max]` with the plugin guidelines' units.
    static let perfItem = try! NSRegularExpression(pattern: #"^'[^'=]+'=[0-9]+(\.[0-9]+)?(s|ms|us|%|B|KB|MB|TB|c)?;[0-9.]*;[0-9.]*;[0-9.]*(;[0-9.]*)?$"#)

    func assertNagios(_ r: StatusReport, _ state: StatusFormat.NagiosState, _ fragment: String,
                      file: StaticString = #filePath, line: UInt = #line) -> [String: String] {
        let (text, got) = StatusFormat.nagios(r)
        XCTAssertEqual(got, state, text, file: file, line: line)
        XCTAssertEqual(got.rawValue, [.ok: 0, .warning: 1, .critical: 2, .unknown: 3][state], file: file, line: line)
        XCTAssertFalse(text.contains("\n"), "exactly one line", file: file, line: line)
        XCTAssertEqual(StatusFormat.nagios.render(r), text, file: file, line: line)
        XCTAssertTrue(text.hasPrefix("AKBACKUP \(state.word) - "), text, file: file, line: line)
        XCTAssertTrue(text.contains(fragment), text, file: file, line: line)
        let halves = text.components(separatedBy: " | ")
        XCTAssertEqual(halves.count, 2, "one perfdata separator: \(text)", file: file, line: line)
        var perf: [String: String] = [:]
        for item in (halves.last ?? "").split(separator: " ").map(String.init) {
            XCTAssertEqual(StatusFormatTests.perfItem.numberOfMatches(in: item, range: NSRange(item.startIndex..., in: item)), 1,
                           "perfdata item \(item)", file: file, line: line)
            let label = item.split(separator: "=")[0].trimmingCharacters(in: CharacterSet(charactersIn: "'"))
            perf[label] = String(item.split(separator: "=")[1])
        }
        return perf
    }

    func testNagiosStatesExitCodesAndPerfdata() {
        let ok = assertNagios(report(), .ok, "last backup 5.2 h old (authentik-db-2025-11-24T090000Z.sql.gz, 46.0 MiB, verified), restore test 12 days old, 14 backups, NAS 1.1 GiB free")
        XCTAssertEqual(ok["backup_age"], "18720s;90000;93600;0", "seconds, with the warning and critical limits")
        XCTAssertEqual(ok["restore_test_age"], "1036800s;7344000;7948800;0")
        XCTAssertEqual(ok["backup_size"], "48213504B;;;0")
        XCTAssertEqual(ok["backup_duration"], "125s;;;0")
        XCTAssertEqual(ok["backups"], "14;;;0")
        XCTAssertEqual(ok["nas_free"], "1234567890B;;;0")

        _ = assertNagios(report(backupAgeHours: 25.5), .warning, "the newest backup is 25.5 hours old (warning at 25, limit 26)")
        _ = assertNagios(report(testAgeDays: 86), .warning, "restore test is 86 days old")
        let custom = StatusLimits(warnBackupAgeHours: 24, maxBackupAgeHours: 48, warnRestoreTestAgeDays: 30, maxRestoreTestAgeDays: 92)
        XCTAssertEqual(assertNagios(report(backupAgeHours: 30, limits: custom), .warning, "30.0 hours")["backup_age"], "108000s;86400;172800;0")
        _ = assertNagios(report(backupAgeHours: 49, limits: custom), .critical, "the newest backup is 49 hours old (limit 48)")
        // A name from a hostile NAS can neither add a line nor start the perfdata early.
        let hostile = assertNagios(report(backupAgeHours: 25.5, findings: ["the newest backup a|b\nc is not signed by a trusted agent key"]),
                                   .critical, "the newest backup a/b c is not signed by a trusted agent key; the newest backup is 25.5 hours old")
        XCTAssertNotNil(hostile["backup_age"])
        let none = assertNagios(report(backupAgeHours: nil, testAgeDays: nil, backups: 0, free: nil), .critical, "there is no backup on the NAS")
        XCTAssertEqual(Set(none.keys), ["backups"], "no value for what is unknown")

        let (line, state) = StatusFormat.nagiosUnknown(TransportErrorStandIn())
        XCTAssertEqual(state, .unknown)
        XCTAssertEqual(state.rawValue, 3)
        XCTAssertEqual(line, "AKBACKUP UNKNOWN - nas: cannot connect: Connection refused")
    }
}

private struct TransportErrorStandIn: HintedError {
    var summary: String { "nas: cannot connect: Connection refused" }
    var hint: String { "check the network" }
}
