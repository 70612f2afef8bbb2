import Foundation
import XCTest
import Transport
@testable import SSHTransport

final class SSHConfigParsingTests: XCTestCase {
    func testParsesSSHGOutput() throws {
        let text = """
        host infra-core
        user backup
        hostname 10.20.0.2
        port 2222
        identityfile ~/.ssh/id_ed25519
        identityfile %d/.ssh/id_ecdsa_%r
        identitiesonly yes
        identityagent none
        userknownhostsfile ~/.ssh/known_hosts ~/.ssh/known_hosts2
        connecttimeout 7
        serveraliveinterval 15
        serveralivecountmax 4
        proxyjump none
        """
        let ep = try SSHConfigResolver.parseSSHG(text, alias: "infra-core", home: "/home/op", localUser: "op")
        XCTAssertEqual(ep.hostName, "10.20.0.2")
        XCTAssertEqual(ep.user, "backup")
        XCTAssertEqual(ep.port, 2222)
        XCTAssertEqual(ep.identityFiles, ["/home/op/.ssh/id_ed25519", "/home/op/.ssh/id_ecdsa_backup"])
        XCTAssertTrue(ep.identitiesOnly)
        XCTAssertEqual(ep.identityAgent, "none")
        XCTAssertEqual(ep.userKnownHostsFiles, ["/home/op/.ssh/known_hosts", "/home/op/.ssh/known_hosts2"])
        XCTAssertEqual(ep.connectTimeout, 7)
        XCTAssertEqual(ep.serverAliveInterval, 15)
        XCTAssertEqual(ep.serverAliveCountMax, 4)
    }

    func testSSHGConnectTimeoutNoneAndProxyCommandRefused() throws {
        let ep = try SSHConfigResolver.parseSSHG("hostname h\nconnecttimeout none\n", alias: "h", home: "/r", localUser: "root")
        XCTAssertNil(ep.connectTimeout)
        XCTAssertThrowsError(try SSHConfigResolver.parseSSHG("hostname h\nproxycommand nc %h %p\n", alias: "h")) { e in
            let te = e as? TransportError
            XCTAssertEqual(te?.kind, .unsupportedConfig)
            XCTAssertTrue(te?.message.contains("ProxyCommand") ?? false)
        }
    }

    func testFallbackReaderPatternsAndFirstValueWins() throws {
        let text = """
        # comment
        Host nas
            HostName 10.20.1.2
            IdentityFile ~/.ssh/nas_key
        Host *.internal !bad.internal
            User internal
        Host n?s
            Port 2200
            User first
        Match host nas
            User frommatch
        Host *
            User fallback
            Port 22
            IdentityFile=~/.ssh/id_ed25519
            ServerAliveInterval 30
        """
        let nas = try SSHConfigResolver.parseConfigFile(text, alias: "nas", home: "/home/op", localUser: "op")
        XCTAssertEqual(nas.hostName, "10.20.1.2")
        XCTAssertEqual(nas.user, "first")
        XCTAssertEqual(nas.port, 2200)
        XCTAssertEqual(nas.identityFiles, ["/home/op/.ssh/nas_key", "/home/op/.ssh/id_ed25519"])
        XCTAssertEqual(nas.serverAliveInterval, 30)
        XCTAssertEqual(nas.userKnownHostsFiles, ["/home/op/.ssh/known_hosts", "/home/op/.ssh/known_hosts2"])

        let good = try SSHConfigResolver.parseConfigFile(text, alias: "db.internal", home: "/h", localUser: "op")
        XCTAssertEqual(good.user, "internal")
        XCTAssertEqual(good.hostName, "db.internal")
        let bad = try SSHConfigResolver.parseConfigFile(text, alias: "bad.internal", home: "/h", localUser: "op")
        XCTAssertEqual(bad.user, "fallback")
    }

    func testFallbackReaderRefusesProxyJump() {
        XCTAssertThrowsError(try SSHConfigResolver.parseConfigFile("Host x\n  ProxyJump bastion\n", alias: "x")) { e in
            XCTAssertEqual((e as? TransportError)?.kind, .unsupportedConfig)
        }
    }

    // MARK: hashed known_hosts

    func testHMACSHA1Vectors() {
        let hex = { (b: [UInt8]) in b.map { String(format: "%02x", $0) }.joined() }
        // RFC 2202 test cases 1 and 2
        XCTAssertEqual(hex(KnownHosts.hmacSHA1(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8))),
                       "b617318655057264e28bc0b6fb378c8ef146be00")
        XCTAssertEqual(hex(KnownHosts.hmacSHA1(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))),
                       "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    }

    /// Lines produced by `ssh-keygen -H` for `example.org` and `[example.org]:2222`.
    func testHashedHostMatchingAgainstSSHKeygenOutput() {
        let plain22 = "|1|BTCSquoRwgjtMNeNcIPP3+xFs+Y=|3S7B3gWYcq1n6+lP1Z178Aen+iU="
        let port2222 = "|1|hrutH2n50cGiVB52WVqy5vEzhQI=|eM4qsWQQvHCGrysiOc1Z+WKLDHE="
        XCTAssertTrue(KnownHosts.hostFieldMatches(plain22, host: "example.org", port: 22))
        XCTAssertFalse(KnownHosts.hostFieldMatches(plain22, host: "example.org", port: 2222))
        XCTAssertFalse(KnownHosts.hostFieldMatches(plain22, host: "example.com", port: 22))
        XCTAssertTrue(KnownHosts.hostFieldMatches(port2222, host: "example.org", port: 2222))
        XCTAssertTrue(KnownHosts.hostFieldMatches("a.example,[example.org]:2222", host: "example.org", port: 2222))
        XCTAssertTrue(KnownHosts.hostFieldMatches("*.example.org", host: "x.example.org", port: 22))
    }

    func testKnownHostsParsingSkipsMarkersAndCountsLines() {
        let text = """
        # c
        @cert-authority *.example ssh-ed25519 AAAA
        host1 ssh-ed25519 AAAAkey1

        [host1]:2200 ecdsa-sha2-nistp256 AAAAkey2
        """
        let e = KnownHosts.parse(text: text, file: "kh")
        XCTAssertEqual(e.map(\.line), [3, 5])
        XCTAssertEqual(e.map(\.keyType), ["ssh-ed25519", "ecdsa-sha2-nistp256"])
        XCTAssertEqual(KnownHosts.hostKeyPreference(knownTypes: ["ssh-ed25519"]).split(separator: ",").first, "ssh-ed25519")
        XCTAssertEqual(KnownHosts.hostKeyPreference(knownTypes: ["ecdsa-sha2-nistp256"]).split(separator: ",").first, "ecdsa-sha2-nistp256")
    }
}
