import AKProtocol
import ControllerCore
import Foundation
import SSHTransport
import Transport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// End-to-end tests of the SSH transport, `akbackup doctor` and `akbackup trust`, run as the
/// operator with the installed controller (Lab.controllerBinary) through the aliases of the
/// operator's real ~/.ssh/config. The fault aliases (`infra-core-banner`, `-v99`, `-missing`,
/// `-cut`, `-stall`, `-rsa`, `-wronguser`, `-unknownkey`, `-changedkey`, `-trust`) and their
/// server-side forced commands come from `deploy/lab/lab up` (section "fault fixtures").
///
/// Each fault is checked twice: `akbackup list` with the fault alias as the receiver host (it
/// fails fast with `error:` + `hint:` and the documented exit code; every one of these faults
/// happens before the remote's role is known, so an infra-core alias serves as receiver), and
/// `akbackup doctor` with it as the agent host (a FAIL line with its hint, exit 1, the NAS ok).
final class TransportE2ETests: XCTestCase {
    static let controller = Lab.controllerBinary
    var ssh: String { Lab.operatorHome + "/.ssh" }

    override func setUpWithError() throws {
        try Lab.require()
        removeWhatThisTestStores()
        guard FileManager.default.isExecutableFile(atPath: Self.controller), Lab.binariesInstalled else {
            let message = "akbackup binaries are not installed in the lab; run: deploy/package && deploy/lab/lab install"
            if Lab.isCI { throw LabError(message) }
            throw XCTSkip(message)
        }
        // The fault fixtures of `lab up`; an older lab has none.
        let config = (try? String(contentsOfFile: ssh + "/config", encoding: .utf8)) ?? ""
        guard config.contains("Host infra-core-banner"), config.contains("Host infra-core-trust") else {
            let message = "the lab has no fault aliases in \(ssh)/config; rerun deploy/lab/lab up"
            if Lab.isCI { throw LabError(message) }
            throw XCTSkip(message)
        }
    }

    // MARK: doctor and config on the real aliases

    func testDoctorPassesOnRealAliases() throws {
        let config = try configFile(agent: Lab.infraAlias, receiver: Lab.nasAlias)
        let text = try akbackup(["doctor"], config: config)
        XCTAssertEqual(text.status, 0, "\(text)")
        XCTAssertTrue(text.stdout.hasSuffix("all checks passed\n"), "\(text)")
        XCTAssertFalse(text.stdout.contains("FAIL"), "\(text)")

        let json = try akbackup(["doctor", "--json"], config: config)
        XCTAssertEqual(json.status, 0, "\(json)")
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["ok"] as? Bool, true, "\(json)")
        let hosts = object?["hosts"] as? [[String: Any]] ?? []
        XCTAssertEqual(hosts.map { $0["role"] as? String }, ["agent", "receiver"], "\(json)")
        XCTAssertEqual(hosts.map { $0["host"] as? String }, [Lab.infraAlias, Lab.nasAlias], "\(json)")
        for host in hosts {
            XCTAssertEqual(host["ok"] as? Bool, true, "\(host)")
            let checks = host["checks"] as? [[String: Any]] ?? []
            let byName = Dictionary(checks.map { ($0["name"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
            // The host key was verified against the hashed ed25519 known_hosts, by public key.
            XCTAssertTrue((byName["host key"]?["detail"] as? String ?? "").hasPrefix("ssh-ed25519 SHA256:"), "\(host)")
            XCTAssertTrue((byName["host key"]?["detail"] as? String ?? "").hasSuffix("(match)"), "\(host)")
            XCTAssertEqual(byName["auth"]?["detail"] as? String, "publickey (~/.ssh/id_ed25519)", "\(host)")
            XCTAssertTrue((byName["remote program"]?["detail"] as? String ?? "")
                            .contains("protocol \(AKVersion.protocolVersion)"), "\(host)")
            XCTAssertTrue(checks.allSatisfy { $0["ok"] as? Bool == true }, "\(host)")
        }
    }

    func testUnknownConfigKeyIsAUsageErrorNamingKeyAndFile() throws {
        let config = try configFile("[agent]\nhost = \"infra-core\"\nhots = \"nas\"\n")
        let r = try akbackup(["doctor"], config: config)
        XCTAssertEqual(r.status, 2, "\(r)")
        XCTAssertEqual(r.stdout, "", "doctor must not run with a bad config: \(r)")
        XCTAssertTrue(r.stderr.contains("error: \(config):3: unknown key \"agent.hots\""), "\(r)")
        XCTAssertTrue(hintLine(r.stderr)?.contains("agent.host") ?? false, "\(r)")
    }

    // MARK: each fault gives its own error

    func testUnknownHostKey() throws {
        try assertFault("infra-core-unknownkey", exit: 3,
                        error: ["host key for \(Lab.infraAddress) is not known", "the server offered ssh-ed25519 SHA256:",
                                "(checked ~/.ssh/known_hosts.empty)"],
                        hint: ["akbackup trust infra-core-unknownkey", ">> ~/.ssh/known_hosts.empty"])
    }

    func testChangedHostKey() throws {
        try assertFault("infra-core-changedkey", exit: 3,
                        error: ["REMOTE HOST IDENTIFICATION HAS CHANGED",
                                "The ssh-ed25519 host key for \(Lab.infraAddress) is now \(try serverFingerprint())",
                                "Offending ssh-ed25519 key in ~/.ssh/known_hosts.changed:1"],
                        hint: ["ssh-keygen -R \(Lab.infraAddress) -f ~/.ssh/known_hosts.changed", "otherwise do not connect"])
    }

    func testRSAOnlyKeyFailsWithTheLibssh2Hint() throws {
        try assertFault("infra-core-rsa", exit: 3,
                        error: ["\(Lab.agentUser)@\(Lab.infraAddress): permission denied (publickey)",
                                "tried ~/.ssh/fault_rsa (ssh-rsa)"],
                        hint: ["libssh2 1.10 can only sign with ssh-rsa (SHA-1)", "ssh-keygen -t ed25519"])
        // The key itself is authorized: OpenSSH (which signs rsa-sha2-512) gets the agent's hello.
        // (tail drops the binary 4-byte frame length, which is not UTF-8)
        let openssh = try Lab.runAsOperator(["sh", "-c", "ssh \(Lab.strictSSH.joined(separator: " ")) infra-core-rsa | tail -c +5"],
                                            timeout: 30)
        XCTAssertTrue(openssh.stdout.contains("\"type\":\"hello\""), "the RSA key is not authorized on infra-core: \(openssh)")
    }

    func testWrongUser() throws {
        try assertFault("infra-core-wronguser", exit: 3,
                        error: ["nosuchuser@\(Lab.infraAddress): permission denied (publickey)", "tried ~/.ssh/id_ed25519 (ssh-ed25519)"],
                        hint: ["check that user nosuchuser exists on \(Lab.infraAddress)", "ssh -v infra-core-wronguser"])
    }

    func testMissingRemoteBinary() throws {
        try assertFault("infra-core-missing", exit: 4,
                        error: ["remote program not found (exit status 127)", "akbackup-agent-not-installed"],
                        hint: ["install the akbackup remote programs on \(Lab.infraAddress)"])
    }

    func testProtocolVersionMismatch() throws {
        try assertFault("infra-core-v99", exit: 4,
                        error: ["protocol version mismatch: this side speaks \(AKVersion.protocolVersion), remote agent",
                                "speaks 99"],
                        hint: ["install the same akbackup version on the laptop and the remote host"])
    }

    func testBannerOnStdout() throws {
        try assertFault("infra-core-banner", exit: 4,
                        error: ["remote program printed non-protocol output", "Welcome to infra-core. Authorized use only."],
                        hint: ["login banner", "forced command in authorized_keys"])
    }

    func testConnectionCutMidFrame() throws {
        // The forced command announces a 100-byte frame, sends 10 bytes of it and exits.
        try assertFault("infra-core-cut", exit: 4,
                        error: ["protocol error: stream ended inside a frame (14 of 104 bytes)"],
                        hint: ["remote program"])
    }

    // MARK: akbackup trust

    func testTrustRefusesWithoutTerminalOrYes() throws {
        let file = ssh + "/known_hosts.trust"
        try emptyTrustFile()
        let config = try configFile(agent: "infra-core-trust", receiver: Lab.nasAlias)
        let r = try akbackup(["trust", "infra-core-trust"], config: config)   // stdin is /dev/null: no TTY
        XCTAssertEqual(r.status, 3, "\(r)")
        let fp = try serverFingerprint()
        XCTAssertTrue(r.stdout.contains("ssh-ed25519 key fingerprint is \(fp)."), "the fingerprint must be shown: \(r)")
        XCTAssertTrue(r.stderr.hasPrefix("error: infra-core-trust: not trusting \(fp) without a confirmation\n"), "\(r)")
        let hint = hintLine(r.stderr) ?? ""
        XCTAssertTrue(hint.contains("on a terminal") && hint.contains("--yes"), "\(r)")
        XCTAssertTrue(hint.contains("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub"), "\(r)")
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "", "trust wrote without a confirmation")
    }

    func testTrustWithYesAppendsHashedLineAndDoctorThenPasses() throws {
        let file = ssh + "/known_hosts.trust"
        try emptyTrustFile()
        let config = try configFile(agent: "infra-core-trust", receiver: Lab.nasAlias)

        let before = try akbackup(["doctor"], config: config)
        XCTAssertEqual(before.status, 1, "\(before)")
        XCTAssertTrue(before.stdout.contains("is not known"), "\(before)")

        let fp = try serverFingerprint()
        let r = try akbackup(["trust", "infra-core-trust", "--yes"], config: config)
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertTrue(r.stdout.contains("added ssh-ed25519 \(fp) for \(Lab.infraAddress) to \(file) (hashed)"), "\(r)")

        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "\(lines)")
        let fields = lines.first.map { $0.split(separator: " ").map(String.init) } ?? []
        XCTAssertEqual(fields.count, 3, "\(lines)")
        XCTAssertTrue(fields.first?.hasPrefix("|1|") ?? false, "not hashed: \(lines)")
        XCTAssertFalse(lines.first?.contains(Lab.infraAddress) ?? true, "the host name is in clear: \(lines)")
        XCTAssertEqual(Array(fields.dropFirst()), try serverKey(), "not the server's ed25519 key: \(lines)")
        // OpenSSH finds it under the HostName, and accepts the host with only this file.
        let found = try Lab.run(["ssh-keygen", "-F", Lab.infraAddress, "-f", file], timeout: 30)
        XCTAssertTrue(found.ok && found.stdout.contains("ssh-ed25519"), "\(found)")
        let attrs = try FileManager.default.attributesOfItem(atPath: file)
        XCTAssertEqual(attrs[.ownerAccountName] as? String, Lab.operatorUser)

        let after = try akbackup(["doctor"], config: config)
        XCTAssertEqual(after.status, 0, "doctor after trust: \(after)")
        XCTAssertTrue(after.stdout.contains("ssh-ed25519 \(fp) (match)"), "\(after)")

        let again = try akbackup(["trust", "infra-core-trust", "--yes"], config: config)
        XCTAssertEqual(again.status, 0, "\(again)")
        XCTAssertTrue(again.stdout.contains("is already trusted"), "\(again)")
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").count, 1, "trusted twice")
    }

    func testTrustRefusesAChangedKeyNamingTheLine() throws {
        let file = ssh + "/known_hosts.changed"
        let original = try String(contentsOfFile: file, encoding: .utf8)
        let config = try configFile(agent: "infra-core-changedkey", receiver: Lab.nasAlias)
        let r = try akbackup(["trust", "infra-core-changedkey", "--yes"], config: config)
        XCTAssertEqual(r.status, 3, "\(r)")
        let fp = try serverFingerprint()
        XCTAssertTrue(r.stderr.hasPrefix("error: infra-core-changedkey: the ssh-ed25519 key of \(Lab.infraAddress) is now \(fp) but \(file):1 holds another one\n"),
                      "\(r)")
        XCTAssertTrue(hintLine(r.stderr)?.contains("ssh-keygen -R \(Lab.infraAddress) -f \(file)") ?? false, "\(r)")
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), original, "trust changed the file")
    }

    // MARK: a dead link is noticed in bounded time

    /// The ssh config sets no ServerAliveInterval and the idle timeout is long: only the
    /// controller's default keepalive (15 s × 3) can notice that the server stopped answering.
    func testDeadLinkWhileWaitingIsDetectedByDefaultKeepalive() throws {
        let g = try Lab.runAsOperator(["ssh", "-G", "infra-core-stall"], timeout: 30)
        XCTAssertTrue(g.stdout.contains("\nserveraliveinterval 0\n"), "the alias must not set a keepalive: \(g)")
        let marker = "stall-\(UUID().uuidString.prefix(8))"
        let config = try configFile("[receiver]\nhost = \"infra-core-stall\"\ncommand = \"\(marker)\"\n[ssh]\nidle_timeout = 900\n")
        let list = try TransportBackground(Lab.asUser(Lab.operatorUser, home: Lab.operatorHome)
                                  + [Self.controller, "list", "--config", config])
        defer { list.stop() }
        let remote = try waitForStalledSession(marker: marker)
        defer { kill(remote.pid, SIGKILL) }
        let cut = try TransportCut(localPort: remote.peerPort)
        defer { cut.restore() }
        let started = Date()
        let r = try list.wait(timeout: 120)
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(r.status, 3, "\(r)")
        XCTAssertTrue(r.stderr.hasPrefix("error: infra-core-stall: "), "\(r)")
        XCTAssertTrue(r.stderr.contains("no answer from the server for 45s (ServerAliveInterval 15 × ServerAliveCountMax 3)"), "\(r)")
        XCTAssertTrue(hintLine(r.stderr)?.contains("check the network path to \(Lab.infraAddress)") ?? false, "\(r)")
        XCTAssertLessThan(elapsed, 90, "dead link noticed too late")
    }

    /// The controller is blocked in write() (the remote does not read: the SSH window and our
    /// queue are full) when the link dies: the keepalive must end the write, not leave it hanging.
    func testDeadLinkWhileWritingTimesOut() throws {
        let g = try Lab.runAsOperator(["ssh", "-G", "infra-core-stall"], timeout: 30)
        XCTAssertTrue(g.ok, "\(g)")
        var endpoint = try SSHConfigResolver.parseSSHG(g.stdout, alias: "infra-core-stall",
                                                       home: Lab.operatorHome, localUser: Lab.operatorUser)
        endpoint = SSHConnector.effectiveEndpoint(endpoint, config: ControllerConfig())
        XCTAssertEqual(endpoint.serverAliveInterval, SSHConnector.defaultServerAliveInterval)
        endpoint.serverAliveInterval = 1      // the mechanism, quickly: 1 s × 2
        endpoint.serverAliveCountMax = 2
        var options = SSHOptions()
        options.idleTimeout = 0               // only the keepalive may end this
        let marker = "stall-\(UUID().uuidString.prefix(8))"
        let connection = try SSHConnection.open(endpoint: endpoint, command: marker, options: options)
        defer { connection.close() }
        let remote = try waitForStalledSession(marker: marker)
        defer { kill(remote.pid, SIGKILL) }

        let done = DispatchSemaphore(value: 0)
        let outcome = TransportBox<Error?>(nil)
        let written = TransportBox<Int>(0)
        Thread.detachNewThread {
            let chunk = [UInt8](repeating: 0x41, count: 256 << 10)
            do {
                for _ in 0..<256 {
                    try connection.write(chunk)
                    written.set(written.get() + chunk.count)
                }
            } catch {
                outcome.set(error)
            }
            done.signal()
        }
        // Link alive, remote not reading: 64 MiB cannot fit in sshd's window, the pipe and our
        // queue, so write() blocks; keepalives are answered, so it must stay blocked (not
        // "dead") for well over the 3 s that silence would take.
        XCTAssertEqual(done.wait(timeout: .now() + 8), .timedOut,
                       "write() ended on a live link: \(String(describing: outcome.get()))")
        XCTAssertGreaterThan(written.get(), 0, "nothing was written")
        let cut = try TransportCut(localPort: remote.peerPort)
        defer { cut.restore() }
        let started = Date()
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success, "write() still blocked 30 s after the link died")
        XCTAssertLessThan(written.get(), 64 << 20, "all 64 MiB were accepted although nothing was delivered")
        XCTAssertLessThan(Date().timeIntervalSince(started), 15)
        let error = outcome.get() as? TransportError
        XCTAssertEqual(error?.kind, .io, "\(String(describing: outcome.get()))")
        XCTAssertTrue(error?.message.contains("no answer from the server") ?? false, "\(String(describing: error))")
        XCTAssertEqual(ExitStatus.of(error ?? TransportError(.closed, host: "", "", hint: "")), .unreachable)
    }

    // MARK: helpers

    /// `list` with the alias as receiver (error + hint + exit code) and `doctor` with it as the
    /// agent (its FAIL line and hint; the NAS still passes; exit 1).
    private func assertFault(_ alias: String, exit: Int32, error: [String], hint: [String],
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let listConfig = try configFile(agent: Lab.infraAlias, receiver: alias)
        let r = try akbackup(["list"], config: listConfig)
        XCTAssertEqual(r.status, exit, "list via \(alias): \(r)", file: file, line: line)
        XCTAssertEqual(r.stdout, "", "\(r)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("error: \(alias): "), "\(r)", file: file, line: line)
        for e in error { XCTAssertTrue(r.stderr.contains(e), "stderr lacks \"\(e)\": \(r)", file: file, line: line) }
        let h = hintLine(r.stderr)
        XCTAssertNotNil(h, "no hint line: \(r)", file: file, line: line)
        for e in hint { XCTAssertTrue(h?.contains(e) ?? false, "hint lacks \"\(e)\": \(r)", file: file, line: line) }

        let doctorConfig = try configFile(agent: alias, receiver: Lab.nasAlias)
        let d = try akbackup(["doctor"], config: doctorConfig)
        XCTAssertEqual(d.status, 1, "doctor via \(alias): \(d)", file: file, line: line)
        let out = d.stdout
        guard let agentPart = out.range(of: "\(alias) (agent)\n"), let nasPart = out.range(of: "\(Lab.nasAlias) (receiver)\n") else {
            return XCTFail("doctor output lacks a host section: \(d)", file: file, line: line)
        }
        let agentText = String(out[agentPart.upperBound..<nasPart.lowerBound])
        let nasText = String(out[nasPart.upperBound...])
        XCTAssertTrue(agentText.hasPrefix("  FAIL  reach agent"), "\(d)", file: file, line: line)
        for e in error { XCTAssertTrue(agentText.contains(e), "doctor lacks \"\(e)\": \(d)", file: file, line: line) }
        let doctorHint = agentText.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("hint: ") })
        for e in hint { XCTAssertTrue(doctorHint?.contains(e) ?? false, "doctor hint lacks \"\(e)\": \(d)", file: file, line: line) }
        XCTAssertFalse(nasText.contains("FAIL"), "the NAS should pass: \(d)", file: file, line: line)
        XCTAssertTrue(out.hasSuffix("some checks failed\n"), "\(d)", file: file, line: line)
    }

    private func hintLine(_ stderr: String) -> String? {
        stderr.split(separator: "\n").first(where: { $0.hasPrefix("hint: ") }).map(String.init)
    }

    @discardableResult
    private func akbackup(_ args: [String], config: String, timeout: TimeInterval = 120) throws -> CommandResult {
        try Lab.runAsOperator([Self.controller] + args + ["--config", config], timeout: timeout)
    }

    private func configFile(agent: String, receiver: String) throws -> String {
        try configFile("[agent]\nhost = \"\(agent)\"\n\n[receiver]\nhost = \"\(receiver)\"\n")
    }

    /// A controller config the operator can read, removed after the test.
    private func configFile(_ toml: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("akbackup-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("config.toml").path
        try toml.write(toFile: path, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        return path
    }

    /// Empties ~/.ssh/known_hosts.trust in place (owner and mode stay the operator's), now and after the test.
    private func emptyTrustFile() throws {
        let path = ssh + "/known_hosts.trust"
        guard truncate(path, 0) == 0 else { throw LabError("cannot truncate \(path): \(String(cString: strerror(errno)))") }
        addTeardownBlock { _ = truncate(path, 0) }
    }

    private var hostKeyPub: String { "/var/lib/akbackup-lab/sshd/\(Lab.infraNamespace)/ssh_host_ed25519_key.pub" }

    /// ["ssh-ed25519", base64] of infra-core's host key, from the lab's key file.
    private func serverKey() throws -> [String] {
        Array(try String(contentsOfFile: hostKeyPub, encoding: .utf8).split(separator: " ").prefix(2).map(String.init))
    }

    private func serverFingerprint() throws -> String {
        let r = try Lab.run(["ssh-keygen", "-l", "-E", "sha256", "-f", hostKeyPub], timeout: 30)
        guard r.ok, let fp = r.stdout.split(separator: " ").dropFirst().first else { throw LabError("\(r)") }
        return String(fp)
    }

    /// The `fault-stall` program on infra-core whose SSH_ORIGINAL_COMMAND is `marker`, and the
    /// controller-side port of its TCP connection (from its sshd's socket, in infra-core's namespace).
    private func waitForStalledSession(marker: String) throws -> (pid: pid_t, peerPort: Int) {
        var found: (pid_t, Int)?
        try Lab.waitUntil("the fault-stall session \(marker) on infra-core", timeout: 30) {
            guard let pid = Self.processes(user: Lab.agentUser).first(where: { pid in
                ((try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))) ?? Data())
                    .split(separator: 0).contains(Data("SSH_ORIGINAL_COMMAND=\(marker)".utf8))
            }) else { return false }
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            guard let close = stat.lastIndex(of: ")"),
                  let ppid = stat[stat.index(after: close)...].split(separator: " ").dropFirst().first.flatMap({ Int32($0) })
            else { return false }
            let ss = try Lab.run(["ip", "netns", "exec", Lab.infraNamespace, "ss", "-tnpH", "state", "established"], timeout: 30)
            for row in ss.stdout.split(separator: "\n") where row.contains("pid=\(ppid),") {
                let peer = row.split(separator: " ").first(where: { $0.hasPrefix(Lab.infraPeer + ":") })
                if let port = peer.flatMap({ Int($0.split(separator: ":").last ?? "") }) {
                    found = (pid, port)
                    return true
                }
            }
            return false
        }
        return (found!.0, found!.1)
    }

    private static func processes(user: String) -> [pid_t] {
        guard let pw = getpwnam(user) else { return [] }
        let uid = pw.pointee.pw_uid
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            var st = stat()
            return stat("/proc/\(pid)", &st) == 0 && st.st_uid == uid
        }
    }
}

extension Lab {
    /// The root-namespace address of infra-core's link (the controller's side).
    static let infraPeer = "10.77.0.1"
}

/// Drops everything infra-core's sshd sends to one local port: that one TCP connection goes
/// silent (a cut cable) while every other session in the lab keeps working.
private final class TransportCut {
    let spec: [String]
    private var active = true

    init(localPort: Int) throws {
        spec = ["INPUT", "-s", Lab.infraAddress, "-p", "tcp", "--sport", "22", "--dport", String(localPort), "-j", "DROP"]
        let r = try Lab.run(["iptables", "-I"] + spec, timeout: 30)
        guard r.ok else { throw LabError("cannot cut the connection: \(r)") }
    }

    func restore() {
        guard active else { return }
        active = false
        _ = try? Lab.run(["iptables", "-D"] + spec, timeout: 30)
    }

    deinit { restore() }
}

/// A program running while the test acts on it; output goes to files.
private final class TransportBackground {
    let process = Process()
    let argv: [String]
    let outURL: URL, errURL: URL

    init(_ argv: [String]) throws {
        self.argv = argv
        let tmp = FileManager.default.temporaryDirectory
        outURL = tmp.appendingPathComponent("akbg-out-\(UUID().uuidString)")
        errURL = tmp.appendingPathComponent("akbg-err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
    }

    func wait(timeout: TimeInterval) throws -> CommandResult {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline { throw LabError("still running after \(Int(timeout))s: \(argv.joined(separator: " "))") }
            usleep(50_000)
        }
        process.waitUntilExit()
        return CommandResult(argv: argv, status: process.terminationStatus,
                             stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                             stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }

    func stop() {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
        try? FileManager.default.removeItem(at: outURL)
        try? FileManager.default.removeItem(at: errURL)
    }
}

private final class TransportBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func get() -> T { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
}
