import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Ignores SIGPIPE once per process: a write to a dead peer must become an error we can
/// report, not a silent death of the controller.
public enum SignalSetup {
    private static let once: Void = { _ = signal(SIGPIPE, SIG_IGN) }()
    public static func ignoreSIGPIPE() { _ = once }
}

/// Signal numbers to the short names OpenSSH and kill(1) use ("KILL", "TERM").
public func signalName(_ sig: Int32) -> String {
    let names: [Int32: String] = [
        SIGHUP: "HUP", SIGINT: "INT", SIGQUIT: "QUIT", SIGILL: "ILL", SIGTRAP: "TRAP",
        SIGABRT: "ABRT", SIGBUS: "BUS", SIGFPE: "FPE", SIGKILL: "KILL", SIGUSR1: "USR1",
        SIGSEGV: "SEGV", SIGUSR2: "USR2", SIGPIPE: "PIPE", SIGALRM: "ALRM", SIGTERM: "TERM",
        SIGCHLD: "CHLD", SIGCONT: "CONT", SIGSTOP: "STOP", SIGTSTP: "TSTP", SIGXCPU: "XCPU",
        SIGXFSZ: "XFSZ",
    ]
    return names[sig] ?? "SIG\(sig)"
}

/// A local child process as a channel: its stdin/stdout are the stream, stderr is kept as a tail.
public final class SubprocessChannel: ByteChannel, @unchecked Sendable {
    public let peerName: String
    public let processIdentifier: pid_t

    private var stdinFD: Int32
    private var stdoutFD: Int32
    private let wakeRead: Int32    // lets close() interrupt a reader blocked in poll()
    private let wakeWrite: Int32

    private let state = NSCondition()
    private var closed = false
    private var writeClosed = false
    private var readersInFlight = 0
    private var writersInFlight = 0
    private var tail = StderrTail()
    private var stderrDone = false
    private var termination: ChannelTermination?

    public init(arguments: [String], environment: [String: String]? = nil, peerName: String? = nil) throws {
        SignalSetup.ignoreSIGPIPE()
        let label = peerName ?? arguments.first ?? "subprocess"
        guard let program = arguments.first, !program.isEmpty else {
            throw TransportError(.remoteProgram, host: label, "empty argument list", hint: "pass the program to run as the first argument")
        }

        func makePipe() throws -> (Int32, Int32) {
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else {
                throw TransportError(.io, host: label, "pipe: \(String(cString: strerror(errno)))", hint: "check the process's open file limit")
            }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
            return (fds[0], fds[1])
        }
        // pipe2(O_CLOEXEC) is hidden from Swift; serialising pipe creation and spawn keeps
        // our pipe ends from leaking into a child spawned concurrently by another channel.
        spawnLock.lock()
        defer { spawnLock.unlock() }
        let (inR, inW) = try makePipe()
        let (outR, outW) = try makePipe()
        let (errR, errW) = try makePipe()
        let (wR, wW) = try makePipe()

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 clears FD_CLOEXEC on the target, so only these three survive exec.
        posix_spawn_file_actions_adddup2(&actions, inR, 0)
        posix_spawn_file_actions_adddup2(&actions, outW, 1)
        posix_spawn_file_actions_adddup2(&actions, errW, 2)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // Ignored signals survive exec; the child must get the default SIGPIPE back.
        var sigs = sigset_t()
        sigemptyset(&sigs)
        sigaddset(&sigs, SIGPIPE)
        posix_spawnattr_setsigdefault(&attr, &sigs)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let envStrings: [String]? = environment.map { $0.map { "\($0.key)=\($0.value)" } }
        var pid: pid_t = 0
        let rc = withCStrings(arguments) { argv in
            if let envStrings {
                return withCStrings(envStrings) { envp in posix_spawnp(&pid, program, &actions, &attr, argv, envp) }
            }
            return posix_spawnp(&pid, program, &actions, &attr, argv, environ)
        }
        for fd in [inR, outW, errW] { Glibc.close(fd) }
        if rc != 0 {
            for fd in [inW, outR, errR, wR, wW] { Glibc.close(fd) }
            throw TransportError(.remoteProgram, host: label,
                                 "cannot start \(program): \(String(cString: strerror(rc)))",
                                 hint: "check that \(program) is installed and on PATH")
        }
        self.peerName = label
        self.processIdentifier = pid
        self.stdinFD = inW
        self.stdoutFD = outR
        self.wakeRead = wR
        self.wakeWrite = wW

        let errThread = Thread { [self] in self.drainStderr(errR) }
        errThread.name = "stderr \(label)"
        errThread.start()
    }

    deinit {
        close()
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
    }

    private func drainStderr(_ fd: Int32) {
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            state.lock()
            tail.append(buf[0..<n])
            state.unlock()
        }
        Glibc.close(fd)
        state.lock()
        stderrDone = true
        state.broadcast()
        state.unlock()
    }

    /// The stderr lines seen so far.
    public var stderrLines: [String] {
        state.lock()
        defer { state.unlock() }
        var copy = tail
        return copy.finish()
    }

    private func closedError() -> TransportError {
        TransportError(.closed, host: peerName, "channel used after close", hint: "this is a bug in the caller")
    }

    public func write(_ bytes: [UInt8]) throws {
        state.lock()
        if closed || writeClosed { state.unlock(); throw closedError() }
        writersInFlight += 1
        let fd = stdinFD
        state.unlock()
        defer { state.lock(); writersInFlight -= 1; state.broadcast(); state.unlock() }

        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                Glibc.write(fd, raw.baseAddress! + offset, bytes.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                let why = String(cString: strerror(errno))
                throw TransportError(.io, host: peerName, "write to \(peerName) failed: \(why)\(tailSuffix())",
                                     hint: "the program exited or closed its input early; see its stderr above")
            }
            offset += n
        }
    }

    private func tailSuffix() -> String {
        let lines = stderrLines
        return lines.isEmpty ? "" : "\nstderr:\n" + lines.joined(separator: "\n")
    }

    public func read(maxLength: Int) throws -> [UInt8] {
        state.lock()
        if closed { state.unlock(); throw closedError() }
        readersInFlight += 1
        let fd = stdoutFD
        state.unlock()
        defer { state.lock(); readersInFlight -= 1; state.broadcast(); state.unlock() }

        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        while true {
            let r = poll(&fds, 2, -1)
            if r < 0 && errno == EINTR { continue }
            if fds[1].revents != 0 { throw closedError() }
            break
        }
        var buf = [UInt8](repeating: 0, count: max(1, min(maxLength, 1 << 20)))
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TransportError(.io, host: peerName, "read failed: \(String(cString: strerror(errno)))",
                                     hint: "see the program's stderr")
            }
            return Array(buf[0..<n])
        }
    }

    public func closeWrite() throws {
        state.lock()
        defer { state.unlock() }
        if closed { throw closedError() }
        if writeClosed { return }
        writeClosed = true
        // A writer blocked in write() keeps the fd alive; it will fail once the child exits.
        if writersInFlight == 0 { Glibc.close(stdinFD); stdinFD = -1 }
    }

    @discardableResult
    public func close() -> ChannelTermination {
        state.lock()
        if let t = termination { state.unlock(); return t }
        if closed {
            // Another thread is closing; wait for its result.
            while termination == nil { state.wait() }
            let t = termination!
            state.unlock()
            return t
        }
        closed = true
        if !writeClosed { writeClosed = true; if writersInFlight == 0 { Glibc.close(stdinFD); stdinFD = -1 } }
        var one: UInt8 = 1
        _ = Glibc.write(wakeWrite, &one, 1)
        state.unlock()

        // Give the child a moment to finish on its own after EOF, then insist.
        var status: Int32 = 0
        var reaped = waitFor(pid: processIdentifier, seconds: 5, status: &status)
        if !reaped {
            kill(processIdentifier, SIGTERM)
            reaped = waitFor(pid: processIdentifier, seconds: 2, status: &status)
        }
        if !reaped {
            kill(processIdentifier, SIGKILL)
            reaped = waitFor(pid: processIdentifier, seconds: 5, status: &status)
        }

        state.lock()
        // stdout can only be closed once no reader is inside read() on it.
        while readersInFlight > 0 { state.wait() }
        Glibc.close(stdoutFD)
        stdoutFD = -1
        if stdinFD >= 0 {
            while writersInFlight > 0 { state.wait() }
            Glibc.close(stdinFD); stdinFD = -1
        }
        // A grandchild may hold stderr open; don't wait for it forever.
        let deadline = Date().addingTimeInterval(2)
        while !stderrDone && state.wait(until: deadline) {}
        var t = ChannelTermination()
        if reaped && status != -1 {
            if status & 0x7f == 0 {
                t.exitStatus = (status >> 8) & 0xff
            } else {
                t.signal = signalName(status & 0x7f)
            }
        }
        var copy = tail
        t.stderrTail = copy.finish()
        termination = t
        state.broadcast()
        state.unlock()
        return t
    }

    private func waitFor(pid: pid_t, seconds: Double, status: inout Int32) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        var delay: useconds_t = 1000
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return true }
            if r < 0 && errno != EINTR { status = -1; return true }  // not ours to reap any more
            if Date() >= deadline { return false }
            usleep(delay)
            delay = min(delay * 2, 50_000)
        }
    }
}

private let spawnLock = NSLock()

func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var ptrs: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    ptrs.append(nil)
    defer { for p in ptrs { free(p) } }
    return ptrs.withUnsafeBufferPointer { body($0.baseAddress!) }
}
