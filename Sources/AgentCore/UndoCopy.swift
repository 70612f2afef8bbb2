import AKBase
import AKProtocol
import Compression
import Crypto
import DumpFormat
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The agent's own undo copy of the live database, taken before a `--replace` drops anything:
/// `undo/authentik-undo-<stamp>.sql.gz` in the state directory (0600, created exclusively), checked
/// (gzip, trailer) after it is written, with a sidecar `.json` holding its size and SHA-256. A
/// replace is refused when it cannot be made; `restore --undo` replays the newest one.
struct UndoCopy: Codable, Equatable {
    var file: String
    var database: String
    var size: Int64
    var sha256: String
    var madeAt: String

    static func directory(stateDir: String) -> String { (stateDir as NSString).appendingPathComponent("undo") }

    static func make(db: DatabaseServer, stateDir: String, stamp: String, now: Date) throws -> UndoCopy {
        let dir = directory(stateDir: stateDir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let name = "authentik-undo-\(stamp).sql.gz"
        let path = (dir as NSString).appendingPathComponent(name)
        let partial = path + ".partial"
        if let live = try? db.databaseSize(db.liveDatabase), let free = FileIO.freeBytes(dir), free < live / 2 + (64 << 20) {
            throw ErrorMessage(id: nil, code: .noSpace,
                               message: "no room for an undo copy of \(db.liveDatabase) in \(dir): \(ByteFormat.human(free)) free, the database is \(ByteFormat.human(live))",
                               hint: "free space there (or restore with the default swap mode); nothing was changed")
        }
        let fd: Int32
        do {
            fd = try FileIO.createExclusive(partial, mode: 0o600)
        } catch let e as FileIOError {
            throw ErrorMessage(id: nil, code: .failed, message: e.summary, hint: e.hint)
        }
        var published = false
        defer {
            close(fd)
            if !published { unlink(partial) }
        }
        let dump = try db.startDump(of: db.liveDatabase, snapshot: nil)
        var hasher = SHA256()
        var size: Int64 = 0
        var writeError: Int32?
        let gzip = ParallelGzip(threads: max(1, ProcessInfo.processInfo.activeProcessorCount - 1)) { member in
            guard writeError == nil else { return }
            if let code = FileIO.writeAll(fd, member) { writeError = code; return }
            hasher.update(data: member)
            size += Int64(member.count)
        }
        var inspector = DumpInspector()
        try dump.readAll { chunk in
            inspector.push(chunk)
            try gzip.write(chunk)
        }
        try gzip.finish()
        let ended = dump.wait()
        if let code = writeError {
            let e = FileIOError("write the undo copy in", path: dir, code: code)
            throw ErrorMessage(id: nil, code: e.isNoSpace ? .noSpace : .ioError, message: e.summary, hint: e.hint + "; nothing was changed")
        }
        if let failure = ended.failure ?? (inspector.finish() ? nil : inspector.incompleteReason) {
            throw ErrorMessage(id: nil, code: .failed, message: "the undo copy of \(db.liveDatabase) failed: \(failure)",
                               hint: "nothing was changed; check the database with `akbackup doctor`")
        }
        guard fsync(fd) == 0 else {
            throw ErrorMessage(id: nil, code: .ioError, message: "cannot sync the undo copy: \(String(cString: strerror(errno)))", hint: "nothing was changed")
        }
        // Read it back: only a copy that inflates to a complete dump counts.
        let check = try Spool.open(existing: partial)
        let inflater = GzipInflater()
        var reread = DumpInspector()
        var rehash = SHA256()
        try check.readAll { chunk in
            rehash.update(data: chunk)
            try inflater.push(chunk) { reread.push($0) }
        }
        try inflater.finish()
        let digest = Hex.encode(hasher.finalize())
        guard reread.finish(), Hex.encode(rehash.finalize()) == digest else {
            throw ErrorMessage(id: nil, code: .ioError, message: "the undo copy does not read back complete", hint: "check the agent host's disk; nothing was changed")
        }
        guard rename(partial, path) == 0 else {
            throw ErrorMessage(id: nil, code: .ioError, message: "cannot publish the undo copy: \(String(cString: strerror(errno)))", hint: "nothing was changed")
        }
        published = true
        let copy = UndoCopy(file: name, database: db.liveDatabase, size: size, sha256: digest, madeAt: Timestamp.string(now))
        let encoder = MessageCodec.canonicalEncoder()
        try FileIO.writeAtomically((dir as NSString).appendingPathComponent(name.replacingOccurrences(of: ".sql.gz", with: ".json")),
                                   bytes: [UInt8](try encoder.encode(copy)), mode: 0o600, replace: false)
        try FileIO.fsyncDirectory(dir)
        return copy
    }

    /// Undo copies on this host, newest first (by the stamp in their name).
    static func list(stateDir: String) -> [UndoCopy] {
        let dir = directory(stateDir: stateDir)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasPrefix("authentik-undo-") && $0.hasSuffix(".json") }.sorted(by: >).compactMap { name in
            guard let bytes = try? FileIO.readFile((dir as NSString).appendingPathComponent(name), limit: 4096),
                  let copy = try? JSONDecoder().decode(UndoCopy.self, from: Data(bytes)),
                  copy.file == name.replacingOccurrences(of: ".json", with: ".sql.gz"),
                  FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(copy.file)) else { return nil }
            return copy
        }
    }

    /// "yyyymmddhhmmss" from the file name.
    var stamp: String { String(file.dropFirst("authentik-undo-".count).prefix(14)) }
}
