import AKBase
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How a child process ended, with the last of what it wrote to stderr.
public struct Termination: Sendable, Equatable {
    /// The exit status, when it exited.
    public var exitStatus: Int32?
    /// The signal that killed it, when one did.
    public var signal: Int32?
    /// The last 64 KiB of its stderr.
    public var stderr: String
    /// It was killed because it ran past its time limit.
    public var timedOut = false

    public init(exitStatus: Int32?, signal: Int32?, stderr: String, timedOut: Bool = false) {
        self.exitStatus = exitStatus
        self.signal = signal
        self.stderr = stderr
        self.timedOut = timedOut
    }

    /// The last non-empty stderr line: what a failing tool usually says about why.
    public var stderrLastLine: String {
        stderr.split(separator: "\n").last(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }).map(String.init) ?? ""
    }

    /// The line that says what went wrong: the first that looks like an error ("ERROR:  …", "pg_dump:
    /// error: …"), else the last non-empty one.
    public var errorLine: String {
        stderr.split(separator: "\n").first(where: {
            let l = $0.lowercased()
            return l.contains("error:") || l.hasPrefix("error") || l.contains("fatal:")
        }).map { $0.trimmingCharacters(in: .whitespaces) } ?? stderrLastLine
    }

    /// How it ended, in words: "exit status 1", "killed by signal KILL", "timed out".
    public var summary: String {
        if timedOut { return "timed out" }
        if let s = signal { return "killed by signal \(Signals.name(s))" }
        return "exit status \(exitStatus ?? -1)"
    }

    /// Nil when the child exited 0 and said nothing that looks like an error; else why it failed
    /// (its error line, then how it ended).
    public var failure: String? {
        let errorLine = stderr.split(separator: "\n").first(where: {
            let l = $0.lowercased()
            return l.contains("error:") || l.hasPrefix("error") || l.contains("fatal:")
        }).map(String.init)
        if exitStatus != 0 || signal != nil || timedOut {
            let last = errorLine ?? stderr.split(separator: "\n").last.map(String.init) ?? ""
            return last.isEmpty ? summary : "\(last) (\(summary))"
        }
        return errorLine
    }
}

/// The program could not be started.
public struct SpawnError: HintedError, CustomStringConvertible, Sendable {
    public var program: String
    public var code: Int32
    public var summary: String { "cannot start \(program): \(String(cString: strerror(code)))" }
    public var hint: String {
        code == ENOENT ? "install \(program) or put it on PATH (the agent's config can name its full path)"
                       : "check that \(program) is executable by \(NSUserName())"
    }
    public var description: String { summary }
}

/// A local child process started from an argv array (never through a shell): the one way every
/// akbackup program starts another program. Secrets go in `environment`, which only the child
/// sees. stderr is always drained on its own thread into a bounded tail, so a chatty child can
/// never block on it. Wraps raw file descriptors and a pid, hence `@unchecked Sendable`: the
/// descriptors are only closed once, under the lock.
public final class ChildProcess: @unchecked Sendable {
    public enum Input: Sendable { case null, pipe }
    public enum Output: Sendable { case null, pipe }

    public let pid: pid_t
    /// argv[0] and the arguments up to the first option, for messages ("docker exec").
    public let command: String
    private let lock = NSLock()
    private var stdinFD: Int32
    public let stdoutFD: Int32
    private let stderrDone = DispatchSemaphore(value: 0)
    private let tail = Monitor<[UInt8]>([])
    private var reaped: Termination?

    private init(pid: pid_t, command: String, stdinFD: Int32, stdoutFD: Int32) {
        self.pid = pid
        self.command = command
        self.stdinFD = stdinFD
        self.stdoutFD = stdoutFD
    }

    /// Finds `name` on PATH (or returns it if it contains a slash).
    public static func locate(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        return nil
    }

    /// Starts `arguments`. `environment` is added to (and overrides) this process's environment.
    public static func spawn(_ arguments: [String], environment: [String: String] = [:],
                             stdin: Input = .null, stdout: Output = .pipe) throws -> ChildProcess {
        precondition(!arguments.isEmpty, "an argv needs a program")
        Signals.ignoreSIGPIPE()
        guard let executable = locate(arguments[0]) else { throw SpawnError(program: arguments[0], code: ENOENT) }
        spawnLock.lock()
        defer { spawnLock.unlock() }
        let (inR, inW) = stdin == .pipe ? try pipePair() : (-1, -1)
        let (outR, outW) = stdout == .pipe ? try pipePair() : (-1, -1)
        let (errR, errW) = try pipePair()
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 clears FD_CLOEXEC on the target, so only these three survive exec.
        posix_spawn_file_actions_adddup2(&actions, inR >= 0 ? inR : devNull, 0)
        posix_spawn_file_actions_adddup2(&actions, outW >= 0 ? outW : devNull, 1)
        posix_spawn_file_actions_adddup2(&actions, errW, 2)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // Ignored signals survive exec: the child gets the default dispositions back.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGHUP, SIGTERM, SIGINT] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let envStrings = merged.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let rc = withCStrings(arguments) { argv in
            withCStrings(envStrings) { envp in posix_spawn(&pid, executable, &actions, &attr, argv, envp) }
        }
        for fd in [inR, outW, errW, devNull] where fd >= 0 { close(fd) }
        // Our end of stdin is non-blocking: a write waits in poll(), where it can give up.
        if inW >= 0 { _ = fcntl(inW, F_SETFL, fcntl(inW, F_GETFL) | O_NONBLOCK) }
        guard rc == 0 else {
            for fd in [inW, outR, errR] where fd >= 0 { close(fd) }
            throw SpawnError(program: arguments[0], code: rc)
        }
        let command = arguments.prefix(while: { !$0.hasPrefix("-") }).prefix(3).joined(separator: " ")
        let child = ChildProcess(pid: pid, command: command, stdinFD: inW, stdoutFD: outR)
        let drain = Thread { [tail = child.tail, done = child.stderrDone] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(errR, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                let piece = Array(buffer[0..<n])
                tail.update { t in
                    t += piece
                    if t.count > 65536 { t.removeFirst(t.count - 65536) }
                }
            }
            close(errR)
            done.signal()
        }
        drain.name = "stderr of \(command)"
        drain.start()
        return child
    }

    private static func pipePair() throws -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SpawnError(program: "pipe", code: errno) }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return (fds[0], fds[1])
    }

    /// Writes to the child's stdin; throws when the child stopped reading, or (with `stallTimeout`)
    /// took nothing for that many seconds.
    public func write(_ bytes: [UInt8], stallTimeout: TimeInterval? = nil) throws {
        lock.lock()
        let fd = stdinFD
        lock.unlock()
        guard fd >= 0 else { throw Failure("\(command): its input is already closed", hint: "this is a bug in akbackup") }
        switch FileIO.writeAll(fd, bytes, stallTimeout: stallTimeout) {
        case .written: return
        case .failed(let code):
            throw Failure("\(command) stopped reading its input: \(String(cString: strerror(code)))", hint: "see its error output")
        case .stalled:
            throw Failure("\(command) took no input for \(Int(stallTimeout ?? 0))s", hint: "it may be stuck; see its error output")
        }
    }

    public func closeStdin() {
        lock.lock()
        if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
        lock.unlock()
    }

    /// Reads stdout to its end, handing each piece to `body`.
    public func readAll(chunkSize: Int = 256 * 1024, _ body: ([UInt8]) throws -> Void) throws {
        guard stdoutFD >= 0 else { return }
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try FileIO.read(stdoutFD, into: $0, path: "the output of \(command)") }
            if n == 0 { return }
            try body(Array(buffer[0..<n]))
        }
    }

    public func signal(_ sig: Int32) {
        lock.lock()
        let done = reaped != nil
        lock.unlock()
        if !done { kill(pid, sig) }
    }

    /// The stderr seen so far.
    public var stderrText: String { String(decoding: tail.read { $0 }, as: UTF8.self) }

    /// Waits for the child to exit (at most `timeout` seconds); nil if it is still running then.
    /// Closes stdin first: a child waiting for more input would never end otherwise.
    public func wait(timeout: TimeInterval? = nil) -> Termination? {
        closeStdin()
        lock.lock()
        if let r = reaped { lock.unlock(); return r }
        lock.unlock()
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        var status: Int32 = 0
        var delay: useconds_t = 500
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { status = -1; break }
            if let deadline, Date() >= deadline { return nil }
            usleep(delay)
            delay = min(delay * 2, 20_000)
        }
        // A grandchild may hold stderr open; do not wait for it forever.
        _ = stderrDone.wait(timeout: .now() + 2)
        var t = Termination(exitStatus: nil, signal: nil, stderr: stderrText)
        if status == -1 {
            t.exitStatus = -1
        } else if status & 0x7f == 0 {
            t.exitStatus = (status >> 8) & 0xff
        } else {
            t.signal = status & 0x7f
        }
        lock.lock()
        if stdoutFD >= 0 { close(stdoutFD) }
        reaped = t
        lock.unlock()
        return t
    }

    /// Ends the child: SIGTERM, `grace` seconds, then SIGKILL.
    @discardableResult
    public func terminate(grace: TimeInterval = 5, timedOut: Bool = false) -> Termination {
        signal(SIGTERM)
        var t = wait(timeout: grace) ?? {
            signal(SIGKILL)
            return wait()!
        }()
        t.timedOut = t.timedOut || timedOut
        return t
    }
}

private let spawnLock = NSLock()

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var ptrs: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    ptrs.append(nil)
    defer { for p in ptrs { free(p) } }
    return ptrs.withUnsafeBufferPointer { body($0.baseAddress!) }
}
