import AKBase
import AKProtocol
import Foundation

/// `--log-format` of the scheduled jobs: human text, or one JSON object per line on stdout.
public enum LogFormat: String, CaseIterable, Sendable {
    case text, json
}

/// How a scheduled job ended, when it did not throw.
public struct JobResult: Sendable {
    public var exit: ExitStatus
    public var artifact: String?
    public var bytes: Int64?
    /// What the job printed for the operator (the ping's body).
    public var output: String
    /// Why it failed without an error being thrown (a restore test whose receipt says FAILED).
    public var failure: Failure?
    /// Backups the prune after a backup removed.
    public var pruned: Int?

    public init(exit: ExitStatus = .ok, artifact: String? = nil, bytes: Int64? = nil, output: String = "", failure: Failure? = nil,
                pruned: Int? = nil) {
        self.exit = exit
        self.artifact = artifact
        self.bytes = bytes
        self.output = output
        self.failure = failure
        self.pruned = pruned
    }
}

/// One line of `--log-format json`. Absent facts are left out, not null.
public struct JobEvent: Equatable, Sendable {
    public var event: String
    public var operation: String
    public var time: String
    public var outcome: String?
    public var exitCode: Int32?
    public var bytes: Int64?
    public var seconds: Double?
    public var artifact: String?
    public var pruned: Int?
    public var error: String?
    public var hint: String?

    /// One JSON object on one line, keys always in this order (JSONEncoder's order is not
    /// stable), so the lines read and diff the same every run.
    public var jsonLine: String {
        let fields: [(String, (any Encodable)?)] = [
            ("event", event), ("operation", operation), ("time", time), ("outcome", outcome), ("exitCode", exitCode),
            ("bytes", bytes), ("seconds", seconds), ("artifact", artifact), ("pruned", pruned), ("error", error), ("hint", hint),
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let members = fields.compactMap { key, value -> String? in
            guard let value, let data = try? encoder.encode(value) else { return nil }
            return "\"\(key)\":" + String(decoding: data, as: UTF8.self)
        }
        return "{" + members.joined(separator: ",") + "}"
    }
}

/// The frame of a scheduled job (`backup`, `restore-test`): a start and an end event in
/// `--log-format json`, the heartbeat pings, and the operator's error lines on stderr. It never
/// throws: it returns the exit code, which a failed ping or log write cannot change.
public struct ScheduledRun: Sendable {
    public var operation: String
    public var logFormat: LogFormat
    public var notifier: Notifier?
    /// One line to stdout (an event), one block to stderr (an error and its hint).
    public var writeLine: @Sendable (String) -> Void
    public var writeError: @Sendable (String) -> Void
    public var clock: @Sendable () -> Date

    public init(operation: String, logFormat: LogFormat, notifier: Notifier?,
                writeLine: @escaping @Sendable (String) -> Void = { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) },
                writeError: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) },
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.operation = operation
        self.logFormat = logFormat
        self.notifier = notifier
        self.writeLine = writeLine
        self.writeError = writeError
        self.clock = clock
    }

    public func run(_ body: () throws -> JobResult) -> Int32 {
        let began = clock()
        log(JobEvent(event: "start", operation: operation, time: Timestamp.string(began)))
        notifier?.ping(.start)

        var result: JobResult
        var failure: (summary: String, hint: String)?
        do {
            result = try body()
            if let f = result.failure {
                failure = (f.summary, f.hint)
                writeError(describeForOperator(f))
            }
        } catch {
            let hinted = error as? HintedError
            failure = (hinted?.summary ?? "\(error)", hinted?.hint ?? "this is unexpected; please report it with the command you ran")
            let text = describeForOperator(error)
            writeError(text)
            result = JobResult(exit: ExitStatus.of(error), output: text)
        }
        let ended = clock()
        let ok = result.exit == .ok
        log(JobEvent(event: "end", operation: operation, time: Timestamp.string(ended), outcome: ok ? "ok" : "failed",
                     exitCode: result.exit.rawValue, bytes: result.bytes, seconds: (ended.timeIntervalSince(began) * 1000).rounded() / 1000,
                     artifact: result.artifact, pruned: result.pruned, error: failure?.summary, hint: failure?.hint))
        if let notifier {
            var body = result.output
            if let failure, result.failure != nil { body += (body.hasSuffix("\n") || body.isEmpty ? "" : "\n") + "error: \(failure.summary)\nhint: \(failure.hint)\n" }
            if !ok { body += "akbackup \(operation): exit code \(result.exit.rawValue)\n" }
            notifier.ping(ok ? .success : .failure, body: body)
        }
        return result.exit.rawValue
    }

    private func log(_ event: JobEvent) {
        if logFormat == .json { writeLine(event.jsonLine) }
    }
}
