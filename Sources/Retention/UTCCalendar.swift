/// Civil dates in UTC by arithmetic (Howard Hinnant's days-from-civil algorithms): the retention
/// engine buckets thousands of backups per plan, and Foundation's `Calendar` is both slow for that
/// and easy to misuse with a local time zone. Every function here is pure and total over `Int`.
enum UTCCalendar {
    static let secondsPerDay = 86_400

    /// Floor division and modulo: -1 / 7 is -1, not 0, so dates before 1970 bucket correctly.
    static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
    static func floorMod(_ a: Int, _ b: Int) -> Int { a - floorDiv(a, b) * b }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date of a day number (days since 1970-01-01).
    static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// 1 = Monday … 7 = Sunday (ISO 8601). 1970-01-01 was a Thursday.
    static func isoWeekday(days: Int) -> Int { floorMod(days + 3, 7) + 1 }

    /// ISO 8601 week: weeks run Monday to Sunday and belong to the year their Thursday is in, so
    /// 2026-12-31 (a Thursday) is in 2026-W53 and 2027-01-01 to 01-03 are too.
    static func isoWeek(days: Int) -> (year: Int, week: Int) {
        let thursday = days - (isoWeekday(days: days) - 1) + 3
        let year = civil(days: thursday).year
        return (year, (thursday - self.days(year: year, month: 1, day: 1)) / 7 + 1)
    }

    /// Whole seconds since 1970 → (day number, second of the day).
    static func split(_ seconds: Int) -> (days: Int, second: Int) {
        (floorDiv(seconds, secondsPerDay), floorMod(seconds, secondsPerDay))
    }
}
