import AKBase
import Foundation
import CLibSSH2
import Transport
#if canImport(Glibc)
import Glibc
#endif

/// Tunables for one SSH channel.
public struct SSHOptions: Sendable {
    /// A caller blocked in read() gets `.timeout` after this long without channel data (0 = never).
    public var idleTimeout: TimeInterval = 60
    /// A caller blocked in write() gets `.timeout` when the remote takes nothing for this long (0 = never):
    /// a remote program that stopped reading must not hang the controller.
    public var writeStallTimeout: TimeInterval = 120
    /// How long close() waits for the remote program to exit after EOF.
    public var closeTimeout: TimeInterval = 10
    public var inboundCapacity: Int = 1 << 20
    public var outboundCapacity: Int = 1 << 20
    public init() {}
}

enum LibSSH2 {
    /// libssh2_init once per process; never libssh2_exit, sessions may outlive any caller.
    private static let once: Int32 = libssh2_init(0)
    static func ensureInitialised() { _ = once }

    static func lastError(_ session: OpaquePointer) -> String {
        var buf = [CChar](repeating: 0, count: 512)
        let rc = ak_session_last_error(session, &buf, buf.count)
        let text = String(cBuffer: buf)
        return text.isEmpty ? "libssh2 error \(rc)" : "\(text) (libssh2 error \(rc))"
    }
}

/// A TCP connection with an SSH session on it, after handshake. Owned by one thread at a time.
/// `@unchecked Sendable`: it wraps a libssh2 session pointer and a socket (the C boundary); libssh2
/// allows one thread per session, which the connection's I/O thread enforces.
final class SessionCore: @unchecked Sendable {
    let fd: Int32
    let session: OpaquePointer
    let remoteAddress: String
    var hostKeyType: String = "unknown"
    var hostKeyBlob: [UInt8] = []
    var hostKeyFingerprint: String = ""
    var hostKeyTypeCode: Int32 = 0
    private var freed = false

    private init(fd: Int32, session: OpaquePointer, remoteAddress: String) {
        self.fd = fd
        self.session = session
        self.remoteAddress = remoteAddress
    }

    /// Connects and handshakes; `hostKeyPreference` must be set before the handshake because
    /// libssh2 1.10 otherwise picks ecdsa even when known_hosts only holds ed25519.
    static func connect(endpoint: SSHEndpoint, hostKeyPreference: String) throws -> SessionCore {
        LibSSH2.ensureInitialised()
        Signals.ignoreSIGPIPE()
        let timeout = TimeInterval(endpoint.connectTimeout ?? 10)
        let (fd, addr) = try tcpConnect(endpoint: endpoint, timeout: timeout)
        guard let session = ak_session_init() else {
            Glibc.close(fd)
            throw TransportError(.handshake, host: endpoint.alias, "libssh2_session_init failed", hint: "out of memory?")
        }
        let core = SessionCore(fd: fd, session: session, remoteAddress: addr)
        libssh2_session_set_blocking(session, 1)
        libssh2_session_set_timeout(session, Int(timeout * 1000))
        _ = ak_method_pref_hostkey(session, hostKeyPreference)
        let rc = libssh2_session_handshake(session, fd)
        if rc != 0 {
            let why = LibSSH2.lastError(session)
            core.free(disconnect: false)
            throw TransportError(.handshake, host: endpoint.alias,
                                 "SSH handshake with \(endpoint.hostName):\(endpoint.port) failed: \(why)",
                                 hint: "check that \(endpoint.hostName):\(endpoint.port) is an SSH server (ssh -v \(endpoint.alias)); libssh2 1.10 needs curve25519/ecdh kex, aes-ctr and hmac-sha2")
        }
        var len = 0
        var type: Int32 = 0
        if let key = libssh2_session_hostkey(session, &len, &type) {
            core.hostKeyBlob = key.withMemoryRebound(to: UInt8.self, capacity: len) { Array(UnsafeBufferPointer(start: $0, count: len)) }
        }
        core.hostKeyTypeCode = type
        core.hostKeyType = KnownHosts.keyTypeName(libssh2Type: type)
        if let h = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256) {
            let bytes = h.withMemoryRebound(to: UInt8.self, capacity: 32) { Array(UnsafeBufferPointer(start: $0, count: 32)) }
            core.hostKeyFingerprint = KnownHosts.fingerprint(sha256: bytes)
        }
        return core
    }

    func free(disconnect: Bool) {
        guard !freed else { return }
        freed = true
        if disconnect { _ = ak_session_disconnect(session, "akbackup closing") }
        libssh2_session_free(session)
        Glibc.close(fd)
    }

    deinit { free(disconnect: false) }

    private static func tcpConnect(endpoint: SSHEndpoint, timeout: TimeInterval) throws -> (Int32, String) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        let grc = getaddrinfo(endpoint.hostName, String(endpoint.port), &hints, &res)
        guard grc == 0, let first = res else {
            throw TransportError(.connect, host: endpoint.alias,
                                 "cannot resolve \(endpoint.hostName): \(String(cString: gai_strerror(grc)))",
                                 hint: "check HostName for \(endpoint.alias) in your ssh config and DNS")
        }
        defer { freeaddrinfo(res) }
        var lastError = "no address"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        let deadline = Date().addingTimeInterval(timeout)
        while let a = ai {
            ai = a.pointee.ai_next
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if fd < 0 { lastError = String(cString: strerror(errno)); continue }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var rc = Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen)
            if rc != 0 && errno == EINPROGRESS {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ms = Int32(max(0, deadline.timeIntervalSinceNow) * 1000)
                var pr: Int32
                repeat { pr = poll(&p, 1, ms) } while pr < 0 && errno == EINTR
                if pr == 0 {
                    Glibc.close(fd)
                    throw TransportError(.connect, host: endpoint.alias,
                                         "connection to \(endpoint.hostName) port \(endpoint.port) timed out after \(Int(timeout))s",
                                         hint: "check that the host is up and reachable; raise ConnectTimeout in ssh config if the link is slow")
                }
                var err: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                rc = err == 0 ? 0 : -1
                errno = err
            }
            if rc != 0 {
                lastError = String(cString: strerror(errno))
                Glibc.close(fd)
                continue
            }
            _ = fcntl(fd, F_SETFL, flags)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return (fd, numericAddress(a.pointee.ai_addr, a.pointee.ai_addrlen) + ":\(endpoint.port)")
        }
        throw TransportError(.connect, host: endpoint.alias,
                             "cannot connect to \(endpoint.hostName) port \(endpoint.port): \(lastError)",
                             hint: "check that sshd runs on \(endpoint.hostName) and listens on port \(endpoint.port)")
    }

    private static func numericAddress(_ sa: UnsafeMutablePointer<sockaddr>, _ len: socklen_t) -> String {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(sa, len, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { return "?" }
        return String(cBuffer: host)
    }
}

/// Fetches a server's host key without authenticating, for `akbackup trust`.
public enum SSHHostKeyProbe {
    public static func fetch(endpoint: SSHEndpoint) throws -> (keyType: String, base64Blob: String, fingerprint: String) {
        let known = KnownHosts.entries(for: endpoint.hostName, port: endpoint.port, files: endpoint.userKnownHostsFiles)
        let core = try SessionCore.connect(endpoint: endpoint,
                                           hostKeyPreference: KnownHosts.hostKeyPreference(knownTypes: known.map(\.keyType)))
        defer { core.free(disconnect: true) }
        return (core.hostKeyType, Data(core.hostKeyBlob).base64EncodedString(), core.hostKeyFingerprint)
    }
}
