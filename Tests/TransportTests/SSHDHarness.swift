import Foundation
import XCTest
import Transport
@testable import SSHTransport

/// A private sshd on 127.0.0.1 with its own host keys, client key, authorized_keys,
/// hashed known_hosts and ssh config; removed again by `stop()`.
final class SSHDHarness: @unchecked Sendable {
    let dir: String
    let port: Int
    let alias = "akbackup-test"
    var configFile: String { dir + "/ssh_config" }
    var knownHosts: String { dir + "/known_hosts" }
    var clientKey: String { dir + "/id_ed25519" }
    var hostKeyEd25519Pub: String { dir + "/ssh_host_ed25519_key.pub" }
    private var sshd: SubprocessChannel?

    static func run(_ argv: [String]) throws -> (status: Int32?, out: String, err: [String]) {
        let ch = try SubprocessChannel(arguments: argv)
        try ch.closeWrite()
        var out: [UInt8] = []
        while true {
            let c = try ch.read(maxLength: 65536)
            if c.isEmpty { break }
            out += c
        }
        let t = ch.close()
        return (t.exitStatus, String(decoding: out, as: UTF8.self), t.stderrTail)
    }

    @discardableResult
    static func mustRun(_ argv: [String]) throws -> String {
        let r = try run(argv)
        guard r.status == 0 else { throw HarnessError("\(argv.joined(separator: " ")) failed: \(r.err.joined(separator: "\n"))") }
        return r.out
    }

    struct HarnessError: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    init() throws {
        // /tmp is fine with StrictModes no (sshd otherwise rejects its ownership/modes).
        var template = Array("/tmp/akbackup-sshd-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw HarnessError("mkdtemp failed") }
        dir = String(cString: p)
        port = try Self.freePort()
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)

        for (type, name) in [("ed25519", "ssh_host_ed25519_key"), ("ecdsa", "ssh_host_ecdsa_key")] {
            try Self.mustRun(["/usr/bin/ssh-keygen", "-q", "-t", type, "-N", "", "-C", "", "-f", "\(dir)/\(name)"])
        }
        try Self.mustRun(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "akbackup-test-client", "-f", clientKey])
        try FileManager.default.copyItem(atPath: clientKey + ".pub", toPath: dir + "/authorized_keys")

        let sshdConfig = """
        Port \(port)
        ListenAddress 127.0.0.1
        HostKey \(dir)/ssh_host_ed25519_key
        HostKey \(dir)/ssh_host_ecdsa_key
        PidFile \(dir)/sshd.pid
        AuthorizedKeysFile \(dir)/authorized_keys
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        UsePAM no
        StrictModes no
        PermitRootLogin prohibit-password
        LogLevel VERBOSE

        """
        try sshdConfig.write(toFile: dir + "/sshd_config", atomically: true, encoding: .utf8)

        // known_hosts with only the ed25519 key, hashed, while sshd also offers ecdsa
        let hostPub = try String(contentsOfFile: hostKeyEd25519Pub, encoding: .utf8).split(separator: " ")
        try "[127.0.0.1]:\(port) \(hostPub[0]) \(hostPub[1])\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
        try Self.mustRun(["/usr/bin/ssh-keygen", "-q", "-H", "-f", knownHosts])
        try writeClientConfig(extra: "")

        sshd = try SubprocessChannel(arguments: ["/usr/sbin/sshd", "-D", "-e", "-f", dir + "/sshd_config"], peerName: "test sshd")
        let up = waitUntil(seconds: 10) { Self.canConnect(port: self.port) }
        if !up {
            let t = sshd?.close()
            throw HarnessError("sshd did not come up: \(t?.stderrTail.joined(separator: "\n") ?? "")")
        }
    }

    func writeClientConfig(extra: String, file: String? = nil, knownHostsFile: String? = nil, identity: String? = nil, user: String = "root") throws {
        let text = """
        Host \(alias) \(alias)-*
            HostName 127.0.0.1
            Port \(port)
            User \(user)
            IdentityFile \(identity ?? clientKey)
            IdentitiesOnly yes
            IdentityAgent none
            UserKnownHostsFile \(knownHostsFile ?? knownHosts)
            ConnectTimeout 5
            ServerAliveInterval 2
            ServerAliveCountMax 2
        \(extra)
        """
        let path = file ?? configFile
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
    }

    func endpoint(configFile: String? = nil) throws -> SSHEndpoint {
        try SSHConfigResolver.resolve(alias: alias, configFile: configFile ?? self.configFile)
    }

    /// Every process below the listener (monitor, session, the remote command): killing them
    /// all closes the TCP connection, like a crashed server.
    func connectionProcesses(sshdOnly: Bool = false) -> [pid_t] {
        guard let listener = sshd?.processIdentifier else { return [] }
        var parent: [pid_t: pid_t] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(name),
                  let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            if fields.count > 1, let pp = pid_t(fields[1]) { parent[pid] = pp }
        }
        func descends(_ pid: pid_t) -> Bool {
            var p = parent[pid]
            var hops = 0
            while let q = p, hops < 64 { if q == listener { return true }; p = parent[q]; hops += 1 }
            return false
        }
        func isSSHD(_ pid: pid_t) -> Bool {
            ((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "").hasPrefix("sshd")
        }
        return parent.keys.filter { descends($0) && (!sshdOnly || isSSHD($0)) }
    }

    func stop() {
        if let s = sshd {
            for child in connectionProcesses() { kill(child, SIGKILL) }
            kill(s.processIdentifier, SIGTERM)
            _ = s.close()
            sshd = nil
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    deinit { stop() }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, len) == 0 && getsockname(fd, sa, &len) == 0
            }
        }
        guard ok else { throw HarnessError("no free port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
