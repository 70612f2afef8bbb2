import AKBase
import AKProtocol
@testable import ControllerCore
import Foundation
import ProcessRunner
import Synchronization
import XCTest

/// A scripted network: records every ping, answers with what the test says.
final class ScriptedSender: PingSender {
    let sent = Mutex<[PingRequest]>([])
    let answer: PingFailure?
    init(answer: PingFailure? = nil) { self.answer = answer }
    func send(_ request: PingRequest) -> PingFailure? {
        sent.withLock { $0.append(request) }
        return answer
    }
    var requests: [PingRequest] { sent.withLock { $0 } }
}

/// What a test captured from stdout or stderr.
final class Lines: Sendable {
    let lines = Mutex<[String]>([])
    func append(_ s: String) { lines.withLock { $0.append(s) } }
    var all: [String] { lines.withLock { $0 } }
    var text: String { all.joined(separator: "\n") }
}

final class NotifierTests: XCTestCase {
    static let secret = "5c1d7e2a-6f0b-4c3e-9d8a-0b1c2d3e4f50"
    static let url = "https://hc-ping.com/\(secret)"

    func notifier(_ sender: PingSender, url: String = NotifierTests.url, warnings: Lines) -> Notifier {
        Notifier(config: NotifyConfig(pingURL: url, pingTimeout: 7), sender: sender, warn: { warnings.append($0) })!
    }

    func testNoURLNoNotifier() {
        XCTAssertNil(Notifier(config: NotifyConfig()))
    }

    func testStartSuccessAndFailureURLs() {
        let sender = ScriptedSender()
        let warnings = Lines()
        let n = notifier(sender, warnings: warnings)
        XCTAssertTrue(n.ping(.start))
        XCTAssertTrue(n.ping(.success, body: "stored x"))
        XCTAssertTrue(n.ping(.failure, body: "error: boom\nhint: fix it\n"))
        XCTAssertEqual(sender.requests, [
            PingRequest(url: NotifierTests.url + "/start", body: nil, timeout: 7),
            PingRequest(url: NotifierTests.url, body: "stored x", timeout: 7),
            PingRequest(url: NotifierTests.url + "/fail", body: "error: boom\nhint: fix it\n", timeout: 7),
        ])
        XCTAssertEqual(warnings.all, [])
        XCTAssertEqual(Notifier.url("https://hc.example/ping/abc/?create=1", suffix: "/start"), "https://hc.example/ping/abc/start?create=1")
    }

    func testTheBodyIsTheTailOfTheOutput() {
        let sender = ScriptedSender()
        let lines = (0..<2000).map { "line \($0) of the run's output" }.joined(separator: "\n") + "\nerror: the last line\n"
        XCTAssertTrue(notifier(sender, warnings: Lines()).ping(.failure, body: lines))
        let body = sender.requests[0].body!
        XCTAssertLessThanOrEqual(body.utf8.count, Notifier.maxBody)
        XCTAssertGreaterThan(body.utf8.count, Notifier.maxBody - 100)
        XCTAssertTrue(body.hasSuffix("error: the last line\n"))
        XCTAssertTrue(body.hasPrefix("line "), "starts at a line: \(body.prefix(40))")
    }

    func testAFailedPingIsOneWarningLineWithoutTheSecret() {
        let warnings = Lines()
        let n = notifier(ScriptedSender(answer: PingFailure("curl: (22) The requested URL \(NotifierTests.url)/fail returned error: 404")), warnings: warnings)
        XCTAssertFalse(n.ping(.failure, body: "x"))
        XCTAssertEqual(warnings.all.count, 1)
        let w = warnings.all[0]
        XCTAssertFalse(w.contains("\n"), w)
        XCTAssertTrue(w.hasPrefix("warning: heartbeat ping (failure) to https://hc-ping.com/… failed: curl: (22)"), w)
        XCTAssertFalse(w.contains(NotifierTests.secret), w)
    }

    func testAMissingCurlIsAWarningWithAHint() {
        let warnings = Lines()
        let n = notifier(CurlPingSender(curl: "/nonexistent/curl"), warnings: warnings)
        XCTAssertFalse(n.ping(.start))
        let lines = warnings.text.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, warnings.text)
        XCTAssertTrue(lines[0].hasPrefix("warning: heartbeat ping (start) to https://hc-ping.com/… failed: cannot start /nonexistent/curl"), warnings.text)
        XCTAssertTrue(lines[1].hasPrefix("hint: install curl"), warnings.text)
    }

    func testTheSecretIsNeverInCurlsArgvOnlyInItsQuotedConfig() {
        let request = PingRequest(url: NotifierTests.url + "/fail", body: "@/etc/passwd \"quoted\" back\\slash\nsecond\tline\u{1B}[2J", timeout: 10)
        let argv = CurlPingSender.arguments(timeout: 10, hasBody: true)
        XCTAssertFalse(argv.joined(separator: " ").contains(NotifierTests.secret))
        XCTAssertFalse(argv.contains { $0.contains("hc-ping") })
        XCTAssertEqual(Array(argv.prefix(4)), ["curl", "-q", "--config", "-"], "-q must come first to skip ~/.curlrc")
        XCTAssertEqual(argv[argv.firstIndex(of: "--max-time")! + 1], "10")
        XCTAssertEqual(argv[argv.firstIndex(of: "--retry")! + 1], "2")
        let config = CurlPingSender.config(for: request)
        XCTAssertEqual(config, """
        url = "\(NotifierTests.url)/fail"
        data-raw = "@/etc/passwd \\"quoted\\" back\\\\slash\\nsecond\\tline\u{FFFD}[2J"

        """)
        XCTAssertEqual(config.split(separator: "\n").count, 2, "one config line per option")
    }

    func testUsableURLs() {
        XCTAssertTrue(Notifier.isUsableURL("https://hc-ping.com/abc"))
        XCTAssertTrue(Notifier.isUsableURL("http://127.0.0.1:8000/ping/abc"))
        for bad in ["hc-ping.com/abc", "ftp://x/y", "https://", "https://hc ping.com/x", "https://hc-ping.com/x\ny", "file:///etc/passwd", "https://x/\"a"] {
            XCTAssertFalse(Notifier.isUsableURL(bad), bad)
        }
    }

    // MARK: the scheduled run: events and pings around a job

    func scheduled(_ format: LogFormat, notifier: Notifier?, out: Lines, err: Lines, step: Double = 2.5) -> ScheduledRun {
        let tick = Mutex(Date(timeIntervalSince1970: 1_764_000_000))
        return ScheduledRun(operation: "backup", logFormat: format, notifier: notifier,
                            writeLine: { out.append($0) }, writeError: { err.append($0) },
                            clock: { tick.withLock { t in defer { t.addTimeInterval(step) }; return t } })
    }

    func events(_ out: Lines) throws -> [[String: Any]] {
        try out.all.map { line in
            XCTAssertFalse(line.contains("\n"), "one object per line")
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
        }
    }

    func testJSONLinesForASuccessfulRun() throws {
        let out = Lines(), err = Lines(), sender = ScriptedSender()
        let code = scheduled(.json, notifier: notifier(sender, warnings: err), out: out, err: err).run {
            JobResult(artifact: "authentik-db-2025-11-24T090000Z.sql.gz", bytes: 48_213_504, output: "stored authentik-db-…")
        }
        XCTAssertEqual(code, 0)
        let e = try events(out)
        XCTAssertEqual(e.count, 2)
        XCTAssertEqual(out.all[0], #"{"event":"start","operation":"backup","time":"2025-11-24T16:00:00Z"}"#, "keys in a stable order")
        XCTAssertEqual(out.all[1], #"{"event":"end","operation":"backup","time":"2025-11-24T16:00:02Z","outcome":"ok","exitCode":0,"bytes":48213504,"seconds":2.5,"artifact":"authentik-db-2025-11-24T090000Z.sql.gz"}"#)
        XCTAssertEqual(e[1]["event"] as? String, "end")
        XCTAssertEqual(e[1]["operation"] as? String, "backup")
        XCTAssertEqual(e[1]["outcome"] as? String, "ok")
        XCTAssertEqual(e[1]["exitCode"] as? Int, 0)
        XCTAssertEqual(e[1]["bytes"] as? Int, 48_213_504)
        XCTAssertEqual(e[1]["seconds"] as? Double, 2.5)
        XCTAssertEqual(e[1]["artifact"] as? String, "authentik-db-2025-11-24T090000Z.sql.gz")
        XCTAssertEqual(e[1]["time"] as? String, "2025-11-24T16:00:02Z")
        XCTAssertNil(e[1]["error"])
        XCTAssertEqual(err.all, [])
        XCTAssertEqual(sender.requests.map(\.url), [NotifierTests.url + "/start", NotifierTests.url])
        XCTAssertEqual(sender.requests[1].body, "stored authentik-db-…")
    }

    func testJSONLinesAndFailPingForAFailedRun() throws {
        let out = Lines(), err = Lines(), sender = ScriptedSender()
        let code = scheduled(.json, notifier: notifier(sender, warnings: err), out: out, err: err).run {
            throw Failure("nas: the backup directory /volume1/backups/apps/authentik is full", hint: "free space on the NAS")
        }
        XCTAssertEqual(code, ExitStatus.failed.rawValue)
        let e = try events(out)
        XCTAssertEqual(e.map { $0["event"] as? String }, ["start", "end"])
        XCTAssertEqual(e[1]["outcome"] as? String, "failed")
        XCTAssertEqual(e[1]["exitCode"] as? Int, 1)
        XCTAssertEqual(e[1]["error"] as? String, "nas: the backup directory /volume1/backups/apps/authentik is full")
        XCTAssertEqual(e[1]["hint"] as? String, "free space on the NAS")
        XCTAssertNil(e[1]["artifact"])
        XCTAssertEqual(err.all, ["error: nas: the backup directory /volume1/backups/apps/authentik is full\nhint: free space on the NAS"],
                       "the operator's error still goes to stderr")
        XCTAssertEqual(sender.requests.map(\.url), [NotifierTests.url + "/start", NotifierTests.url + "/fail"])
        let body = try XCTUnwrap(sender.requests[1].body)
        XCTAssertTrue(body.contains("error: nas: the backup directory /volume1/backups/apps/authentik is full\nhint: free space on the NAS"), body)
        XCTAssertTrue(body.hasSuffix("akbackup backup: exit code 1\n"), body)
    }

    func testAFailedReceiptIsAFailureWithItsOwnErrorLine() throws {
        let out = Lines(), err = Lines(), sender = ScriptedSender()
        let code = scheduled(.text, notifier: notifier(sender, warnings: err), out: out, err: err).run {
            JobResult(exit: .failed, artifact: "a.sql.gz", bytes: 9, output: "restore-test: FAILED  a.sql.gz\n  validation failed\n",
                      failure: Failure("restore test of a.sql.gz failed: validation failed", hint: "read the receipt"))
        }
        XCTAssertEqual(code, 1)
        XCTAssertEqual(out.all, [], "no events in text mode")
        XCTAssertEqual(err.all, ["error: restore test of a.sql.gz failed: validation failed\nhint: read the receipt"])
        XCTAssertEqual(sender.requests.last?.body,
                       "restore-test: FAILED  a.sql.gz\n  validation failed\nerror: restore test of a.sql.gz failed: validation failed\nhint: read the receipt\nakbackup backup: exit code 1\n")
    }

    func testAFailingPingNeverChangesTheExitCode() {
        for (result, expected) in [(JobResult(), Int32(0)), (JobResult(exit: .unreachable), Int32(3))] {
            let out = Lines(), err = Lines()
            let n = notifier(ScriptedSender(answer: PingFailure("curl: (7) Failed to connect")), warnings: err)
            XCTAssertEqual(scheduled(.json, notifier: n, out: out, err: err).run { result }, expected)
            XCTAssertEqual(err.all.filter { $0.hasPrefix("warning: heartbeat ping") }.count, 2, err.text)
            XCTAssertEqual(out.all.count, 2)
        }
    }

    // MARK: real curl against a real HTTP server on 127.0.0.1

    /// A Python http.server that appends one JSON line per request (method, path, body, and the
    /// argv of every curl process alive while it answers, read from /proc) to `record`, and prints
    /// its port.
    static let serverScript = #"""
    import http.server, json, os, sys
    record = sys.argv[1]
    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n).decode("utf-8", "replace")
            curls = []
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        argv = [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
                except OSError:
                    continue
                if argv and os.path.basename(argv[0]) == "curl":
                    curls.append(argv)
            with open(record, "a") as f:
                f.write(json.dumps({"method": self.command, "path": self.path, "body": body,
                                    "contentType": self.headers.get("Content-Type"), "curls": curls}) + "\n")
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")
        do_GET = answer
        do_POST = answer
        do_HEAD = answer
        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """#

    /// Reads the child's first stdout line, polling until `deadline`.
    func firstLine(of child: ChildProcess, within seconds: TimeInterval) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while Date() < deadline {
            var p = pollfd(fd: child.stdoutFD, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, Int32(max(1, deadline.timeIntervalSinceNow * 1000))) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(child.stdoutFD, $0.baseAddress, $0.count) }
            if n <= 0 { return nil }
            bytes += buffer[0..<n]
            if let nl = bytes.firstIndex(of: 0x0A) { return String(decoding: bytes[..<nl], as: UTF8.self) }
        }
        return nil
    }

    func testRealCurlPingsARealServerAndADeadOneOnlyWarns() throws {
        let inCI = ProcessInfo.processInfo.environment["CI"] == "true"
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), ChildProcess.locate("curl") != nil else {
            if inCI { return XCTFail("this test needs /usr/bin/python3 and curl (deploy/prereqs installs both)") }
            throw XCTSkip("needs /usr/bin/python3 and curl; hint: run deploy/prereqs")
        }
        let dir = NSTemporaryDirectory() + "akbackup-ping-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try NotifierTests.serverScript.write(toFile: dir + "/server.py", atomically: true, encoding: .utf8)
        let record = dir + "/requests.jsonl"
        let server = try ChildProcess.spawn(["/usr/bin/python3", dir + "/server.py", record], stdout: .pipe)
        var serverRunning = true
        defer { if serverRunning { server.terminate(grace: 2) } }
        let port = try XCTUnwrap(firstLine(of: server, within: 30), "the server did not start: \(server.stderrText)")
        let url = "http://127.0.0.1:\(port)/ping/\(NotifierTests.secret)"
        // A proxy from the environment must not swallow a request to 127.0.0.1.
        let sender = CurlPingSender(environment: ["NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"])
        let warnings = Lines()
        let n = Notifier(config: NotifyConfig(pingURL: url, pingTimeout: 5), sender: sender, warn: { warnings.append($0) })!

        let out = Lines(), err = Lines()
        XCTAssertEqual(ScheduledRun(operation: "backup", logFormat: .json, notifier: n, writeLine: { out.append($0) }, writeError: { err.append($0) })
            .run { JobResult(artifact: "a.sql.gz", bytes: 1, output: "stored a.sql.gz") }, 0)
        XCTAssertEqual(ScheduledRun(operation: "restore-test", logFormat: .json, notifier: n, writeLine: { out.append($0) }, writeError: { err.append($0) })
            .run { throw Failure("infra-core: validation failed: 3 tables differ", hint: "read the receipt") }, 1)
        XCTAssertEqual(warnings.all, [], "every ping was delivered")

        let requests = try String(contentsOfFile: record, encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(requests.map { $0["path"] as? String }, ["/ping/\(NotifierTests.secret)/start", "/ping/\(NotifierTests.secret)",
                                                               "/ping/\(NotifierTests.secret)/start", "/ping/\(NotifierTests.secret)/fail"])
        XCTAssertEqual(requests.map { $0["method"] as? String }, ["GET", "POST", "GET", "POST"])
        XCTAssertEqual(requests[1]["body"] as? String, "stored a.sql.gz")
        let failBody = try XCTUnwrap(requests[3]["body"] as? String)
        XCTAssertTrue(failBody.contains("error: infra-core: validation failed: 3 tables differ\nhint: read the receipt"), failBody)
        XCTAssertTrue(failBody.contains("exit code 1"), failBody)
        XCTAssertEqual(requests[3]["contentType"] as? String, "text/plain; charset=utf-8")
        // The server looked at /proc while curl waited for its answer: curl was there, the secret not.
        for r in requests {
            let curls = try XCTUnwrap(r["curls"] as? [[String]])
            XCTAssertFalse(curls.isEmpty, "the server saw no curl process: \(r)")
            for argv in curls { XCTAssertFalse(argv.joined(separator: " ").contains(NotifierTests.secret), "\(argv)") }
        }

        // The server is gone: the port is closed, the ping fails fast, the run's exit code stands.
        server.terminate(grace: 2)
        serverRunning = false
        let began = Date()
        XCTAssertEqual(ScheduledRun(operation: "backup", logFormat: .text, notifier: n, writeLine: { _ in }, writeError: { err.append($0) })
            .run { JobResult() }, 0)
        XCTAssertLessThan(Date().timeIntervalSince(began), 20, "a refused connection is not retried for long")
        XCTAssertEqual(warnings.all.count, 2, warnings.text)
        for w in warnings.all {
            XCTAssertFalse(w.contains("\n"), w)
            XCTAssertTrue(w.hasPrefix("warning: heartbeat ping ("), w)
            XCTAssertTrue(w.contains("to http://127.0.0.1:\(port)/… failed: curl: (7)"), w)
            XCTAssertFalse(w.contains(NotifierTests.secret), w)
        }
    }
}
