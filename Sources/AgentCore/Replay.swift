import AKBase
import AKProtocol
import Compression
import DumpFormat
import Foundation

/// Feeds a proven artifact to psql: inflate → the replay filter (only what pg_dump emits, no psql
/// meta-command, nothing that ends the transaction) → psql in restricted mode, inside one
/// transaction that only this code commits, after the whole stream inflated and passed the filter.
struct Replayer {
    let db: DatabaseServer
    let log: @Sendable (String) -> Void

    /// psql releases since the August 2025 minors accept `\restrict`: with it, psql itself refuses
    /// every backslash command whatever reaches it.
    static func supportsRestrict(psqlVersion: String?) -> Bool {
        guard let line = psqlVersion,
              let number = line.split(separator: " ").first(where: { $0.first?.isNumber == true }) else { return false }
        let parts = number.split(separator: ".").compactMap { Int($0.prefix(while: { $0.isNumber })) }
        guard let major = parts.first else { return false }
        let minor = parts.count > 1 ? parts[1] : 0
        switch major {
        case ..<13: return false
        case 13: return minor >= 22
        case 14: return minor >= 19
        case 15: return minor >= 14
        case 16: return minor >= 10
        case 17: return minor >= 6
        default: return true
        }
    }

    /// A random key for psql's restricted mode: never in the input, so nothing in it can unrestrict.
    static func restrictKey() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return String((0..<48).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] })
    }

    /// Reads the whole artifact through the replay filter without running anything: a dump that
    /// holds anything pg_dump never writes is refused before a database is created, a service stopped
    /// or live dropped — even one the operator chose to trust unsigned.
    static func check(_ spool: Spool) throws {
        let inflater = GzipInflater()
        var filter = ReplayFilter()
        do {
            try spool.readAll { chunk in try inflater.push(chunk) { _ = try filter.push($0) } }
            try inflater.finish()
            _ = try filter.finish()
        } catch let refusal as ReplayRefusal {
            throw ErrorMessage(id: nil, code: .untrusted, message: "the dump was refused before psql saw any of it: \(refusal.description)",
                               hint: "it holds something pg_dump never writes; nothing was changed")
        } catch let e as GzipError {
            throw ErrorMessage(id: nil, code: .failed, message: "the artifact is unreadable: \(e)", hint: "nothing was changed; pick another backup")
        }
    }

    /// Replays `spool` into `database`. Returns why it failed (nothing was committed then), or nil.
    /// `shouldStop` is asked between chunks (the controller went away before the swap window).
    func replay(_ spool: Spool, into database: String, restrict: Bool,
                progress: (Int64) -> Void, shouldStop: () -> Bool) -> String? {
        let sink: ReplaySink
        do {
            sink = try db.startReplay(into: database)
        } catch {
            return "psql could not start: \(describe(error))"
        }
        var preamble = ""
        if restrict { preamble += "\\restrict \(Replayer.restrictKey())\n" }
        preamble += "BEGIN;\n"
        let inflater = GzipInflater()
        var filter = ReplayFilter()
        var failure: String?
        var replayed: Int64 = 0
        var lastReport = Date()
        do {
            try sink.write(Array(preamble.utf8))
            try spool.readAll { chunk in
                if shouldStop() { throw ReplayStopped() }
                try inflater.push(chunk) { try sink.write(try filter.push($0)) }
                replayed += Int64(chunk.count)
                if Date().timeIntervalSince(lastReport) >= 2 {
                    progress(replayed)
                    lastReport = Date()
                }
            }
            try inflater.finish()
            try sink.write(try filter.finish())
        } catch let refusal as ReplayRefusal {
            failure = "the dump was refused before psql ran it: \(refusal.description)"
        } catch is ReplayStopped {
            failure = "the controller went away before the replay finished"
        } catch let e as GzipError {
            failure = "the artifact is unreadable: \(e)"
        } catch {
            // psql stopped reading: it ended, and says why on its stderr.
            let ended = sink.finish()
            return ended.failure.map { "psql failed: \($0)" } ?? describe(error)
        }
        if failure != nil {
            // No COMMIT was written: ending psql's input rolls everything back.
            sink.abort()
            _ = sink.finish()
            return failure
        }
        do {
            try sink.write(Array("COMMIT;\n".utf8))
        } catch {
            failure = "\(describe(error))"
        }
        let ended = sink.finish()
        if let f = ended.failure { return "psql failed: \(f)" }
        return failure
    }
}

private struct ReplayStopped: Error {}
