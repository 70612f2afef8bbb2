import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum UnpackError: Error, Equatable, CustomStringConvertible {
    case corrupt(String)
    /// An entry whose path is absolute, has `.`/`..`/empty components, or is not under the expected prefix.
    case unsafePath(String)
    /// Hard links, devices, FIFOs: never written by TarWriter, never unpacked.
    case unsupported(path: String, typeflag: String)
    case io(path: String, String)

    public var description: String {
        switch self {
        case .corrupt(let why): return "the archive is corrupt: \(why)"
        case .unsafePath(let p): return "the archive names an unsafe path: \(p.debugDescription)"
        case .unsupported(let p, let t): return "the archive holds \(p.debugDescription) of type \(t.debugDescription), which akbackup never writes"
        case .io(let p, let why): return "cannot write \(p): \(why)"
        }
    }
}

/// Unpacks a POSIX tar stream (what `TarWriter` writes) into an existing empty directory, pushed in
/// pieces as it arrives. Nothing can land outside `root`: paths are checked, every directory on the
/// way is opened relative to its parent with O_NOFOLLOW (a link unpacked earlier is never walked
/// through), files are created exclusively, set-id bits are dropped. Owners are set only when asked
/// (a root unpacker restoring the container's ids).
public final class TarUnpacker {
    let rootFD: Int32
    let preserveOwners: Bool
    var buffer: [UInt8] = []
    var pax: [String: String] = [:]
    /// The regular file being written: its data is still coming; its time is set when it is complete.
    var current: (fd: Int32, path: String, left: Int64, padding: Int, mtime: Int64)?
    /// Directories' modes and times, set at the end: a read-only directory must still take its entries,
    /// and writing into a directory changes its mtime.
    var directories: [(path: String, mode: mode_t, mtime: Int64)] = []
    var zeroBlocks = 0
    public private(set) var entries = 0
    /// Without `preserveOwners`: the entries whose recorded owner is not this process's, by
    /// "uid:gid", so a privileged helper can set them afterwards (the agent is not root).
    public private(set) var foreignOwners: [String: [String]] = [:]

    public init(root: String, preserveOwners: Bool = false) throws {
        rootFD = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard rootFD >= 0 else { throw UnpackError.io(path: root, String(cString: strerror(errno))) }
        self.preserveOwners = preserveOwners
    }

    deinit {
        if let c = current { close(c.fd) }
        close(rootFD)
    }

    public func push(_ bytes: [UInt8]) throws {
        buffer += bytes
        var offset = 0
        defer { buffer.removeFirst(offset) }
        while true {
            if var c = current {
                if c.left > 0 {
                    let n = Int(min(c.left, Int64(buffer.count - offset)))
                    if n == 0 { return }
                    try writeAll(c.fd, buffer[offset..<(offset + n)], path: c.path)
                    offset += n
                    c.left -= Int64(n)
                    current = c
                    continue
                }
                if buffer.count - offset < c.padding { return }
                offset += c.padding
                var times = [timespec(tv_sec: Int(c.mtime), tv_nsec: 0), timespec(tv_sec: Int(c.mtime), tv_nsec: 0)]
                futimens(c.fd, &times)
                close(c.fd)
                current = nil
                continue
            }
            guard buffer.count - offset >= 512 else { return }
            let block = Array(buffer[offset..<(offset + 512)])
            if block.allSatisfy({ $0 == 0 }) { offset += 512; zeroBlocks += 1; continue }
            guard zeroBlocks == 0 else { throw UnpackError.corrupt("data after the end of the archive") }
            // An extended header is read whole, with its body: wait until all of it is here.
            if block[156] == UInt8(ascii: "x") || block[156] == UInt8(ascii: "g") {
                let text = String(decoding: block[124..<136].prefix { $0 != 0 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
                guard let size = Int(text, radix: 8), size >= 0, size <= 1 << 20 else { throw UnpackError.corrupt("an extended header of size \(text.debugDescription)") }
                if buffer.count - offset < 512 + (size + 511) / 512 * 512 { return }
            }
            offset += 512
            try header(block, offset: &offset)
        }
    }

    /// After the last piece: the archive must have ended (two zero blocks) and nothing be half-written.
    public func finish() throws {
        guard current == nil, buffer.isEmpty, zeroBlocks >= 2 else { throw UnpackError.corrupt("the archive ends early") }
        for (path, mode, mtime) in directories.reversed() {
            var times = [timespec(tv_sec: Int(mtime), tv_nsec: 0), timespec(tv_sec: Int(mtime), tv_nsec: 0)]
            // Only directories this unpacker made are named here, and none can have been replaced by a
            // link since (files are created exclusively, links only where nothing is).
            fchmodat(rootFD, path, mode, 0)
            utimensat(rootFD, path, &times, AT_SYMLINK_NOFOLLOW)
        }
    }

    private func header(_ h: [UInt8], offset: inout Int) throws {
        func field(_ from: Int, _ count: Int) -> String { String(decoding: h[from..<(from + count)].prefix { $0 != 0 }, as: UTF8.self) }
        func octal(_ from: Int, _ count: Int) throws -> Int64 {
            let text = field(from, count).trimmingCharacters(in: .whitespaces)
            guard let v = Int64(text.isEmpty ? "0" : text, radix: 8), v >= 0 else { throw UnpackError.corrupt("a number field reads \(text.debugDescription)") }
            return v
        }
        var sum = 0
        for (i, b) in h.enumerated() { sum += (148..<156).contains(i) ? 0x20 : Int(b) }
        guard try octal(148, 8) == Int64(sum) else { throw UnpackError.corrupt("a header's checksum does not match") }
        let typeflag = h[156]
        var size = try octal(124, 12)
        if let s = pax["size"] { guard let v = Int64(s), v >= 0 else { throw UnpackError.corrupt("pax size \(s)") }; size = v }
        let prefix = field(345, 155)
        var path = pax["path"] ?? (prefix.isEmpty ? field(0, 100) : prefix + "/" + field(0, 100))
        let link = pax["linkpath"] ?? field(157, 100)
        var mtime = try octal(136, 12)
        if let m = pax["mtime"], let v = Double(m) { mtime = Int64(v) }
        let uid = try pax["uid"].flatMap { Int64($0) } ?? octal(108, 8)
        let gid = try pax["gid"].flatMap { Int64($0) } ?? octal(116, 8)
        let mode = mode_t(try octal(100, 8)) & 0o1777   // set-id bits dropped

        switch typeflag {
        case UInt8(ascii: "x"):
            let padded = Int(size + 511) / 512 * 512
            pax = try Self.paxRecords(Array(buffer[offset..<(offset + Int(size))]))
            offset += padded
            return
        case UInt8(ascii: "g"):
            offset += Int(size + 511) / 512 * 512
            return
        default: break
        }
        pax = [:]
        if path.hasSuffix("/") { path.removeLast() }
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.isEmpty, !path.hasPrefix("/"), !path.contains("\0"), components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
            throw UnpackError.unsafePath(path)
        }
        let parentFD = try openParent(components.dropLast())
        defer { if parentFD != rootFD { close(parentFD) } }
        let name = String(components.last!)
        entries += 1
        if !preserveOwners, uid != Int64(getuid()) || gid != Int64(getgid()), [UInt8(ascii: "5"), UInt8(ascii: "2"), UInt8(ascii: "0"), 0].contains(typeflag) {
            foreignOwners["\(uid):\(gid)", default: []].append(path)
        }
        switch typeflag {
        case UInt8(ascii: "5"):
            if mkdirat(parentFD, name, 0o700) != 0 && errno != EEXIST { throw UnpackError.io(path: path, String(cString: strerror(errno))) }
            let fd = openat(parentFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw UnpackError.io(path: path, String(cString: strerror(errno))) }
            defer { close(fd) }
            if preserveOwners && fchown(fd, uid_t(uid), gid_t(gid)) != 0 { throw UnpackError.io(path: path, "chown: \(String(cString: strerror(errno)))") }
            directories.append((path, mode, mtime))
        case UInt8(ascii: "2"):
            guard symlinkat(link, parentFD, name) == 0 else { throw UnpackError.io(path: path, String(cString: strerror(errno))) }
            if preserveOwners && fchownat(parentFD, name, uid_t(uid), gid_t(gid), AT_SYMLINK_NOFOLLOW) != 0 {
                throw UnpackError.io(path: path, "chown: \(String(cString: strerror(errno)))")
            }
            var times = [timespec(tv_sec: Int(mtime), tv_nsec: 0), timespec(tv_sec: Int(mtime), tv_nsec: 0)]
            utimensat(parentFD, name, &times, AT_SYMLINK_NOFOLLOW)
        case UInt8(ascii: "0"), 0:
            let fd = openat(parentFD, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw UnpackError.io(path: path, String(cString: strerror(errno))) }
            fchmod(fd, mode)
            if preserveOwners && fchown(fd, uid_t(uid), gid_t(gid)) != 0 { close(fd); throw UnpackError.io(path: path, "chown: \(String(cString: strerror(errno)))") }
            current = (fd, path, size, Int((512 - size % 512) % 512), mtime)
        default:
            throw UnpackError.unsupported(path: path, typeflag: String(UnicodeScalar(typeflag)))
        }
    }

    private func openParent(_ components: ArraySlice<Substring>) throws -> Int32 {
        var fd = rootFD
        for c in components {
            let next = openat(fd, String(c), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd != rootFD { close(fd) }
            guard next >= 0 else { throw UnpackError.unsafePath(components.joined(separator: "/") + " (\(String(cString: strerror(errno))))") }
            fd = next
        }
        return fd
    }

    private func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw UnpackError.io(path: path, String(cString: strerror(errno))) }
            done += n
        }
    }

    static func paxRecords(_ bytes: [UInt8]) throws -> [String: String] {
        var out: [String: String] = [:]
        var i = 0
        while i < bytes.count {
            guard let space = bytes[i...].firstIndex(of: 0x20), let length = Int(String(decoding: bytes[i..<space], as: UTF8.self)),
                  length > 0, i + length <= bytes.count, bytes[i + length - 1] == 0x0A,
                  let eq = bytes[(space + 1)..<(i + length)].firstIndex(of: UInt8(ascii: "=")) else {
                throw UnpackError.corrupt("a pax record")
            }
            out[String(decoding: bytes[(space + 1)..<eq], as: UTF8.self)] = String(decoding: bytes[(eq + 1)..<(i + length - 1)], as: UTF8.self)
            i += length
        }
        return out
    }
}
