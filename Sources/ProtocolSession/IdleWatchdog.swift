import Foundation

/// Ends a remote program whose inbound data stream went silent (a link that died without closing:
/// no end of input ever arrives). After `timeout` seconds without `touch()`, `onSilence` runs on the
/// watchdog's thread — it must leave the host in a safe state and exit the process. Once `stop()`
/// returns it cannot fire; while it fires, `stop()` waits (for the exit).
public final class IdleWatchdog: @unchecked Sendable {
    private let cond = NSCondition()
    private var last = Date()
    private var stopped = false

    public init(timeout: TimeInterval, name: String, onSilence: @escaping () -> Never) {
        guard timeout > 0 else { stopped = true; return }
        let thread = Thread { [self] in
            cond.lock()
            while !stopped {
                let deadline = last.addingTimeInterval(timeout)
                if Date() >= deadline { onSilence() }
                _ = cond.wait(until: deadline)
            }
            cond.unlock()
        }
        thread.name = name
        thread.start()
    }

    public func touch() {
        cond.lock()
        last = Date()
        cond.unlock()
    }

    public func stop() {
        cond.lock()
        stopped = true
        cond.broadcast()
        cond.unlock()
    }
}
