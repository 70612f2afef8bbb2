import Foundation
import Synchronization

/// State shared between threads, with waiting: a `Mutex` for the state and a condition for
/// "wake up, something changed". The one mechanism every blocking buffer and flag here uses.
public final class Monitor<State: Sendable>: Sendable {
    private let state: Mutex<State>
    private let changed = NSCondition()

    public init(_ initial: State) {
        state = Mutex(initial)
    }

    /// Reads or changes the state; waiters are woken afterwards.
    @discardableResult
    public func update<R: Sendable>(_ body: (inout State) throws -> R) rethrows -> R {
        let result = try state.withLock { s throws -> R in try body(&s) }
        changed.lock()
        changed.broadcast()
        changed.unlock()
        return result
    }

    /// Reads the state without waking anyone.
    public func read<R: Sendable>(_ body: (State) throws -> R) rethrows -> R {
        try state.withLock { try body($0) }
    }

    /// Waits until `ready` returns a value (checked under the lock), or until `deadline`; nil on timeout.
    /// `ready` may change the state (to take what it waited for).
    public func wait<R: Sendable>(until deadline: Date? = nil, _ ready: (inout State) -> R?) -> R? {
        changed.lock()
        defer { changed.unlock() }
        while true {
            if let value = state.withLock({ s -> R? in ready(&s) }) {
                // Others may wait for the change `ready` just made.
                changed.broadcast()
                return value
            }
            if let deadline {
                if !changed.wait(until: deadline) && Date() >= deadline {
                    return state.withLock { s -> R? in ready(&s) }
                }
            } else {
                changed.wait()
            }
        }
    }
}
