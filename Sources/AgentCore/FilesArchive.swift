import AKBase
import Archive
import Compression
import Crypto

/// One mount in a backup set's files member, as the signed manifest records it.
public struct MountRecord: Codable, Equatable, Sendable {
    public var containerPath: String
    public var summary: TreeSummary
}

/// The files member of a backup set (`authentik-files-STAMP.tar.gz`) as it streams: every mount's tree
/// as POSIX tar under its container path without the leading slash (`media/…`, `blueprints/custom/…`),
/// in container-path order, compressed like the dump (independent gzip members) and hashed as sent.
public enum FilesArchive {
    public struct Written: Equatable, Sendable {
        public var sha256: String
        public var size: Int64
        public var mounts: [MountRecord]
    }

    public static func stream(_ mounts: [FileMount], threads: Int, to sink: @escaping ([UInt8]) throws -> Void) throws -> Written {
        var hasher = SHA256()
        var size: Int64 = 0
        let gzip = ParallelGzip(threads: threads) { member in
            hasher.update(data: member)
            size += Int64(member.count)
            try sink(member)
        }
        var records: [MountRecord] = []
        for mount in mounts.sorted(by: { $0.containerPath < $1.containerPath }) {
            var writer = TarWriter(root: mount.hostPath, prefix: String(mount.containerPath.drop { $0 == "/" })) { try gzip.write($0) }
            records.append(MountRecord(containerPath: mount.containerPath, summary: try writer.archive()))
        }
        try gzip.write(TarHeader.end)
        try gzip.finish()
        return Written(sha256: Hex.encode(hasher.finalize()), size: size, mounts: records)
    }
}
