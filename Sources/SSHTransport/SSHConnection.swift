import AKBase
import Foundation
import CLibSSH2
import Transport
#if canImport(Glibc)
import Glibc
#endif

/// A remote program's stdin/stdout over an SSH exec channel (libssh2).
///
/// One I/O thread owns the session (libssh2 sessions are not thread-safe) and drives it
/// non-blocking from a poll() loop; callers only touch the bounded queues under `cond`.
/// Both directions are pumped by the same loop, so neither can starve the other.
/// `@unchecked Sendable`: it wraps libssh2 pointers and descriptors (the C boundary); every mutable
/// field is guarded by `cond`, and only the I/O thread calls libssh2.
public final class SSHConnection: ByteChannel, @unchecked Sendable {
    public let peerName: String
    public let endpoint: SSHEndpoint
    public let authMethod: String
    public let hostKeyStatus: HostKeyStatus
    public let hostKeyType: String
    public let hostKeyFingerprint: String
    public let remoteAddress: String

    private let core: SessionCore
    private let channel: OpaquePointer
    private let options: SSHOptions
    private let wakeRead: Int32
    private let wakeWrite: Int32

    private let cond = NSCondition()
    private var outbound: [UInt8] = []
    private var outHead = 0
    private var inbound: [UInt8] = []
    private var inHead = 0
    private var wantEOF = false
    private var eofSent = false
    private var remoteEOF = false
    private var remoteClosed = false
    private var exitStatus: Int32?
    private var exitSignal: String?
    private var failure: TransportError?        // session-level: everything fails
    private var writeFailure: TransportError?   // channel-level: the program stopped reading
    private var stopRequested = false
    private var ioDone = false
    private var closing = false
    private var termination: ChannelTermination?
    private var tail = StderrTail()
    private var lastChannelData = Date()
    private var stdoutBytes = 0

    /// Connects, verifies the host key, authenticates and starts `command`.
    public static func open(endpoint: SSHEndpoint, command: String, options: SSHOptions = .init()) throws -> SSHConnection {
        let known = KnownHosts.entries(for: endpoint.hostName, port: endpoint.port, files: endpoint.userKnownHostsFiles)
        let pref = KnownHosts.hostKeyPreference(knownTypes: known.map(\.keyType))
        let core = try SessionCore.connect(endpoint: endpoint, hostKeyPreference: pref)
        do {
            let (status, entry) = KnownHosts.check(session: core.session, host: endpoint.hostName, port: endpoint.port,
                                                   files: endpoint.userKnownHostsFiles,
                                                   keyType: core.hostKeyTypeCode, keyBlob: core.hostKeyBlob)
            let token = KnownHosts.hostToken(endpoint.hostName, port: endpoint.port)
            switch status {
            case .match: break
            case .unknown:
                throw TransportError(.hostKeyUnknown, host: endpoint.alias,
                                     "host key for \(token) is not known; the server offered \(core.hostKeyType) \(core.hostKeyFingerprint) (checked \(endpoint.userKnownHostsFiles.map(tildeAbbreviated).joined(separator: ", ")))",
                                     hint: "verify the fingerprint out of band, then run `akbackup trust \(endpoint.alias)` or `ssh-keyscan -t \(core.hostKeyType) -p \(endpoint.port) \(endpoint.hostName) >> \(endpoint.userKnownHostsFiles.first.map(tildeAbbreviated) ?? "~/.ssh/known_hosts")`")
            case .revoked:
                let line = entry.map { "\(tildeAbbreviated($0.file)):\($0.line)" } ?? "known_hosts"
                throw TransportError(.hostKeyChanged, host: endpoint.alias,
                                     "the \(core.hostKeyType) host key \(core.hostKeyFingerprint) offered by \(token) is marked @revoked in \(line)",
                                     hint: "do not connect: the key was revoked on purpose; ask whoever manages \(endpoint.hostName) for its current key")
            case .certificateAuthority:
                let line = entry.map { "\(tildeAbbreviated($0.file)):\($0.line)" } ?? "known_hosts"
                throw TransportError(.hostKeyUnknown, host: endpoint.alias,
                                     "\(token) is trusted only through a @cert-authority line (\(line)); akbackup's SSH library cannot verify host certificates",
                                     hint: "add the host's own key as well: verify \(core.hostKeyFingerprint) out of band, then `akbackup trust \(endpoint.alias)`")
            case .changed:
                let where_ = entry.map { "\(tildeAbbreviated($0.file)):\($0.line)" } ?? endpoint.userKnownHostsFiles.map(tildeAbbreviated).joined(separator: ", ")
                throw TransportError(.hostKeyChanged, host: endpoint.alias,
                                     """
                                     @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
                                     @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
                                     @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
                                     IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
                                     The \(core.hostKeyType) host key for \(token) is now \(core.hostKeyFingerprint).
                                     Offending \(core.hostKeyType) key in \(where_)
                                     """,
                                     hint: "if the server was really reinstalled, remove the old entry (ssh-keygen -R \(token)\(entry.map { " -f \(tildeAbbreviated($0.file))" } ?? "")) and trust the new key; otherwise do not connect")
            }
            libssh2_keepalive_config(core.session, 1, UInt32(max(0, endpoint.serverAliveInterval)))
            let method = try SSHAuthenticator.authenticate(session: core.session, endpoint: endpoint)
            guard let ch = ak_channel_open_session(core.session) else {
                throw TransportError(.channel, host: endpoint.alias, "cannot open a session channel: \(LibSSH2.lastError(core.session))",
                                     hint: "the server may limit sessions (MaxSessions) or refuse them for this key (restrict)")
            }
            if ak_channel_exec(ch, command) != 0 {
                let why = LibSSH2.lastError(core.session)
                libssh2_channel_free(ch)
                throw TransportError(.channel, host: endpoint.alias, "exec request for `\(command)` refused: \(why)",
                                     hint: "check the server's sshd_config and any command= restriction in authorized_keys")
            }
            return try SSHConnection(endpoint: endpoint, core: core, channel: ch, options: options,
                                     authMethod: method, hostKeyStatus: status)
        } catch {
            core.free(disconnect: true)
            throw error
        }
    }

    private init(endpoint: SSHEndpoint, core: SessionCore, channel: OpaquePointer, options: SSHOptions,
                 authMethod: String, hostKeyStatus: HostKeyStatus) throws {
        self.endpoint = endpoint
        self.peerName = endpoint.alias
        self.core = core
        self.channel = channel
        self.options = options
        self.authMethod = authMethod
        self.hostKeyStatus = hostKeyStatus
        self.hostKeyType = core.hostKeyType
        self.hostKeyFingerprint = core.hostKeyFingerprint
        self.remoteAddress = core.remoteAddress
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            libssh2_channel_free(channel)
            throw TransportError(.io, host: endpoint.alias, "pipe: \(String(cString: strerror(errno)))", hint: "check the open file limit")
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        libssh2_session_set_blocking(core.session, 0)
        let t = Thread { [self] in self.ioLoop() }
        t.name = "ssh \(endpoint.alias)"
        t.start()
    }

    deinit {
        close()
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
    }

    // MARK: caller side

    private func wake() {
        var b: UInt8 = 1
        _ = Glibc.write(wakeWrite, &b, 1)
    }

    private func closedError() -> TransportError {
        TransportError(.closed, host: peerName, "channel used after close", hint: "this is a bug in the caller")
    }

    private func stderrSuffix() -> String {
        var copy = tail
        let lines = copy.finish()
        return lines.isEmpty ? "" : "\nremote stderr:\n" + lines.map { "  " + $0 }.joined(separator: "\n")
    }

    private func missingProgramError() -> TransportError {
        TransportError(.remoteProgram, host: peerName,
                       "remote program not found (exit status 127)\(stderrSuffix())",
                       hint: "install the akbackup remote programs on \(endpoint.hostName) and check the command path (or the command= in authorized_keys)")
    }

    public func write(_ bytes: [UInt8]) throws {
        var offset = 0
        cond.lock()
        defer { cond.unlock() }
        var lastProgress = Date()
        var lastPending = outbound.count - outHead
        while offset < bytes.count {
            if closing { throw closedError() }
            if wantEOF { throw TransportError(.closed, host: peerName, "write after closeWrite", hint: "this is a bug in the caller") }
            if let f = failure { throw f }
            if let f = writeFailure { throw exitStatus == 127 ? missingProgramError() : f }
            let pending = outbound.count - outHead
            if pending < lastPending { lastProgress = Date() }
            lastPending = pending
            let space = options.outboundCapacity - pending
            if space <= 0 {
                if options.writeStallTimeout > 0 {
                    let deadline = lastProgress.addingTimeInterval(options.writeStallTimeout)
                    if Date() >= deadline {
                        throw TransportError(.timeout, host: peerName,
                                             "the remote program took no data for \(Int(options.writeStallTimeout))s\(stderrSuffix())",
                                             hint: "the remote program stopped reading, or the link is dead; check it on \(endpoint.hostName)")
                    }
                    _ = cond.wait(until: min(deadline, Date().addingTimeInterval(1)))
                } else {
                    cond.wait()
                }
                continue
            }
            if outHead > 0 && outHead >= outbound.count / 2 { outbound.removeFirst(outHead); outHead = 0 }
            let n = min(space, bytes.count - offset)
            outbound.append(contentsOf: bytes[offset..<(offset + n)])
            offset += n
            wake()
        }
    }

    public func read(maxLength: Int, timeout: TimeInterval?) throws -> [UInt8] {
        cond.lock()
        defer { cond.unlock() }
        let started = Date()
        let idleTimeout = timeout ?? options.idleTimeout
        while true {
            if closing { throw closedError() }
            let available = inbound.count - inHead
            if available > 0 {
                let n = min(max(1, maxLength), available)
                let out = Array(inbound[inHead..<(inHead + n)])
                inHead += n
                if inHead == inbound.count { inbound.removeAll(keepingCapacity: true); inHead = 0 }
                wake()   // room again: the I/O thread may resume reading the channel
                return out
            }
            if let f = failure { throw f }
            if remoteEOF {
                if stdoutBytes == 0 {
                    // Nothing ever arrived: find out whether the program even existed.
                    let deadline = Date().addingTimeInterval(3)
                    while !remoteClosed && failure == nil && !ioDone && cond.wait(until: deadline) {}
                    if exitStatus == 127 { throw missingProgramError() }
                }
                return []
            }
            if idleTimeout > 0 {
                let deadline = max(lastChannelData, started).addingTimeInterval(idleTimeout)
                if Date() >= deadline {
                    throw TransportError(.timeout, host: peerName,
                                         "no data from the remote program for \(Int(idleTimeout))s\(stderrSuffix())",
                                         hint: "the remote program may be stuck; check it on \(endpoint.hostName)")
                }
                _ = cond.wait(until: min(deadline, Date().addingTimeInterval(1)))
            } else {
                cond.wait()
            }
        }
    }

    public func closeWrite() throws {
        cond.lock()
        defer { cond.unlock() }
        if closing { throw closedError() }
        if let f = failure { throw f }
        wantEOF = true
        wake()
    }

    @discardableResult
    public func close() -> ChannelTermination {
        cond.lock()
        if let t = termination { cond.unlock(); return t }
        if closing {
            while termination == nil { cond.wait() }
            let t = termination!
            cond.unlock()
            return t
        }
        closing = true
        wantEOF = true
        cond.broadcast()
        wake()
        // Let the program see EOF and exit so its status arrives, within bounds.
        let deadline = Date().addingTimeInterval(options.closeTimeout)
        while !remoteClosed && failure == nil && !ioDone && cond.wait(until: deadline) {}
        stopRequested = true
        wake()
        while !ioDone { _ = cond.wait(until: Date().addingTimeInterval(1)); wake() }
        let healthy = failure == nil
        cond.unlock()

        // The I/O thread is gone: this thread now owns the session.
        libssh2_session_set_blocking(core.session, 1)
        libssh2_session_set_timeout(core.session, 2000)
        if healthy { _ = libssh2_channel_close(channel) }
        libssh2_channel_free(channel)
        core.free(disconnect: healthy)

        cond.lock()
        var t = ChannelTermination(exitStatus: exitStatus, signal: exitSignal)
        t.stderrTail = tail.finish()
        termination = t
        cond.broadcast()
        cond.unlock()
        return t
    }

    // MARK: I/O thread

    private func fail(_ message: String, kind: TransportError.Kind = .io, hint: String? = nil) {
        // caller holds cond
        if failure != nil { return }
        let prefix = stdoutBytes == 0 ? "connection lost before the remote program sent anything: " : ""
        failure = TransportError(kind, host: peerName, prefix + message + stderrSuffix(),
                                 hint: hint ?? "check the network path to \(endpoint.hostName) and the server's logs")
        outbound.removeAll(); outHead = 0
        cond.broadcast()
    }

    private func ioLoop() {
        let session = core.session
        var readBuf = [UInt8](repeating: 0, count: 64 << 10)
        var lastSocketInput = Date()
        var lastWriteWindow = Int(libssh2_channel_window_write_ex(channel, nil))
        let keepalive = endpoint.serverAliveInterval
        let deadAfter = TimeInterval(max(1, keepalive) * max(1, endpoint.serverAliveCountMax))
        var nextKeepalive = Date()

        loop: while true {
            var progress = false

            cond.lock()
            if stopRequested || failure != nil { cond.unlock(); break loop }
            // 1. stdin: one packet (at most 32 KiB) per call
            let pending = outbound.count - outHead
            if pending > 0 && writeFailure == nil {
                let n = min(pending, 32 << 10)
                let rc = outbound.withUnsafeBufferPointer { buf in
                    buf.baseAddress!.advanced(by: outHead).withMemoryRebound(to: CChar.self, capacity: n) {
                        ak_channel_write(channel, $0, n)
                    }
                }
                if rc > 0 {
                    outHead += rc
                    if outHead == outbound.count { outbound.removeAll(keepingCapacity: true); outHead = 0 }
                    progress = true
                    cond.broadcast()
                    // libssh2 consumes the server's window adjustments inside write calls, so a
                    // steady upload may never reach poll(): a window that grew is input too.
                    let window = Int(libssh2_channel_window_write_ex(channel, nil))
                    if window > lastWriteWindow - rc { lastSocketInput = Date() }
                    lastWriteWindow = window
                } else if rc == LIBSSH2_ERROR_EAGAIN {
                    // the window is full or the socket busy: poll below waits for either
                } else if rc == LIBSSH2_ERROR_CHANNEL_CLOSED || rc == LIBSSH2_ERROR_CHANNEL_EOF_SENT || rc == LIBSSH2_ERROR_CHANNEL_UNKNOWN {
                    writeFailure = TransportError(.io, host: peerName, "the remote program stopped reading its input\(stderrSuffix())",
                                                  hint: "see the remote program's stderr")
                    outbound.removeAll(); outHead = 0
                    cond.broadcast()
                } else if rc < 0 {
                    fail("write to the SSH channel failed: \(LibSSH2.lastError(session))")
                    cond.unlock(); break loop
                }
            }
            if remoteClosed && outbound.count - outHead > 0 && writeFailure == nil {
                writeFailure = TransportError(.io, host: peerName,
                                              "the remote program exited (\(exitStatus.map { "status \($0)" } ?? exitSignal.map { "signal \($0)" } ?? "unknown status")) before reading all its input\(stderrSuffix())",
                                              hint: "see the remote program's stderr")
                outbound.removeAll(); outHead = 0
                cond.broadcast()
            }
            if writeFailure != nil && outbound.count - outHead > 0 { outbound.removeAll(); outHead = 0; cond.broadcast() }
            // 2. EOF once everything queued is sent
            if wantEOF && !eofSent && outbound.count - outHead == 0 {
                let rc = ak_channel_send_eof(channel)
                if rc == 0 { eofSent = true; progress = true }
                else if rc != LIBSSH2_ERROR_EAGAIN { eofSent = true }   // channel already closed by the peer: nothing to tell it
            }
            // 3. stdout, only while there is room: a full buffer stops the SSH window (backpressure)
            let room = options.inboundCapacity - (inbound.count - inHead)
            if room > 0 && !remoteEOF {
                let want = min(room, readBuf.count)
                let rc = readBuf.withUnsafeMutableBufferPointer { buf in
                    buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: want) { ak_channel_read(channel, 0, $0, want) }
                }
                if rc > 0 {
                    if inHead > 0 && inHead >= inbound.count / 2 { inbound.removeFirst(inHead); inHead = 0 }
                    inbound.append(contentsOf: readBuf[0..<rc])
                    stdoutBytes += rc
                    lastChannelData = Date()
                    lastSocketInput = lastChannelData
                    progress = true
                    cond.broadcast()
                } else if rc == 0 || rc == LIBSSH2_ERROR_EAGAIN {
                    // a read of 0 is not end of stream; the EOF flag is
                    if libssh2_channel_eof(channel) == 1 {
                        remoteEOF = true
                        progress = true
                        cond.broadcast()
                    }
                } else {
                    fail("read from the SSH channel failed: \(LibSSH2.lastError(session))")
                    cond.unlock(); break loop
                }
            }
            // 4. stderr, always, or a chatty program blocks on a full stderr window
            while true {
                let rc = readBuf.withUnsafeMutableBufferPointer { buf in
                    buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buf.count) { ak_channel_read_stderr(channel, $0, buf.count) }
                }
                if rc > 0 {
                    tail.append(readBuf[0..<rc])
                    lastChannelData = Date()
                    lastSocketInput = lastChannelData
                    progress = true
                    continue
                }
                if rc < 0 && rc != LIBSSH2_ERROR_EAGAIN && rc != LIBSSH2_ERROR_CHANNEL_CLOSED {
                    fail("read from the SSH channel failed: \(LibSSH2.lastError(session))")
                    cond.unlock(); break loop
                }
                break
            }
            // 5. exit status arrives before the channel close; wait for the close to know it is final
            if remoteEOF && !remoteClosed {
                let rc = libssh2_channel_wait_closed(channel)
                if rc == 0 {
                    remoteClosed = true
                    let status = libssh2_channel_get_exit_status(channel)
                    var sig = [CChar](repeating: 0, count: 64)
                    if ak_channel_exit_signal(session, channel, &sig, sig.count) > 0 {
                        exitSignal = String(cBuffer: sig)
                    } else {
                        exitStatus = status
                    }
                    progress = true
                    cond.broadcast()
                } else if rc != LIBSSH2_ERROR_EAGAIN {
                    fail("waiting for the remote program to finish failed: \(LibSSH2.lastError(session))")
                    cond.unlock(); break loop
                }
            }
            cond.unlock()

            // 6. keepalives, and giving up on a silent server
            if keepalive > 0 && Date() >= nextKeepalive {
                // libssh2 keeps a half-sent packet and takes no other until it is done (BAD_USE),
                // and a keepalive left half-sent would in turn break the next channel write. So
                // send one only when the socket has room; silence is judged by lastSocketInput.
                var w = pollfd(fd: core.fd, events: Int16(POLLOUT), revents: 0)
                if poll(&w, 1, 0) == 1 && w.revents & Int16(POLLOUT) != 0 {
                    var next: Int32 = 0
                    let rc = libssh2_keepalive_send(session, &next)
                    if rc == LIBSSH2_ERROR_BAD_USE {
                        nextKeepalive = Date().addingTimeInterval(1)    // a channel packet is half sent
                    } else if rc != 0 && rc != LIBSSH2_ERROR_EAGAIN {
                        cond.lock(); fail("sending a keepalive failed: \(LibSSH2.lastError(session))"); cond.unlock()
                        break loop
                    } else {
                        nextKeepalive = Date().addingTimeInterval(TimeInterval(max(1, next)))
                    }
                } else {
                    nextKeepalive = Date().addingTimeInterval(1)
                }
            }
            if keepalive > 0 && Date().timeIntervalSince(lastSocketInput) > deadAfter + TimeInterval(keepalive),
               let k = SSHConnection.lastTCPInput(fd: core.fd), k > lastSocketInput {
                // libssh2 reads keepalive replies inside channel calls, before poll() can see
                // them (a write waiting for the window loops without sleeping): ask the kernel.
                lastSocketInput = k
            }
            if keepalive > 0 && Date().timeIntervalSince(lastSocketInput) > deadAfter + TimeInterval(keepalive) {
                cond.lock()
                fail("no answer from the server for \(Int(deadAfter))s (ServerAliveInterval \(keepalive) × ServerAliveCountMax \(endpoint.serverAliveCountMax))")
                cond.unlock()
                break loop
            }

            if progress { continue }
            // 7. nothing to do: sleep until the socket or a caller needs us
            let dirs = libssh2_session_block_directions(session)
            var events: Int16 = Int16(POLLIN)
            // POLLOUT only when libssh2 itself waits to send: a write refused for want of channel
            // window waits for the server's window adjustment, which arrives as input. Asking for
            // POLLOUT on a writable socket then would spin a core the compressors need.
            if dirs & ak_block_outbound() != 0 { events |= Int16(POLLOUT) }
            var fds = [pollfd(fd: core.fd, events: events, revents: 0),
                       pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            var timeoutMs: Int32 = 1000
            if keepalive > 0 { timeoutMs = min(timeoutMs, Int32(max(0, nextKeepalive.timeIntervalSinceNow) * 1000) + 1) }
            let r = poll(&fds, 2, timeoutMs)
            if r < 0 && errno != EINTR {
                cond.lock(); fail("poll failed: \(String(cString: strerror(errno)))"); cond.unlock()
                break loop
            }
            if fds[0].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 { lastSocketInput = Date() }
            if fds[1].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 256)
                while Glibc.read(wakeRead, &drain, drain.count) > 0 {}
            }
        }
        cond.lock()
        ioDone = true
        cond.broadcast()
        cond.unlock()
    }

    /// When the server last sent data on the TCP connection, by the kernel's count (Linux).
    static func lastTCPInput(fd: Int32) -> Date? {
        #if os(Linux)
        var info = tcp_info()
        var len = socklen_t(MemoryLayout<tcp_info>.size)
        guard getsockopt(fd, Int32(IPPROTO_TCP), TCP_INFO, &info, &len) == 0 else { return nil }
        return Date().addingTimeInterval(-TimeInterval(info.tcpi_last_data_recv) / 1000)
        #else
        return nil
        #endif
    }

    private func pendingOutbound() -> Bool {
        cond.lock(); defer { cond.unlock() }
        return outbound.count - outHead > 0 || (wantEOF && !eofSent)
    }
}
