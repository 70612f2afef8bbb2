/// POSIX tar (pax interchange format, IEEE Std 1003.1-2017 `pax`): the 512-byte ustar header and the
/// pax extended header records that carry what ustar cannot (long or non-ASCII names, large sizes and
/// ids). Pure: bytes in, bytes out; `TarWriter` does the file system.
public enum TarEntryKind: Sendable, Equatable {
    case file(size: Int64)
    case directory
    case symlink(target: String)

    var typeflag: UInt8 {
        switch self {
        case .file: return UInt8(ascii: "0")
        case .directory: return UInt8(ascii: "5")
        case .symlink: return UInt8(ascii: "2")
        }
    }
}

/// One entry as stored: numeric owners only (no user or group names: ids mean the same in the
/// container on any host), whole-second mtimes.
public struct TarEntry: Sendable, Equatable {
    public var path: String
    public var kind: TarEntryKind
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var mtime: Int64

    public init(path: String, kind: TarEntryKind, mode: UInt32, uid: UInt32, gid: UInt32, mtime: Int64) {
        self.path = path
        self.kind = kind
        self.mode = mode & 0o7777
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
    }
}

public enum TarHeader {
    public static let blockSize = 512
    /// The largest value an octal field of `width` bytes holds (width - 1 digits and a NUL).
    static func octalMax(_ width: Int) -> Int64 { (Int64(1) << (3 * Int64(width - 1))) - 1 }

    /// The header blocks for `entry`: a pax extended header first when ustar cannot hold a field, then
    /// the ustar header. The file's data (padded to 512) follows, written by the caller.
    public static func encode(_ entry: TarEntry) -> [UInt8] {
        var records: [(String, String)] = []
        let size: Int64 = { if case .file(let s) = entry.kind { return s } else { return 0 } }()
        let linkTarget: String = { if case .symlink(let t) = entry.kind { return t } else { return "" } }()
        let name = entry.kind == .directory && !entry.path.hasSuffix("/") ? entry.path + "/" : entry.path

        let ustarName = fitsUstar(name, width: 100) ? name : asciiStandIn(name)
        if ustarName != name { records.append(("path", name)) }
        let ustarLink = fitsUstar(linkTarget, width: 100) ? linkTarget : asciiStandIn(linkTarget)
        if ustarLink != linkTarget { records.append(("linkpath", linkTarget)) }
        if size > octalMax(12) { records.append(("size", String(size))) }
        if Int64(entry.uid) > octalMax(8) { records.append(("uid", String(entry.uid))) }
        if Int64(entry.gid) > octalMax(8) { records.append(("gid", String(entry.gid))) }
        if entry.mtime < 0 || entry.mtime > octalMax(12) { records.append(("mtime", String(entry.mtime))) }

        var out: [UInt8] = []
        if !records.isEmpty {
            let body = records.map(paxRecord).joined()
            let bodyBytes = Array(body.utf8)
            out += ustar(name: asciiStandIn("PaxHeaders/" + name), mode: 0o644, uid: 0, gid: 0, size: Int64(bodyBytes.count), mtime: 0,
                         typeflag: UInt8(ascii: "x"), link: "")
            out += bodyBytes
            out += padding(Int64(bodyBytes.count))
        }
        out += ustar(name: ustarName, mode: entry.mode, uid: Int64(entry.uid), gid: Int64(entry.gid), size: size,
                     mtime: entry.mtime, typeflag: entry.kind.typeflag, link: ustarLink)
        return out
    }

    /// The two zero blocks that end an archive.
    public static let end = [UInt8](repeating: 0, count: 2 * blockSize)

    /// Zero bytes that pad `size` bytes of data to a whole block.
    public static func padding(_ size: Int64) -> [UInt8] {
        let r = Int(size % Int64(blockSize))
        return r == 0 ? [] : [UInt8](repeating: 0, count: blockSize - r)
    }

    /// "LEN key=value\n", LEN counting the whole record in bytes, itself included.
    static func paxRecord(_ kv: (String, String)) -> String {
        let rest = " \(kv.0)=\(kv.1)\n".utf8.count
        var length = rest + 1
        while String(length).utf8.count + rest != length { length = String(length).utf8.count + rest }
        return "\(length) \(kv.0)=\(kv.1)\n"
    }

    static func fitsUstar(_ s: String, width: Int) -> Bool {
        s.utf8.count < width && s.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }

    /// What goes in a ustar field when the real value is in the pax header: printable ASCII, cut short.
    static func asciiStandIn(_ s: String) -> String {
        String(decoding: s.utf8.map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: "_") }.prefix(99), as: UTF8.self)
    }

    static func ustar(name: String, mode: UInt32, uid: Int64, gid: Int64, size: Int64, mtime: Int64, typeflag: UInt8, link: String) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: blockSize)
        func put(_ bytes: some Sequence<UInt8>, at offset: Int) { for (i, b) in bytes.enumerated() { h[offset + i] = b } }
        func octal(_ value: Int64, at offset: Int, width: Int) {
            let v = min(max(value, 0), octalMax(width))   // out-of-range values are in the pax header
            let digits = String(v, radix: 8)
            put((String(repeating: "0", count: width - 1 - digits.count) + digits).utf8, at: offset)
        }
        put(name.utf8, at: 0)
        octal(Int64(mode), at: 100, width: 8)
        octal(uid, at: 108, width: 8)
        octal(gid, at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(mtime, at: 136, width: 12)
        h[156] = typeflag
        put(link.utf8, at: 157)
        put("ustar\0".utf8, at: 257)
        put("00".utf8, at: 263)
        put([UInt8](repeating: 0x20, count: 8), at: 148)
        let sum = h.reduce(0) { $0 + Int($1) }
        let digits = String(sum, radix: 8)
        put(Array((String(repeating: "0", count: 6 - digits.count) + digits).utf8) + [0, 0x20], at: 148)
        return h
    }
}
