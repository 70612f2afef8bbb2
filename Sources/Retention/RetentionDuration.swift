import Foundation

/// A span of calendar time, for `keep_within` and `min_age`, written as restic writes durations
/// (plus weeks): one or more `<number><unit>`, units in the order y, m, w, d, h, each at most once.
///
///     duration = [n "y"] [n "m"] [n "w"] [n "d"] [n "h"]   (at least one part)
///     n        = 1 to 5 decimal digits
///
/// `y` years and `m` months are calendar years and months (a day the target month lacks is clamped
/// to its last day: 31 March − 1m is 28 or 29 February); `w` is 7 days, `d` a day and `h` an hour,
/// all in UTC, where every day has 24 hours. Examples: `30d`, `12h`, `2w`, `1y2m`, `1y6m2w3d12h`.
/// Minutes and seconds have no unit: `m` is a month, as in restic.
public struct RetentionDuration: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var years = 0
    public var months = 0
    public var weeks = 0
    public var days = 0
    public var hours = 0

    public init(years: Int = 0, months: Int = 0, weeks: Int = 0, days: Int = 0, hours: Int = 0) {
        self.years = years
        self.months = months
        self.weeks = weeks
        self.days = days
        self.hours = hours
    }

    /// The largest number one part may have (5 digits): enough for any retention, small enough that
    /// no date arithmetic on it can overflow.
    public static let maxPart = 99_999

    static var units: [(Character, WritableKeyPath<RetentionDuration, Int>)] {
        [("y", \.years), ("m", \.months), ("w", \.weeks), ("d", \.days), ("h", \.hours)]
    }

    /// What the grammar says, for hints.
    public static let grammarHint = "a duration is numbers with units in this order: y (years), m (months), w (weeks), d (days), h (hours), e.g. \"30d\", \"12h\", \"2w\", \"1y2m\""

    public struct ParseError: Error, Equatable, Sendable {
        public var reason: String
    }

    /// Parses the grammar above; throws `ParseError` saying what is wrong.
    public init(parsing text: String) throws {
        let chars = Array(text)
        guard !chars.isEmpty else { throw ParseError(reason: "it is empty") }
        var i = 0
        var nextUnit = 0
        while i < chars.count {
            let start = i
            while i < chars.count, let d = chars[i].asciiValue, (0x30...0x39).contains(d) { i += 1 }
            guard i > start else {
                throw ParseError(reason: "expected a number at \"\(String(chars[start...]).prefix(20))\"")
            }
            guard i - start <= 5, let n = Int(String(chars[start..<i])), n <= Self.maxPart else {
                throw ParseError(reason: "\(String(chars[start..<i]).prefix(20)) is too large (at most \(Self.maxPart))")
            }
            guard i < chars.count else { throw ParseError(reason: "\(n) has no unit (y, m, w, d or h)") }
            let unit = chars[i]
            guard let index = Self.units.firstIndex(where: { $0.0 == unit }) else {
                throw ParseError(reason: "\"\(unit)\" is not a unit (y, m, w, d or h)")
            }
            guard index >= nextUnit else {
                throw ParseError(reason: "\"\(unit)\" comes after a smaller unit or twice (write units in the order y, m, w, d, h)")
            }
            self[keyPath: Self.units[index].1] = n
            nextUnit = index + 1
            i += 1
        }
    }

    public var isZero: Bool { years == 0 && months == 0 && weeks == 0 && days == 0 && hours == 0 }

    /// The canonical text: the non-zero parts in order ("0h" for nothing).
    public var description: String {
        let parts = Self.units.compactMap { unit, path in self[keyPath: path] == 0 ? nil : "\(self[keyPath: path])\(unit)" }
        return parts.isEmpty ? "0h" : parts.joined()
    }

    /// `date` moved back by this span, in UTC: years and months on the calendar (clamped to the
    /// month's last day), then weeks, days and hours as whole days and hours.
    public func before(_ date: Date) -> Date {
        let t = date.timeIntervalSince1970
        let whole = t.rounded(.down)
        let (day, second) = UTCCalendar.split(Int(whole))
        var (y, m, d) = UTCCalendar.civil(days: day)
        let monthIndex = y * 12 + (m - 1) - (years * 12 + months)
        y = UTCCalendar.floorDiv(monthIndex, 12)
        m = UTCCalendar.floorMod(monthIndex, 12) + 1
        d = min(d, UTCCalendar.daysInMonth(year: y, month: m))
        let shiftedDay = UTCCalendar.days(year: y, month: m, day: d) - weeks * 7 - days
        let seconds = shiftedDay * UTCCalendar.secondsPerDay + second - hours * 3600
        return Date(timeIntervalSince1970: Double(seconds) + (t - whole))
    }
}
