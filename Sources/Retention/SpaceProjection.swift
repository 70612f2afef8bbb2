import Foundation

/// Will the NAS fill up? The recent backups give a rate (one backup of about the recent average
/// size every average interval); the policy's own plan, run after each simulated backup, gives
/// what is removed on the way. So a NAS whose policy keeps a fixed window stops growing, and one
/// without a policy grows by every backup. Pure.
public struct SpaceProjection: Equatable, Sendable {
    /// Bytes one simulated backup adds: the mean of the newest (up to 7) recent backups.
    public var backupSize: Int64
    /// Seconds between backups: the mean interval of the recent ones.
    public var interval: TimeInterval
    /// Bytes a day the backups add before anything is removed.
    public var grossBytesPerDay: Double { Double(backupSize) * 86_400 / interval }
    /// Most bytes more than now that the backups occupy within the horizon (after pruning).
    public var peakGrowth: Int64
    /// Days from now until the growth exceeds the free space; nil when it does not within the horizon.
    public var daysUntilFull: Double?
    public var horizonDays: Int

    /// Backups of the last 30 days count as recent; fewer than two give no projection (nil).
    public static func project(policy: RetentionPolicy, backups: [RetentionBackup], freeBytes: Int64, now: Date,
                               horizonDays: Int = 30) -> SpaceProjection? {
        let window = now.addingTimeInterval(-30 * 86_400)
        let recent = backups.filter { $0.date > window && $0.date <= now }.sorted { $0.date > $1.date }
        guard recent.count >= 2, let newest = recent.first?.date, let oldest = recent.last?.date else { return nil }
        let sample = recent.prefix(7)
        let size = sample.reduce(Int64(0)) { $0 + $1.size } / Int64(sample.count)
        let horizon = TimeInterval(horizonDays) * 86_400
        // At most about 1,500 simulated backups: hourly ones for a month, or coarser steps.
        let interval = max(newest.timeIntervalSince(oldest) / Double(recent.count - 1), (horizon / 1500).rounded(.up))
        var projection = SpaceProjection(backupSize: size, interval: interval, peakGrowth: 0, daysUntilFull: nil, horizonDays: horizonDays)
        let end = now.addingTimeInterval(horizon)
        guard size > 0 else { return projection }

        if !policy.isConfigured {
            // Nothing is ever removed: linear growth.
            let steps = Int((end.timeIntervalSince(newest) / interval).rounded(.down))
            projection.peakGrowth = Int64(max(steps, 0)) * size
            let needed = Double(freeBytes) / Double(size)
            let fullAt = newest.addingTimeInterval((needed.rounded(.down) + 1) * interval)
            if fullAt <= end { projection.daysUntilFull = max(0, fullAt.timeIntervalSince(now) / 86_400) }
            return projection
        }

        var current = backups
        let start = current.reduce(Int64(0)) { $0 + $1.size }
        var t = newest.addingTimeInterval(interval)
        var step = 0
        while t <= end {
            step += 1
            // A new backup is assumed good: it becomes the newest that verifies, as after a real backup.
            current = current.map { var b = $0; b.verified = nil; return b }
            current.append(RetentionBackup(name: "projected-\(step)", date: t, size: size, trusted: true, verified: true))
            let plan = policy.plan(backups: current, now: t)
            current = plan.decisions.filter(\.keep).map(\.backup)
            let growth = current.reduce(Int64(0)) { $0 + $1.size } - start
            projection.peakGrowth = max(projection.peakGrowth, growth)
            if growth > freeBytes, projection.daysUntilFull == nil {
                projection.daysUntilFull = max(0, t.timeIntervalSince(now) / 86_400)
                break
            }
            t = t.addingTimeInterval(interval)
        }
        return projection
    }
}
