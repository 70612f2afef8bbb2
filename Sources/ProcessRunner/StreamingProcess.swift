import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process whose stdout is consumed as a stream (pg_dump) or whose stdin is fed as one (psql).
/// stderr is collected on a background thread, bounded, so the child can never block on it.
public final class StreamingProcess {
    private let process: Process
    private let stdoutPipe: Pipe?
    private let stdinPipe: Pipe?
    private let stderrPipe = Pipe()
    private let stderrDone = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var stderrBytes: [UInt8] = []
    public let command: String

    public enum Direction { case readStdout, writeStdin }

    private init(process: Process, stdoutPipe: Pipe?, stdinPipe: Pipe?, command: String) {
        self.process = process
        self.stdoutPipe = stdoutPipe
        self.stdinPipe = stdinPipe
        self.command = command
    }

    public static func start(_ arguments: [String], extraEnvironment: [String: String] = [:],
                             direction: Direction = .readStdout) throws -> StreamingProcess {
        guard let executable = ProcessRunner.locate(arguments[0]) else { throw ProcessRunner.NotFound(program: arguments[0]) }
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Array(arguments.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(extraEnvironment) { _, new in new }
        let out = direction == .readStdout ? Pipe() : nil
        let inp = direction == .writeStdin ? Pipe() : nil
        process.standardOutput = out ?? FileHandle.nullDevice
        process.standardInput = inp ?? FileHandle.nullDevice
        let child = StreamingProcess(process: process, stdoutPipe: out, stdinPipe: inp,
                                     command: arguments.prefix(while: { !$0.hasPrefix("-") || $0 == arguments[0] }).joined(separator: " "))
        process.standardError = child.stderrPipe
        try process.run()
        let errHandle = child.stderrPipe.fileHandleForReading
        Thread.detachNewThread {
            while true {
                let data = errHandle.availableData
                if data.isEmpty { break }
                child.lock.lock()
                child.stderrBytes.append(contentsOf: data)
                if child.stderrBytes.count > 65536 { child.stderrBytes.removeFirst(child.stderrBytes.count - 65536) }
                child.lock.unlock()
            }
            child.stderrDone.signal()
        }
        return child
    }

    /// Reads stdout to its end, handing each piece to `body`.
    public func readAll(chunkSize: Int = 256 * 1024, _ body: ([UInt8]) throws -> Void) throws {
        guard let fd = stdoutPipe?.fileHandleForReading.fileDescriptor else { return }
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, chunkSize) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ProcessFailure(message: "reading from \(command) failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return }
            try body(Array(buffer[0..<n]))
        }
    }

    /// Writes to the child's stdin; throws if the child has gone away.
    public func write(_ bytes: [UInt8]) throws {
        guard let fd = stdinPipe?.fileHandleForWriting.fileDescriptor else { return }
        var offset = 0
        try bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ProcessFailure(message: "\(command) stopped reading its input: \(String(cString: strerror(errno)))")
                }
                offset += n
            }
        }
    }

    public func closeStdin() {
        try? stdinPipe?.fileHandleForWriting.close()
    }

    public func kill() {
        if process.isRunning { process.terminate() }
        closeStdin()
    }

    public struct Outcome {
        public var status: Int32
        public var signaled: Bool
        public var stderr: String

        /// Nil when the child exited 0 and said nothing that looks like an error; else why it failed.
        public var failure: String? {
            let errorLine = stderr.split(separator: "\n").first(where: {
                let l = $0.lowercased()
                return l.contains("error:") || l.hasPrefix("error") || l.contains("fatal:")
            }).map(String.init)
            if status != 0 || signaled {
                let why = signaled ? "killed by signal \(status)" : "exit status \(status)"
                let last = errorLine ?? stderr.split(separator: "\n").last.map(String.init) ?? ""
                return last.isEmpty ? why : "\(last) (\(why))"
            }
            return errorLine
        }
    }

    public struct ProcessFailure: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Waits for the child to exit and its stderr to be drained.
    public func wait() -> Outcome {
        closeStdin()
        process.waitUntilExit()
        stderrDone.wait()
        lock.lock()
        defer { lock.unlock() }
        return Outcome(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                       stderr: String(decoding: stderrBytes, as: UTF8.self))
    }
}
