import Foundation
import XCTest
import Transport
@testable import SSHTransport

/// Conformance and SSH-specific cases against a private sshd.
final class SSHTransportTests: XCTestCase {
    nonisolated(unsafe) static var harness: SSHDHarness?
    nonisolated(unsafe) static var harnessError: Error?

    override class func setUp() {
        super.setUp()
        do { harness = try SSHDHarness() } catch { harnessError = error }
    }

    override class func tearDown() {
        harness?.stop()
        harness = nil
        super.tearDown()
    }

    func h() throws -> SSHDHarness {
        if let e = Self.harnessError { throw e }
        return try XCTUnwrap(Self.harness)
    }

    var suite: ConformanceSuite {
        let harness = Self.harness, failure = Self.harnessError
        return ConformanceSuite(factory: ChannelFactory(reportsTermination: true) { peer in
            if let failure { throw failure }
            let h = try XCTUnwrap(harness)
            return try SSHConnection.open(endpoint: try h.endpoint(), command: peer.command)
        })
    }

    func testRoundTripSmall() throws { try suite.roundTripSmall() }
    func testRoundTripLargeFullDuplex() throws { try suite.roundTripLargeFullDuplex() }
    func testEOFAfterCloseWrite() throws { try suite.eofAfterCloseWrite() }
    func testReadAfterPeerExitIsEmpty() throws { try suite.readAfterPeerExitIsEmpty() }
    func testExitStatusCollected() throws { try suite.exitStatusCollected() }
    func testStderrTailCaptured() throws { try suite.stderrTailCaptured() }
    func testWriteToDeadPeerThrows() throws { try suite.writeToDeadPeerThrows() }
    func testReadWithTimeoutGivesUp() throws { try suite.readWithTimeoutGivesUp() }

    // MARK: SSH specifics

    func testPrefersKnownEd25519KeyAndReportsAuth() throws {
        let h = try h()
        let ep = try h.endpoint()
        XCTAssertEqual(ep.port, h.port)
        XCTAssertEqual(ep.identityFiles, [h.clientKey])
        XCTAssertEqual(ep.identityAgent, "none")
        XCTAssertEqual(ep.serverAliveInterval, 2)
        let c = try SSHConnection.open(endpoint: ep, command: "cat")
        defer { c.close() }
        // sshd offers ecdsa too; libssh2 1.10 would pick it without our preference
        XCTAssertEqual(c.hostKeyType, "ssh-ed25519")
        XCTAssertEqual(c.hostKeyStatus, .match)
        XCTAssertEqual(c.authMethod, "publickey (\(h.clientKey))")
        XCTAssertEqual(c.remoteAddress, "127.0.0.1:\(h.port)")
        XCTAssertEqual(c.hostKeyFingerprint, try fingerprintOf(h.hostKeyEd25519Pub))
    }

    private func fingerprintOf(_ pubFile: String) throws -> String {
        let out = try SSHDHarness.mustRun(["/usr/bin/ssh-keygen", "-l", "-f", pubFile])
        return String(out.split(separator: " ")[1])
    }

    func testUnknownHostKeyGivesFingerprintAndHint() throws {
        let h = try h()
        let empty = h.dir + "/known_hosts_empty"
        FileManager.default.createFile(atPath: empty, contents: Data())
        let cfg = h.dir + "/cfg_unknown"
        try h.writeClientConfig(extra: "", file: cfg, knownHostsFile: empty)
        XCTAssertThrowsError(try SSHConnection.open(endpoint: try h.endpoint(configFile: cfg), command: "cat")) { e in
            guard let te = e as? TransportError else { return XCTFail("\(e)") }
            XCTAssertEqual(te.kind, .hostKeyUnknown, te.description)
            XCTAssertTrue(te.message.contains((try? self.fingerprintOf(h.hostKeyEd25519Pub)) ?? "?"), te.description)
            XCTAssertTrue(te.message.contains("ssh-ed25519"))
            XCTAssertTrue(te.hint.contains("ssh-keyscan -t ssh-ed25519 -p \(h.port) 127.0.0.1"), te.hint)
            XCTAssertTrue(te.hint.contains("akbackup trust \(h.alias)"), te.hint)
        }
    }

    func testChangedHostKeyNamesTheLine() throws {
        let h = try h()
        let other = h.dir + "/other_host_key"
        try SSHDHarness.mustRun(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", other])
        let otherPub = try String(contentsOfFile: other + ".pub", encoding: .utf8).split(separator: " ")
        let kh = h.dir + "/known_hosts_changed"
        try """
        # unrelated entries first
        other.example ssh-ed25519 \(otherPub[1])
        [127.0.0.1]:\(h.port) ssh-ed25519 \(otherPub[1])

        """.write(toFile: kh, atomically: true, encoding: .utf8)
        let cfg = h.dir + "/cfg_changed"
        try h.writeClientConfig(extra: "", file: cfg, knownHostsFile: kh)
        XCTAssertThrowsError(try SSHConnection.open(endpoint: try h.endpoint(configFile: cfg), command: "cat")) { e in
            guard let te = e as? TransportError else { return XCTFail("\(e)") }
            XCTAssertEqual(te.kind, .hostKeyChanged, te.description)
            XCTAssertTrue(te.message.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"), te.description)
            XCTAssertTrue(te.message.contains("known_hosts_changed:3"), te.description)
        }
    }

    private func pubKey(_ file: String) throws -> (type: String, blob: String) {
        let f = try String(contentsOfFile: file, encoding: .utf8).split(separator: " ")
        return (String(f[0]), String(f[1]))
    }

    private func open(knownHosts text: String, name: String) throws -> SSHConnection {
        let h = try h()
        let kh = h.dir + "/known_hosts_\(name)"
        try text.write(toFile: kh, atomically: true, encoding: .utf8)
        let cfg = h.dir + "/cfg_\(name)"
        try h.writeClientConfig(extra: "", file: cfg, knownHostsFile: kh)
        return try SSHConnection.open(endpoint: try h.endpoint(configFile: cfg), command: "cat")
    }

    func testRevokedKeyIsRefusedEvenWhenAlsoKnown() throws {
        let h = try h()
        let key = try pubKey(h.hostKeyEd25519Pub)
        let text = "[127.0.0.1]:\(h.port) \(key.type) \(key.blob)\n@revoked * \(key.type) \(key.blob)\n"
        XCTAssertThrowsError(try open(knownHosts: text, name: "revoked")) { e in
            guard let te = e as? TransportError else { return XCTFail("\(e)") }
            XCTAssertEqual(te.kind, .hostKeyChanged, te.description)
            XCTAssertTrue(te.message.contains("@revoked") && te.message.contains("known_hosts_revoked:2"), te.description)
        }
    }

    func testCertificateAuthorityOnlyIsAClearNotSupported() throws {
        let h = try h()
        let other = h.dir + "/ca_key"
        if !FileManager.default.fileExists(atPath: other) {
            try SSHDHarness.mustRun(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", other])
        }
        let ca = try pubKey(other + ".pub")
        XCTAssertThrowsError(try open(knownHosts: "@cert-authority [127.0.0.1]:\(h.port) \(ca.type) \(ca.blob)\n", name: "ca")) { e in
            guard let te = e as? TransportError else { return XCTFail("\(e)") }
            XCTAssertEqual(te.kind, .hostKeyUnknown, te.description)
            XCTAssertTrue(te.message.contains("@cert-authority") && te.message.contains("cannot verify host certificates"), te.description)
        }
    }

    func testKnownWithAnotherKeyTypeOnlyIsChangedNotUnknown() throws {
        let h = try h()
        // known_hosts holds only an RSA key for the host; the server offers ed25519 or ecdsa.
        let other = h.dir + "/rsa_host_key"
        if !FileManager.default.fileExists(atPath: other) {
            try SSHDHarness.mustRun(["/usr/bin/ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", "", "-f", other])
        }
        let rsa = try pubKey(other + ".pub")
        XCTAssertThrowsError(try open(knownHosts: "[127.0.0.1]:\(h.port) \(rsa.type) \(rsa.blob)\n", name: "othertype")) { e in
            guard let te = e as? TransportError else { return XCTFail("\(e)") }
            XCTAssertEqual(te.kind, .hostKeyChanged, te.description)
        }
    }

    func testProbeAndTrustWritesHashedLineThatMatches() throws {
        let h = try h()
        let ep = try h.endpoint()
        let probe = try SSHHostKeyProbe.fetch(endpoint: ep)
        XCTAssertEqual(probe.keyType, "ssh-ed25519")
        XCTAssertEqual(probe.fingerprint, try fingerprintOf(h.hostKeyEd25519Pub))
        let kh = h.dir + "/trusted/known_hosts"
        try KnownHosts.append(host: ep.hostName, port: ep.port, keyType: probe.keyType, keyBase64: probe.base64Blob, file: kh)
        let text = try String(contentsOfFile: kh, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("|1|"), text)
        let cfg = h.dir + "/cfg_trusted"
        try h.writeClientConfig(extra: "", file: cfg, knownHostsFile: kh)
        let c = try SSHConnection.open(endpoint: try h.endpoint(configFile: cfg), command: "true")
        XCTAssertEqual(c.hostKeyStatus, .match)
        XCTAssertEqual(c.close().exitStatus, 0)
    }

    func testRSAKeyRefusedWithHint() throws {
        let h = try h()
        let rsa = h.dir + "/id_rsa"
        try SSHDHarness.mustRun(["/usr/bin/ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", "rsa-test", "-f", rsa])
        let pub = try String(contentsOfFile: rsa + ".pub", encoding: .utf8)
        let ak = try FileHandle(forWritingTo: URL(fileURLWithPath: h.dir + "/authorized_keys"))
        ak.seekToEndOfFile(); ak.write(pub.data(using: .utf8)!); ak.closeFile()
        let cfg = h.dir + "/cfg_rsa"
        try h.writeClientConfig(extra: "", file: cfg, identity: rsa)
        XCTAssertThrowsError(try SSHConnection.open(endpoint: try h.endpoint(configFile: cfg), command: "cat")) { e in
            guard let te = e as? TransportError else { return XCTFail("\(e)") }
            XCTAssertEqual(te.kind, .auth, te.description)
            XCTAssertTrue(te.message.contains("id_rsa (ssh-rsa)"), te.description)
            XCTAssertTrue(te.hint.contains("ssh-rsa (SHA-1)") && te.hint.contains("ed25519"), te.hint)
        }
    }

    func testWrongUserIsAuthError() throws {
        let h = try h()
        let cfg = h.dir + "/cfg_user"
        try h.writeClientConfig(extra: "", file: cfg, user: "akbackup-nosuchuser")
        XCTAssertThrowsError(try SSHConnection.open(endpoint: try h.endpoint(configFile: cfg), command: "cat")) { e in
            guard let te = e as? TransportError else { return XCTFail("\(e)") }
            XCTAssertEqual(te.kind, .auth, te.description)
            XCTAssertTrue(te.message.contains("akbackup-nosuchuser@127.0.0.1"), te.description)
            XCTAssertTrue(te.message.contains("id_ed25519 (ssh-ed25519)"), te.description)
        }
    }

    func testMissingRemoteProgram() throws {
        let h = try h()
        let c = try SSHConnection.open(endpoint: try h.endpoint(), command: "akbackup-no-such-program serve")
        defer { c.close() }
        XCTAssertThrowsError(try c.read(maxLength: 100)) { e in
            guard let te = e as? TransportError else { return XCTFail("\(e)") }
            XCTAssertEqual(te.kind, .remoteProgram, te.description)
            XCTAssertTrue(te.message.contains("akbackup-no-such-program"), te.description)
            XCTAssertTrue(te.message.contains("not found"), te.description)
        }
        XCTAssertEqual(c.close().exitStatus, 127)
    }

    /// Reads on a fresh `cat` channel after `cut` has been applied to the server side.
    private func readAfterCut(_ cut: (SSHDHarness) -> Void, within seconds: TimeInterval) throws -> TransportError? {
        let h = try h()
        let c = try SSHConnection.open(endpoint: try h.endpoint(), command: "echo started; exec cat")
        defer { c.close() }
        XCTAssertEqual(String(decoding: try c.read(maxLength: 100), as: UTF8.self), "started\n")
        let box = ResultBox<Error?>()
        let reader = Thread {
            do { let b = try c.read(maxLength: 100); box.set(.success(b.isEmpty ? nil : TransportError(.io, host: "", "unexpected data", hint: ""))) }
            catch { box.set(.success(error)) }
        }
        reader.start()
        cut(h)
        guard let r = box.wait(seconds: seconds) else { XCTFail("reader still blocked after the link was cut"); return nil }
        let err = try r.get()
        // A clean EOF would hide the failure; it must be an error.
        guard let te = err as? TransportError else { XCTFail("expected an error, got \(String(describing: err))"); return nil }
        return te
    }

    /// The server process dies: the TCP connection closes under us.
    func testServerKilledMidStreamFailsInsteadOfHanging() throws {
        let te = try readAfterCut({ h in
            let victims = h.connectionProcesses(sshdOnly: true)
            XCTAssertFalse(victims.isEmpty, "no connection processes found")
            for p in victims { kill(p, SIGKILL) }
        }, within: 20)
        XCTAssertEqual(te?.kind, .io, te?.description ?? "")
    }

    /// The server stops answering without closing anything (a cut cable): only keepalives
    /// (ServerAliveInterval 2 x ServerAliveCountMax 2 in the harness config) can notice.
    func testSilentLinkDetectedByKeepalive() throws {
        var stopped: [pid_t] = []
        defer { for p in stopped { kill(p, SIGKILL); kill(p, SIGCONT) } }
        let te = try readAfterCut({ h in
            stopped = h.connectionProcesses()
            for p in stopped { kill(p, SIGSTOP) }
        }, within: 20)
        XCTAssertEqual(te?.kind, .io, te?.description ?? "")
        XCTAssertTrue(te?.message.contains("ServerAliveInterval") ?? false, te?.description ?? "")
    }

    func testIdleTimeoutWhileReading() throws {
        let h = try h()
        var opts = SSHOptions()
        opts.idleTimeout = 1
        let c = try SSHConnection.open(endpoint: try h.endpoint(), command: "cat", options: opts)
        defer { c.close() }
        let started = Date()
        XCTAssertThrowsError(try c.read(maxLength: 10)) { e in
            XCTAssertEqual((e as? TransportError)?.kind, .timeout, "\(e)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    func testProxyJumpIsRefused() throws {
        let h = try h()
        let cfg = h.dir + "/cfg_proxy"
        try h.writeClientConfig(extra: "    ProxyJump bastion.example", file: cfg)
        XCTAssertThrowsError(try h.endpoint(configFile: cfg)) { e in
            XCTAssertEqual((e as? TransportError)?.kind, .unsupportedConfig, "\(e)")
        }
    }

    func testConnectRefusedIsConnectError() throws {
        let port = try SSHDHarness.freePort()
        let ep = SSHEndpoint(alias: "nothing-here", hostName: "127.0.0.1", user: "root", port: port, connectTimeout: 3)
        XCTAssertThrowsError(try SSHConnection.open(endpoint: ep, command: "cat")) { e in
            XCTAssertEqual((e as? TransportError)?.kind, .connect, "\(e)")
        }
    }
}
