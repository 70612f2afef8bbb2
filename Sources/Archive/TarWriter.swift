import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What one directory tree held when it was archived: the manifest's per-mount facts. `digest` is
/// SHA-256 over one line per entry (kind, mode, size, content SHA-256 or link target, path; no
/// owners or times), so an unpacked copy can be checked without the archive.
public struct TreeSummary: Sendable, Equatable, Codable {
    public var files: Int
    public var directories: Int
    public var symlinks: Int
    public var bytes: Int64
    public var digest: String
}

public enum TarError: Error, Equatable, CustomStringConvertible {
    /// Entries that could not be read (path relative to the tree, errno text): the set would be partial.
    case unreadable([String])
    /// Device files, FIFOs and sockets are never archived.
    case unsupported(path: String, kind: String)
    /// A file changed size while it was read.
    case changed(path: String)
    case notADirectory(String)

    public var description: String {
        switch self {
        case .unreadable(let paths): return "cannot read \(paths.count) entr\(paths.count == 1 ? "y" : "ies"): \(paths.prefix(10).joined(separator: ", "))\(paths.count > 10 ? ", …" : "")"
        case .unsupported(let path, let kind): return "\(path) is a \(kind); only files, directories and symbolic links are backed up"
        case .changed(let path): return "\(path) changed size while it was read"
        case .notADirectory(let path): return "\(path) is not a directory"
        }
    }
}

/// Streams a directory tree as POSIX tar under `prefix/`: entries in byte order of their names,
/// symbolic links stored as links (never followed), nothing outside the tree, every directory opened
/// relative to its parent with O_NOFOLLOW so a link swapped in cannot lead out.
public struct TarWriter {
    public let root: String
    public let prefix: String
    let write: ([UInt8]) throws -> Void
    /// Reads a file this process may not open (the relative path, its size, where the bytes go):
    /// the agent reads those through a container that mounts the tree. Nil: they are unreadable.
    let readThrough: ((_ relative: String, _ sink: ([UInt8]) throws -> Void) throws -> Void)?
    var lines: [String] = []
    var unreadable: [String] = []
    var summary = TreeSummary(files: 0, directories: 0, symlinks: 0, bytes: 0, digest: "")

    public init(root: String, prefix: String,
                readThrough: ((_ relative: String, _ sink: ([UInt8]) throws -> Void) throws -> Void)? = nil,
                write: @escaping ([UInt8]) throws -> Void) {
        self.root = root
        self.prefix = prefix
        self.readThrough = readThrough
        self.write = write
    }

    /// Archives the tree (without the end-of-archive blocks, so several trees can share one archive).
    public mutating func archive() throws -> TreeSummary {
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOTDIR || errno == ELOOP { throw TarError.notADirectory(root) }
            throw TarError.unreadable([".: \(String(cString: strerror(errno)))"])
        }
        var st = stat()
        fstat(fd, &st)
        try emit(TarEntry(path: prefix, kind: .directory, mode: UInt32(st.st_mode), uid: st.st_uid, gid: st.st_gid, mtime: Int64(st.st_mtim.tv_sec)))
        lines.append("d \(String(st.st_mode & 0o7777, radix: 8)) 0 - .")
        try walk(fd, relative: "")
        guard unreadable.isEmpty else { throw TarError.unreadable(unreadable) }
        summary.digest = SHA256.hash(data: Array(lines.joined(separator: "\n").utf8)).map { String(format: "%02x", $0) }.joined()
        return summary
    }

    private mutating func emit(_ entry: TarEntry) throws { try write(TarHeader.encode(entry)) }

    /// `dirFD` is owned here and closed.
    private mutating func walk(_ dirFD: Int32, relative: String) throws {
        guard let dir = fdopendir(dirFD) else { close(dirFD); unreadable.append("\(relative.isEmpty ? "." : relative): \(String(cString: strerror(errno)))"); return }
        defer { closedir(dir) }
        var names: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        for name in names.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            let rel = relative.isEmpty ? name : relative + "/" + name
            let path = prefix.isEmpty ? rel : prefix + "/" + rel
            var st = stat()
            guard fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
                unreadable.append("\(rel): \(String(cString: strerror(errno)))"); continue
            }
            let mode = UInt32(st.st_mode)
            let mtime = Int64(st.st_mtim.tv_sec)
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                let child = openat(dirfd(dir), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard child >= 0 else { unreadable.append("\(rel): \(String(cString: strerror(errno)))"); continue }
                try emit(TarEntry(path: path, kind: .directory, mode: mode, uid: st.st_uid, gid: st.st_gid, mtime: mtime))
                summary.directories += 1
                lines.append("d \(String(mode & 0o7777, radix: 8)) 0 - \(rel)")
                try walk(child, relative: rel)
            case S_IFLNK:
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = readlinkat(dirfd(dir), name, &buffer, buffer.count - 1)
                guard n >= 0 else { unreadable.append("\(rel): \(String(cString: strerror(errno)))"); continue }
                let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                try emit(TarEntry(path: path, kind: .symlink(target: target), mode: mode, uid: st.st_uid, gid: st.st_gid, mtime: mtime))
                summary.symlinks += 1
                lines.append("l 777 0 \(target) \(rel)")
            case S_IFREG:
                let fd = openat(dirfd(dir), name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
                let size = Int64(st.st_size)
                if fd < 0, errno == EACCES, let readThrough {
                    try emit(TarEntry(path: path, kind: .file(size: size), mode: mode, uid: st.st_uid, gid: st.st_gid, mtime: mtime))
                    var hasher = SHA256()
                    var got: Int64 = 0
                    try readThrough(rel) { chunk in
                        guard got + Int64(chunk.count) <= size else { throw TarError.changed(path: rel) }
                        hasher.update(data: chunk)
                        got += Int64(chunk.count)
                        try write(chunk)
                    }
                    guard got == size else { throw TarError.changed(path: rel) }
                    try write(TarHeader.padding(size))
                    summary.files += 1
                    summary.bytes += size
                    lines.append("f \(String(mode & 0o7777, radix: 8)) \(size) \(hasher.finalize().map { String(format: "%02x", $0) }.joined()) \(rel)")
                    continue
                }
                guard fd >= 0 else { unreadable.append("\(rel): \(String(cString: strerror(errno)))"); continue }
                defer { close(fd) }
                try emit(TarEntry(path: path, kind: .file(size: size), mode: mode, uid: st.st_uid, gid: st.st_gid, mtime: mtime))
                var hasher = SHA256()
                var left = size
                var buffer = [UInt8](repeating: 0, count: 256 * 1024)
                while left > 0 {
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, min($0.count, Int(left))) }
                    if n < 0 && errno == EINTR { continue }
                    // A read error or a file that shrank: the header already promised `size` bytes.
                    guard n > 0 else { throw n == 0 ? TarError.changed(path: rel) : TarError.unreadable(["\(rel): \(String(cString: strerror(errno)))"]) }
                    let chunk = Array(buffer[0..<n])
                    hasher.update(data: chunk)
                    try write(chunk)
                    left -= Int64(n)
                }
                var one = [UInt8](repeating: 0, count: 1)
                if read(fd, &one, 1) > 0 { throw TarError.changed(path: rel) }
                try write(TarHeader.padding(size))
                summary.files += 1
                summary.bytes += size
                let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
                lines.append("f \(String(mode & 0o7777, radix: 8)) \(size) \(digest) \(rel)")
            case S_IFCHR: throw TarError.unsupported(path: rel, kind: "character device")
            case S_IFBLK: throw TarError.unsupported(path: rel, kind: "block device")
            case S_IFIFO: throw TarError.unsupported(path: rel, kind: "FIFO")
            case S_IFSOCK: throw TarError.unsupported(path: rel, kind: "socket")
            default: throw TarError.unsupported(path: rel, kind: "file of unknown type")
            }
        }
    }
}
