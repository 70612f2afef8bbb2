import AKProtocol
import Foundation

/// Artifact names are per second (the runbook's format), so two backups started in the same second
/// would get the same name and the second would be refused by the NAS. The agent runs one operation
/// at a time (its lock), so it can guarantee unique names itself: it remembers the last name it
/// issued and waits into the next second when now would repeat it.
enum BackupNaming {
    /// How long to wait before `now` gives a name after `last`; 0 when it already does. A `last`
    /// further ahead than `maxWait` (the clock was set back) is not waited for: the NAS still refuses
    /// to overwrite an existing name.
    static func wait(after last: String?, now: Date, maxWait: TimeInterval = 2) -> TimeInterval {
        guard let last, ArtifactName.isValid(last), ArtifactName.make(at: now) <= last else { return 0 }
        let second = now.timeIntervalSince1970.rounded(.down)
        var candidate = second + 1
        while ArtifactName.make(at: Date(timeIntervalSince1970: candidate)) <= last, candidate - second <= maxWait {
            candidate += 1
        }
        let wait = candidate - now.timeIntervalSince1970
        return wait <= maxWait ? wait : 0
    }

    static func lastNamePath(stateDir: String) -> String {
        (stateDir as NSString).appendingPathComponent("last-backup-name")
    }

    /// The name for a backup starting now; call with the operation lock held.
    static func next(stateDir: String, sleep: (TimeInterval) -> Void = { Thread.sleep(forTimeInterval: $0) },
                     clock: () -> Date = Date.init) -> (name: String, startedAt: Date) {
        let path = lastNamePath(stateDir: stateDir)
        let last = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        let pause = wait(after: last, now: clock())
        if pause > 0 { sleep(pause) }
        let startedAt = clock()
        let name = ArtifactName.make(at: startedAt)
        // Best effort: without the record the NAS's refusal of an existing name is still the backstop.
        try? (name + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return (name, startedAt)
    }
}
