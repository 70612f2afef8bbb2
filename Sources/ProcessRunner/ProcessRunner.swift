import Foundation

/// The result of a finished local process.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    public var timedOut: Bool

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    /// The last non-empty stderr line: what a failing tool usually says about why.
    public var stderrLastLine: String {
        stderrText.split(separator: "\n").last(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }).map(String.init) ?? ""
    }
}

/// Runs local programs from argv arrays (never through a shell). Secrets go in `extraEnvironment`,
/// which only the child sees; they never appear in argv.
public enum ProcessRunner {
    /// Finds `name` on PATH (or returns it if it already contains a slash).
    public static func locate(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    public struct NotFound: Error, CustomStringConvertible {
        public var program: String
        public var description: String { "\(program): not found on PATH" }
    }

    /// Runs `arguments` to completion, capturing output. `stdin` is written and closed first.
    public static func run(_ arguments: [String], extraEnvironment: [String: String] = [:],
                           stdin: [UInt8]? = nil, timeout: TimeInterval = 120,
                           currentDirectory: String? = nil) throws -> ProcessResult {
        guard let executable = locate(arguments[0]) else { throw NotFound(program: arguments[0]) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Array(arguments.dropFirst())
        if let dir = currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: dir) }
        if !extraEnvironment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(extraEnvironment) { _, new in new }
        }
        let outPipe = Pipe(), errPipe = Pipe(), inPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = stdin == nil ? FileHandle.nullDevice : inPipe
        try process.run()
        if let input = stdin {
            inPipe.fileHandleForWriting.write(Data(input))
            try? inPipe.fileHandleForWriting.close()
        }
        let group = DispatchGroup()
        let out = DataBox(), err = DataBox()
        group.enter()
        DispatchQueue.global().async { out.data = outPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { err.data = errPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        var timedOut = false
        if group.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            process.terminate()
            group.wait()
        }
        process.waitUntilExit()
        return ProcessResult(status: process.terminationStatus, stdout: [UInt8](out.data), stderr: [UInt8](err.data), timedOut: timedOut)
    }
}

/// Written by one reader thread, read after the DispatchGroup wait: the group orders the accesses.
private final class DataBox: @unchecked Sendable {
    var data = Data()
}
