import AKBase
import Foundation
import ProcessRunner
#if canImport(Glibc)
import Glibc
#endif

/// A local child process as a channel: its stdin/stdout are the stream, stderr is kept as a tail.
/// Runs the remote programs in-process for tests and the LocalConnector. Wraps the child's
/// descriptors and a wake-up pipe, hence `@unchecked Sendable`: they are closed once, under `state`.
public final class SubprocessChannel: ByteChannel, @unchecked Sendable {
    public let peerName: String
    public var processIdentifier: pid_t { child.pid }
    private let child: ChildProcess
    private let wakeRead: Int32    // lets close() interrupt a reader blocked in poll()
    private let wakeWrite: Int32
    private let writeStallTimeout: TimeInterval?
    private let state = Monitor(ChannelState())

    private struct ChannelState: Sendable {
        var closed = false
        var writeClosed = false
        var readersInFlight = 0
        var termination: ChannelTermination?
    }

    public init(arguments: [String], environment: [String: String] = [:], peerName: String? = nil,
                writeStallTimeout: TimeInterval? = nil) throws {
        let label = peerName ?? arguments.first ?? "subprocess"
        guard let program = arguments.first, !program.isEmpty else {
            throw TransportError(.remoteProgram, host: label, "empty argument list", hint: "pass the program to run as the first argument")
        }
        do {
            child = try ChildProcess.spawn(arguments, environment: environment, stdin: .pipe, stdout: .pipe)
        } catch let e as SpawnError {
            throw TransportError(.remoteProgram, host: label, e.summary, hint: "check that \(program) is installed and on PATH")
        }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            child.terminate(grace: 1)
            throw TransportError(.io, host: label, "pipe: \(String(cString: strerror(errno)))", hint: "check the process's open file limit")
        }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        self.peerName = label
        self.writeStallTimeout = writeStallTimeout
    }

    deinit {
        close()
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
    }

    /// The stderr lines seen so far.
    public var stderrLines: [String] {
        var tail = StderrTail()
        tail.append(Array(child.stderrText.utf8))
        return tail.finish()
    }

    private func closedError() -> TransportError {
        TransportError(.closed, host: peerName, "channel used after close", hint: "this is a bug in the caller")
    }

    public func write(_ bytes: [UInt8]) throws {
        if state.read({ $0.closed || $0.writeClosed }) { throw closedError() }
        do {
            try child.write(bytes, stallTimeout: writeStallTimeout)
        } catch let f as Failure {
            let lines = stderrLines
            throw TransportError(.io, host: peerName, f.summary + (lines.isEmpty ? "" : "\nstderr:\n" + lines.joined(separator: "\n")),
                                 hint: "the program exited or closed its input early; see its stderr above")
        }
    }

    public func read(maxLength: Int, timeout: TimeInterval?) throws -> [UInt8] {
        let entered = state.update { s -> Bool in
            if s.closed { return false }
            s.readersInFlight += 1
            return true
        }
        guard entered else { throw closedError() }
        defer { state.update { $0.readersInFlight -= 1 } }
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        var fds = [pollfd(fd: child.stdoutFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        while true {
            let wait = deadline.map { Int32(max(0, min($0.timeIntervalSinceNow, 1)) * 1000) + 1 } ?? 1000
            let r = poll(&fds, 2, wait)
            if r < 0 && errno == EINTR { continue }
            if fds[1].revents != 0 { throw closedError() }
            if r > 0 { break }
            if let deadline, Date() >= deadline { throw TransportError.silent(peerName, seconds: timeout ?? 0) }
        }
        var buf = [UInt8](repeating: 0, count: max(1, min(maxLength, 1 << 20)))
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(child.stdoutFD, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TransportError(.io, host: peerName, "read failed: \(String(cString: strerror(errno)))", hint: "see the program's stderr")
            }
            return Array(buf[0..<n])
        }
    }

    public func closeWrite() throws {
        let ok = state.update { s -> Bool in
            if s.closed { return false }
            s.writeClosed = true
            return true
        }
        guard ok else { throw closedError() }
        child.closeStdin()
    }

    @discardableResult
    public func close() -> ChannelTermination {
        let first = state.update { s -> Bool in
            if s.closed { return false }
            s.closed = true
            s.writeClosed = true
            return true
        }
        guard first else {
            return state.wait { $0.termination }!
        }
        var one: UInt8 = 1
        _ = Glibc.write(wakeWrite, &one, 1)
        // Readers leave first: reaping the child closes its stdout descriptor.
        _ = state.wait { $0.readersInFlight == 0 ? true : nil }
        // Give the child a moment to finish on its own after EOF, then insist.
        let ended = child.wait(timeout: 5) ?? child.terminate(grace: 2)
        var tail = StderrTail()
        tail.append(Array(ended.stderr.utf8))
        let t = ChannelTermination(exitStatus: ended.exitStatus, signal: ended.signal.map(Signals.name), stderrTail: tail.finish())
        state.update { $0.termination = t }
        return t
    }
}
