import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failed file operation, phrased for the operator.
public struct FileIOError: HintedError, CustomStringConvertible, Equatable, Sendable {
    public var path: String
    public var operation: String
    public var code: Int32

    public init(_ operation: String, path: String, code: Int32) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    public var isNoSpace: Bool { code == ENOSPC || code == EDQUOT }
    public var summary: String { "cannot \(operation) \(path): \(String(cString: strerror(code)))" }
    public var hint: String {
        switch code {
        case ENOSPC, EDQUOT: return "free space on the filesystem holding \((path as NSString).deletingLastPathComponent)"
        case EACCES, EPERM: return "check the owner and mode of \((path as NSString).deletingLastPathComponent) (running as \(NSUserName()))"
        case ELOOP: return "\(path) is a symbolic link; akbackup never follows links where it writes"
        case EEXIST: return "\(path) already exists; akbackup never overwrites it"
        case ENOENT: return "\((path as NSString).deletingLastPathComponent) does not exist"
        default: return "check the filesystem holding \(path)"
        }
    }
    public var description: String { summary }
}

/// File primitives every program uses: EINTR-safe reads and writes, files created exclusively and
/// never through a symbolic link, and the one atomic publish (temp → fsync → rename or link →
/// fsync of the directory).
public enum FileIO {
    /// Writes all bytes; nil on success, else errno.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += n
        }
        return nil
    }

    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
        bytes.withUnsafeBytes { writeAll(fd, $0) }
    }

    /// How a write to a pipe or socket that may stop draining ended.
    public enum DrainedWrite: Equatable, Sendable {
        case written
        /// write() failed with this errno (EPIPE: the reader is gone).
        case failed(Int32)
        /// Nothing was taken for `stallTimeout` seconds.
        case stalled
    }

    /// Writes all of `bytes` to a non-blocking descriptor, waiting in poll() while it is full, so a
    /// reader that stops reading cannot hold the writer forever: `.stalled` after `stallTimeout`
    /// seconds without progress (nil: no limit).
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], stallTimeout: TimeInterval?) -> DrainedWrite {
        var offset = 0
        var lastProgress = Date()
        return bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 {
                    offset += n
                    lastProgress = Date()
                    continue
                }
                if n < 0 && errno == EINTR { continue }
                if n < 0 && errno != EAGAIN { return .failed(errno) }
                let left = stallTimeout.map { $0 - Date().timeIntervalSince(lastProgress) } ?? 1
                if left <= 0 { return .stalled }
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, Int32(min(left, 1) * 1000) + 1)
            }
            return .written
        }
    }

    /// Reads up to `count` bytes into `buffer`; 0 at end of file. Throws errno as FileIOError.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw FileIOError("read", path: path, code: errno)
        }
    }

    /// A new file, created exclusively (it must not exist) and never through a symbolic link.
    public static func createExclusive(_ path: String, mode: mode_t) throws -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileIOError("create", path: path, code: errno) }
        return fd
    }

    /// Opens an existing file for reading, refusing a symbolic link in its last component.
    public static func openForReading(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw FileIOError("open", path: path, code: errno) }
        return fd
    }

    /// The whole file, refusing one larger than `limit` bytes (a peer's file is never trusted to be small).
    public static func readFile(_ path: String, limit: Int) throws -> [UInt8] {
        let fd = try openForReading(path)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileIOError("stat", path: path, code: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw FileIOError("read", path: path, code: EINVAL) }
        guard Int(st.st_size) <= limit else { throw FileIOError("read", path: path, code: EFBIG) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try read(fd, into: $0, path: path) }
            if n == 0 { return out }
            out += buffer[0..<n]
            if out.count > limit { throw FileIOError("read", path: path, code: EFBIG) }
        }
    }

    /// fsync of a directory, so that a rename or link in it survives a crash.
    public static func fsyncDirectory(_ directory: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIOError("open", path: directory, code: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileIOError("sync", path: directory, code: errno) }
    }

    /// Publishes `bytes` at `path`: written to `temp` (created exclusively, default a random name
    /// beside `path`), fsynced, then renamed over `path` (`replace`) or linked to it — which fails if
    /// `path` exists, so nothing is ever overwritten — and the directory fsynced. On any failure the
    /// temp file is removed and `path` is as it was. With `group`, the file gets that group before it
    /// gets `mode` and a name, so a group-readable mode never applies to the creator's group.
    public static func writeAtomically(_ path: String, bytes: [UInt8], mode: mode_t, replace: Bool, temp: String? = nil,
                                       group: gid_t? = nil) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let tempPath = temp ?? "\(path).tmp-\(UInt32.random(in: 0...UInt32.max))"
        // Owner-only until the group is right: the creator's group must never read it.
        let fd = try createExclusive(tempPath, mode: group == nil ? mode : mode & 0o700)
        var published = false
        defer { if !published { unlink(tempPath) } }
        do {
            defer { close(fd) }
            if let code = writeAll(fd, bytes) { throw FileIOError("write", path: tempPath, code: code) }
            if let group, fchown(fd, uid_t.max, group) != 0 { throw FileIOError("change the group of", path: tempPath, code: errno) }
            guard fchmod(fd, mode) == 0 else { throw FileIOError("chmod", path: tempPath, code: errno) }
            guard fsync(fd) == 0 else { throw FileIOError("sync", path: tempPath, code: errno) }
        }
        if replace {
            guard rename(tempPath, path) == 0 else { throw FileIOError("rename to", path: path, code: errno) }
        } else {
            guard link(tempPath, path) == 0 else { throw FileIOError("publish", path: path, code: errno) }
            unlink(tempPath)
        }
        published = true
        try fsyncDirectory(directory.isEmpty ? "." : directory)
    }

    /// Free bytes for unprivileged users on the filesystem holding `path` (or its nearest existing parent).
    public static func freeBytes(_ path: String) -> Int64? {
        var p = path
        while !FileManager.default.fileExists(atPath: p), p != "/" { p = (p as NSString).deletingLastPathComponent }
        var st = statvfs()
        guard statvfs(p, &st) == 0 else { return nil }
        return Int64(st.f_bavail) * Int64(st.f_frsize)
    }
}
