import AKBase
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The result of a finished local process.
public struct ProcessResult: Sendable {
    public var termination: Termination
    public var stdout: [UInt8]

    public var status: Int32 { termination.exitStatus ?? -1 }
    public var timedOut: Bool { termination.timedOut }
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { termination.stderr }
    public var stderrLastLine: String { termination.stderrLastLine }
}

extension ChildProcess {
    /// Runs `arguments` to completion within `timeout` seconds, capturing stdout (and stderr's tail).
    /// `stdin` is written on its own thread while stdout is read, so neither side can block the other.
    public static func run(_ arguments: [String], environment: [String: String] = [:], stdin: [UInt8]? = nil,
                           timeout: TimeInterval = 120) throws -> ProcessResult {
        let child = try spawn(arguments, environment: environment, stdin: stdin == nil ? .null : .pipe, stdout: .pipe)
        let written = DispatchSemaphore(value: 0)
        if let input = stdin {
            let writer = Thread {
                try? child.write(input)
                child.closeStdin()
                written.signal()
            }
            writer.start()
        } else {
            written.signal()
        }
        var out: [UInt8] = []
        var timedOut = false
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        reading: while true {
            var p = pollfd(fd: child.stdoutFD, events: Int16(POLLIN), revents: 0)
            let ms = Int32(max(0, min(1000, deadline.timeIntervalSinceNow * 1000)))
            let r = poll(&p, 1, ms)
            if r < 0 && errno != EINTR { break }
            if r > 0 {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(child.stdoutFD, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break reading }
                out += buffer[0..<n]
            }
            if Date() >= deadline { timedOut = true; break }
        }
        if timedOut { child.signal(SIGKILL) }
        // The writer ends once the child has read everything or is gone; its descriptor is closed by then.
        written.wait()
        let termination = timedOut ? child.terminate(grace: 2, timedOut: true)
                                   : (child.wait(timeout: max(1, deadline.timeIntervalSinceNow)) ?? child.terminate(grace: 2, timedOut: true))
        return ProcessResult(termination: termination, stdout: out)
    }
}
