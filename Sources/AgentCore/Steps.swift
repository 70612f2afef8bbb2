import AKBase
import AKProtocol
import Foundation

/// Timed steps for the receipt.
struct StepLog {
    private(set) var steps: [RestoreStep] = []

    @discardableResult
    mutating func run<T>(_ name: String, _ body: () throws -> T) throws -> T {
        let start = Date()
        do {
            let value = try body()
            steps.append(RestoreStep(name: name, startedAt: Timestamp.string(start), seconds: Date().timeIntervalSince(start), ok: true))
            return value
        } catch {
            steps.append(RestoreStep(name: name, startedAt: Timestamp.string(start), seconds: Date().timeIntervalSince(start), ok: false,
                                     detail: describe(error)))
            throw error
        }
    }

    /// Runs a step whose failure is reported, not thrown.
    mutating func runQuietly(_ name: String, _ body: () throws -> Void) -> Bool {
        (try? run(name, body)) != nil
    }

    mutating func record(_ name: String, ok: Bool, detail: String?, since start: Date = Date()) {
        steps.append(RestoreStep(name: name, startedAt: Timestamp.string(start), seconds: Date().timeIntervalSince(start), ok: ok, detail: detail))
    }
}

/// The operator's words for any error.
func describe(_ error: Error) -> String {
    if let e = error as? ErrorMessage { return e.message }
    if let e = error as? HintedError { return e.summary }
    return "\(error)"
}

/// Never leaves the app services stopped: whatever path leaves a scope, they are started again.
struct AppGuard {
    let app: AppServices
    let log: @Sendable (String) -> Void
    private(set) var stoppedAt: Date?
    private(set) var healthyAt: Date?
    private(set) var isStopped = false

    init(app: AppServices, log: @escaping @Sendable (String) -> Void) {
        self.app = app
        self.log = log
    }

    mutating func stop() throws {
        if stoppedAt == nil { stoppedAt = Date() }
        isStopped = true
        try app.stop()
    }

    mutating func start() throws {
        try app.start()
        isStopped = false
    }

    mutating func markHealthy() { healthyAt = Date() }

    /// Starts the services and waits for Authentik's ready endpoint: the end of every window (swap,
    /// rollback, replace, undo), each a timed step ("start services", "wait for health", + `suffix`).
    mutating func startAndWaitHealthy(timeout: TimeInterval, steps: inout StepLog, suffix: String = "") -> Health {
        let started = steps.runQuietly("start services\(suffix)") { try start() }
        let waitStart = Date()
        let health = started ? app.waitHealthy(timeout: timeout) : Health(ok: false, detail: "the services did not start")
        steps.record("wait for health\(suffix)", ok: health.ok, detail: health.detail, since: waitStart)
        if health.ok { markHealthy() }
        return health
    }

    func downtime() -> Double? {
        guard let s = stoppedAt else { return nil }
        return (healthyAt ?? Date()).timeIntervalSince(s)
    }

    mutating func restoreIfNeeded() {
        guard isStopped else { return }
        log("starting the app services again after a failure")
        for _ in 0..<3 {
            if (try? app.start()) != nil {
                isStopped = false
                return
            }
        }
        log("could not start the app services: start them by hand (docker compose up -d)")
    }
}
