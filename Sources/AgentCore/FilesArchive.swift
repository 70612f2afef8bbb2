import AKBase
import AKProtocol
import Archive
import Compression
import Crypto
import Foundation

/// The files member of a backup set (`authentik-files-STAMP.tar.gz`, §15): every mount's tree as
/// POSIX tar under its container path without the leading slash (`media/…`, `blueprints/custom/…`),
/// in container-path order, compressed like the dump (independent gzip members) and hashed as sent;
/// and the way back: unpacked into an empty directory and checked against the signed summaries.
public enum FilesArchive {
    public struct Written: Equatable, Sendable {
        public var sha256: String
        public var size: Int64
        public var tarSize: Int64
        public var mounts: [FilesMount]

        public func member(for dumpName: String) -> FilesMember {
            FilesMember(name: ArtifactName.filesName(for: dumpName), sha256: sha256, size: size, tarSize: tarSize, mounts: mounts)
        }
    }

    /// `readThrough` reads a file the agent may not open, through a container that mounts it.
    public static func stream(_ mounts: [FileMount], threads: Int,
                              readThrough: ((FileMount, String, ([UInt8]) throws -> Void) throws -> Void)? = nil,
                              to sink: @escaping ([UInt8]) throws -> Void) throws -> Written {
        var hasher = SHA256()
        var size: Int64 = 0
        var tarSize: Int64 = 0
        let gzip = ParallelGzip(threads: threads) { member in
            hasher.update(data: member)
            size += Int64(member.count)
            try sink(member)
        }
        let tar: ([UInt8]) throws -> Void = { bytes in
            tarSize += Int64(bytes.count)
            try gzip.write(bytes)
        }
        var records: [FilesMount] = []
        for mount in mounts.sorted(by: { $0.containerPath < $1.containerPath }) {
            let through = readThrough.map { read in { (relative: String, sink: ([UInt8]) throws -> Void) throws in try read(mount, relative, sink) } }
            var writer = TarWriter(root: mount.hostPath, prefix: relativeRoot(mount.containerPath), readThrough: through, write: tar)
            records.append(record(mount.containerPath, try writer.archive()))
        }
        try tar(TarHeader.end)
        try gzip.finish()
        return Written(sha256: Hex.encode(hasher.finalize()), size: size, tarSize: tarSize, mounts: records)
    }

    /// A tree's summary as the manifest records it.
    static func record(_ containerPath: String, _ s: TreeSummary) -> FilesMount {
        FilesMount(containerPath: containerPath, files: Int64(s.files), directories: Int64(s.directories),
                   symlinks: Int64(s.symlinks), bytes: s.bytes, digest: s.digest)
    }

    /// `/blueprints/custom` → `blueprints/custom`: where a mount's tree sits in the archive.
    public static func relativeRoot(_ containerPath: String) -> String { String(containerPath.drop { $0 == "/" }) }

    /// Unpacks a files member (its gzip bytes, handed to the body of `read`) into the empty
    /// directory `root`. Returns the entries whose owners the agent could not set itself ("uid:gid"
    /// → paths relative to `root`).
    public static func unpack(read: (([UInt8]) throws -> Void) throws -> Void, into root: String, mounts: [FilesMount]) throws -> [String: [String]] {
        // A mount below a directory that is no mount (`blueprints/custom`) has no entry for its
        // parent in the archive: the parents are made here, the unpacker never makes one itself.
        for mount in mounts {
            let parent = (relativeRoot(mount.containerPath) as NSString).deletingLastPathComponent
            if !parent.isEmpty {
                try FileManager.default.createDirectory(atPath: root + "/" + parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
        }
        let unpacker = try TarUnpacker(root: root)
        let inflater = GzipInflater()
        try read { bytes in try inflater.push(bytes) { try unpacker.push($0) } }
        try inflater.finish()
        try unpacker.finish()
        return unpacker.foreignOwners
    }

    public static func unpack(file: String, into root: String, mounts: [FilesMount]) throws -> [String: [String]] {
        let fd = try FileIO.openForReading(file)
        defer { close(fd) }
        return try unpack(read: { body in
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try FileIO.read(fd, into: $0, path: file) }
                if n == 0 { break }
                try body(Array(buffer[0..<n]))
            }
        }, into: root, mounts: mounts)
    }

    /// What differs between an unpacked tree and the manifest's summaries (empty: all match). Only
    /// the mounts listed are expected; anything else in `root` is a difference too.
    public static func check(unpackedAt root: String, against mounts: [FilesMount]) -> [String] {
        var problems: [String] = []
        let expectedTops = Set(mounts.map { String(relativeRoot($0.containerPath).split(separator: "/").first ?? "") })
        let tops = Set((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
        for extra in tops.subtracting(expectedTops).sorted() { problems.append("\(extra) is in the archive but in no mount") }
        for mount in mounts {
            var writer = TarWriter(root: root + "/" + relativeRoot(mount.containerPath), prefix: "") { _ in }
            do {
                let got = record(mount.containerPath, try writer.archive())
                if got != mount {
                    problems.append("\(mount.containerPath): \(got.files) files, \(got.bytes) bytes, digest \(got.digest.prefix(12))…; the manifest says \(mount.files) files, \(mount.bytes) bytes, digest \(mount.digest.prefix(12))…")
                }
            } catch {
                problems.append("\(mount.containerPath): \(error)")
            }
        }
        return problems
    }
}
