import AKProtocol
import Compression
import Crypto
import DumpFormat
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reading and publishing artifacts in the backup directory. Names are checked against the
/// artifact pattern before any path is built, so nothing outside the directory is ever touched.
extension BackupStore {
    public static func manifestName(for artifact: String) -> String {
        String(artifact.dropLast(ArtifactName.suffix.count)) + ".json"
    }

    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    /// Artifacts, newest first (the names sort by time).
    public func list() throws -> [ArtifactInfo] {
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ErrorMessage(id: nil, code: .ioError, message: "cannot read \(directory): \(error.localizedDescription)",
                               hint: "check the receiver login's access to \(directory)")
        }
        // Newest 1,000: bounded so the answer always fits one message.
        return names.filter(ArtifactName.isValid).sorted(by: >).prefix(1000).compactMap { name in
            var st = stat()
            guard stat(path(name), &st) == 0 else { return nil }
            let modified = Date(timeIntervalSince1970: TimeInterval(st.st_mtim.tv_sec))
            var summary = manifest(for: name)
            summary?.rowCounts = [:]
            return ArtifactInfo(name: name, size: Int64(st.st_size), modifiedAt: Timestamp.string(modified), manifest: summary)
        }
    }

    public func manifest(for name: String) -> Manifest? {
        guard let data = FileManager.default.contents(atPath: path(BackupStore.manifestName(for: name))) else { return nil }
        return try? JSONDecoder().decode(Manifest.self, from: data)
    }

    /// "latest" or a valid, existing artifact name.
    public func resolve(_ name: String) throws -> String {
        if name == "latest" {
            guard let newest = try list().first else {
                throw ErrorMessage(id: nil, code: .notFound, message: "no backups in \(directory)",
                                   hint: "run `akbackup backup` first")
            }
            return newest.name
        }
        guard ArtifactName.isValid(name) else {
            throw ErrorMessage(id: nil, code: .badRequest, message: "\"\(name.prefix(100))\" is not an artifact name",
                               hint: "names look like authentik-db-2026-01-31T020000Z.sql.gz; see `akbackup list`")
        }
        guard FileManager.default.fileExists(atPath: path(name)) else {
            throw ErrorMessage(id: nil, code: .notFound, message: "\(name) does not exist in \(directory)",
                               hint: "see `akbackup list` for the backups there are")
        }
        return name
    }

    /// Re-reads an artifact: its hash against the manifest, gzip integrity, the dump's trailer and row counts.
    public func verify(_ requested: String, id: UInt64) throws -> VerifyResult {
        let name = try resolve(requested)
        let manifest = self.manifest(for: name)
        guard let handle = FileHandle(forReadingAtPath: path(name)) else {
            throw ErrorMessage(id: id, code: .ioError, message: "cannot open \(name)", hint: "check the file's permissions")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var size: Int64 = 0
        var inspector = DumpInspector()
        let inflater = GzipInflater()
        var gzipProblem: String?
        while true {
            let data = handle.readData(ofLength: 1 << 20)
            if data.isEmpty { break }
            let bytes = [UInt8](data)
            hasher.update(data: bytes)
            size += Int64(bytes.count)
            if gzipProblem == nil {
                do {
                    try inflater.push(bytes) { inspector.push($0) }
                } catch {
                    gzipProblem = "\(error)"
                }
            }
        }
        if gzipProblem == nil {
            do { try inflater.finish() } catch { gzipProblem = "\(error)" }
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        let complete = inspector.finish()
        var reason: String?
        if let m = manifest, m.sha256 != digest || m.size != size {
            reason = "content does not match its manifest (sha256 \(digest.prefix(12))… size \(size), manifest says \(m.sha256.prefix(12))… size \(m.size))"
        } else if let problem = gzipProblem {
            reason = problem
        } else if !complete {
            reason = inspector.incompleteReason
        } else if let m = manifest, m.rowCounts != inspector.rowCounts {
            reason = "row counts in the dump differ from the manifest's"
        }
        return VerifyResult(id: id, name: name, ok: reason == nil, reason: reason, sha256: digest, size: size,
                            hasManifest: manifest != nil, rowCounts: inspector.rowCounts, manifest: manifest)
    }

    /// Deletes `*.partial` files no live receiver holds (left by a killed receiver or a cut link).
    public func removeStalePartials(log: (String) -> Void) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasSuffix(".partial") {
            let base = String(name.dropLast(8))
            guard ArtifactName.isValid(base) || (base.hasSuffix(".json") && ArtifactName.isValid(String(base.dropLast(5)) + ArtifactName.suffix)) else { continue }
            let p = path(name)
            var st = stat()
            // A live upload creates its partial file and locks it a moment later: leave young files alone.
            guard stat(p, &st) == 0, Date().timeIntervalSince1970 - TimeInterval(st.st_mtim.tv_sec) > 2 else { continue }
            let fd = open(p, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                unlink(p)
                log("removed stale \(name)")
            }
            close(fd)
        }
    }
}
