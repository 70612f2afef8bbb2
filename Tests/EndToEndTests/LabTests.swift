import Foundation
import XCTest

/// End-to-end checks of the lab itself (deploy/lab/lab up): the hosts, the
/// operator's SSH setup, the runbook's compose stack and the sample data.
/// Run as root with the lab up; without it they skip (or fail when CI=true).
final class LabTests: XCTestCase {

    // MARK: SSH: the operator reaches both hosts by alias

    func testOperatorReachesInfraCoreByAlias() throws {
        try Lab.require()
        try checkAlias(Lab.infraAlias, program: Lab.agentBinary)
    }

    func testOperatorReachesNASByAlias() throws {
        try Lab.require()
        try checkAlias(Lab.nasAlias, program: Lab.receiverBinary)
    }

    private func checkAlias(_ alias: String, program: String, file: StaticString = #filePath, line: UInt = #line) throws {
        if FileManager.default.isExecutableFile(atPath: program) {
            // The forced command runs the remote program, which speaks first:
            // a 4-byte big-endian length, then JSON with "type":"hello".
            let payload = try firstFrame(alias: alias)
            let text = String(decoding: payload, as: UTF8.self)
            let object = try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any]
            XCTAssertEqual(object?["type"] as? String, "hello", "first frame from \(alias) is not a hello: \(text)",
                           file: file, line: line)
        } else {
            // Binaries not installed yet: the forced command cannot run (exit
            // 127), but ssh must authenticate and verify the host key (else 255).
            let r = try Lab.runAsOperator(["ssh"] + Lab.strictSSH + [alias, "true"], timeout: 30)
            XCTAssertNotEqual(r.status, 255, "ssh to \(alias) failed to connect/authenticate: \(r)", file: file, line: line)
            XCTAssertFalse(r.stderr.contains("Permission denied"), "\(r)", file: file, line: line)
        }
    }

    /// Reads the first frame the remote program sends over `ssh ALIAS`, with a deadline.
    private func firstFrame(alias: String, timeout: TimeInterval = 30) throws -> [UInt8] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = Lab.asUser(Lab.operatorUser, home: Lab.operatorHome) + ["ssh"] + Lab.strictSSH + [alias]
        let stdinPipe = Pipe(), stdoutPipe = Pipe(), stderrPipe = Pipe()
        p.standardInput = stdinPipe
        p.standardOutput = stdoutPipe
        p.standardError = stderrPipe
        let buffer = LockedBuffer(), errBuffer = LockedBuffer()
        stdoutPipe.fileHandleForReading.readabilityHandler = { h in buffer.append(h.availableData) }
        stderrPipe.fileHandleForReading.readabilityHandler = { h in errBuffer.append(h.availableData) }
        try p.run()
        defer {
            stdoutPipe.fileHandleForReading.readabilityHandler = nil
            stderrPipe.fileHandleForReading.readabilityHandler = nil
            try? stdinPipe.fileHandleForWriting.close()
            if p.isRunning { p.terminate() }
            p.waitUntilExit()
        }
        var payload: [UInt8]?
        try Lab.waitUntil("a complete first frame from \(alias)", timeout: timeout, interval: 0.05) {
            let bytes = buffer.bytes
            if bytes.count >= 4 {
                let n = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
                guard n > 0, n <= 1 << 20 else {
                    throw LabError("first 4 bytes from \(alias) are not a plausible frame length (\(n)): "
                                   + String(decoding: bytes.prefix(80), as: UTF8.self))
                }
                if bytes.count >= 4 + n { payload = Array(bytes[4..<(4 + n)]); return true }
            }
            if !p.isRunning {
                throw LabError("ssh \(alias) exited \(p.terminationStatus) after \(bytes.count) bytes; stderr: "
                               + String(decoding: errBuffer.bytes, as: UTF8.self))
            }
            return false
        }
        return payload!
    }

    func testHostKeysAreVerifiedAgainstHashedEd25519KnownHosts() throws {
        try Lab.require()
        let path = Lab.operatorHome + "/.ssh/known_hosts"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
        XCTAssertEqual(lines.count, 2, "known_hosts should hold exactly the two lab hosts: \(text)")
        for l in lines {
            let fields = l.split(separator: " ")
            XCTAssertTrue(l.hasPrefix("|1|"), "known_hosts entry is not hashed: \(l)")
            XCTAssertEqual(fields.count > 1 ? String(fields[1]) : "", "ssh-ed25519", "known_hosts entry is not ed25519: \(l)")
        }
        // With no known host keys, StrictHostKeyChecking=yes must refuse (exit 255).
        let r = try Lab.runAsOperator(["ssh"] + Lab.strictSSH + ["-o", "UserKnownHostsFile=/dev/null", Lab.infraAlias, "true"],
                                      timeout: 30)
        XCTAssertEqual(r.status, 255, "ssh accepted an unknown host key: \(r)")
        XCTAssertTrue(r.stderr.contains("Host key verification failed"), "\(r)")
    }

    // MARK: the compose stack (runbook: docker compose stop / up -d)

    func testComposeStopAndUpServer() throws {
        try Lab.require()
        defer { _ = try? Lab.runAsAgentInStack(["docker", "compose", "up", "-d", "authentik-server"]) }
        XCTAssertEqual(try Lab.containerState("authentik-server"), "running")

        let stop = try Lab.runAsAgentInStack(["docker", "compose", "stop", "authentik-server"])
        XCTAssertTrue(stop.ok, "\(stop)")
        try Lab.waitUntil("authentik-server exited", timeout: 30) { try Lab.containerState("authentik-server") == "exited" }

        let up = try Lab.runAsAgentInStack(["docker", "compose", "up", "-d", "authentik-server"])
        XCTAssertTrue(up.ok, "\(up)")
        try Lab.waitUntil("authentik-server running", timeout: 30) { try Lab.containerState("authentik-server") == "running" }
        let ip = try Lab.containerIP("authentik-server")
        try Lab.waitUntil("authentik-server answers /-/health/live/", timeout: 30) {
            try Lab.httpStatusFromInfra("http://\(ip):9000/-/health/live/") == 200
        }
    }

    func testReadyEndpointFollowsDatabase() throws {
        try Lab.require()
        defer { _ = try? Lab.runAsAgentInStack(["docker", "compose", "start", "authentik-postgres"]) }
        let ip = try Lab.containerIP("authentik-server")
        let ready = "http://\(ip):9000/-/health/ready/", live = "http://\(ip):9000/-/health/live/"
        try Lab.waitUntil("ready endpoint 200 before the test", timeout: 60) { try Lab.httpStatusFromInfra(ready) == 200 }

        let stop = try Lab.runAsAgentInStack(["docker", "compose", "stop", "authentik-postgres"])
        XCTAssertTrue(stop.ok, "\(stop)")
        XCTAssertEqual(try Lab.containerState("authentik-postgres"), "exited")
        try Lab.waitUntil("ready endpoint 503 with the database stopped", timeout: 30) {
            try Lab.httpStatusFromInfra(ready) == 503
        }
        XCTAssertEqual(try Lab.httpStatusFromInfra(live), 200, "live must not depend on the database")

        let start = try Lab.runAsAgentInStack(["docker", "compose", "start", "authentik-postgres"])
        XCTAssertTrue(start.ok, "\(start)")
        try Lab.waitUntil("ready endpoint 200 after the database is back", timeout: 60) {
            try Lab.httpStatusFromInfra(ready) == 200
        }
        try Lab.waitUntil("authentik-postgres healthy again", timeout: 60) { try Lab.containerHealth("authentik-postgres") == "healthy" }
    }

    // MARK: sample data

    func testSampleDataKeyTablesAreNonEmpty() throws {
        try Lab.require()
        try Lab.waitUntil("authentik-postgres accepts queries", timeout: 60) { try Lab.psql("select 1").stdout.hasPrefix("1") }
        let present = try Lab.psql("select to_regclass('public.authentik_events_event') is not null "
                                   + "and exists (select 1 from public.authentik_core_user)")
        if present.stdout.trimmingCharacters(in: .whitespacesAndNewlines) != "t" {
            let load = try Lab.run([Lab.sampleDataScript, "--scale", "1"], timeout: 300)
            XCTAssertTrue(load.ok, "sample-data failed: \(load)")
        }
        for table in ["authentik_core_user", "authentik_core_group", "authentik_core_user_ak_groups",
                      "authentik_core_application", "authentik_core_token", "authentik_flows_flow",
                      "authentik_events_event", "django_migrations", "authentik_version_history",
                      "template.authentik_core_user"] {
            let r = try Lab.psql("select count(*) from \(table)")
            XCTAssertTrue(r.ok, "\(r)")
            XCTAssertGreaterThan(Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, 0, "\(table) is empty")
        }
        let version = try Lab.psql("select version from authentik_version_history order by timestamp desc limit 1")
        XCTAssertFalse(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(version)")
        let lo = try Lab.psql("select count(*) from pg_largeobject_metadata")
        XCTAssertGreaterThan(Int(lo.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, 0, "no large object")
        let names = try Lab.psql("select name from authentik_core_user where username in ('ærø', 'tokyo') order by id")
        XCTAssertEqual(names.stdout, "Åse Ærøskøbing\n東京 太郎\n", "non-ASCII text did not round-trip")
    }
}

/// Bytes appended from a FileHandle callback thread, read from the test thread.
final class LockedBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data: [UInt8] = []
    func append(_ d: Data) { lock.lock(); data.append(contentsOf: d); lock.unlock() }
    var bytes: [UInt8] { lock.lock(); defer { lock.unlock() }; return data }
}
