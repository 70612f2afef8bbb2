import AKBase
import AKProtocol
import Compression
import Crypto
import DumpFormat
import Foundation
import Retention
#if canImport(Glibc)
import Glibc
#endif

/// The backup directory on the NAS. All paths the receiver touches are inside it: names are checked
/// against the artifact pattern before any path is built from them, files are opened without
/// following links, and nothing is written unless the directory is on the mount it should be on.
public struct BackupStore: Sendable {
    public let directory: String
    public let requireMount: String
    public let trustedKeys: [AgentPublicKey]
    /// What `prune` keeps (the config's `[retention]`); the default removes nothing.
    public let retention: RetentionPolicy

    public init(directory: String, requireMount: String = "", trustedKeys: [AgentPublicKey] = [], retention: RetentionPolicy = RetentionPolicy()) {
        self.directory = directory
        self.requireMount = requireMount
        self.trustedKeys = trustedKeys
        self.retention = retention
    }

    public init(config: ReceiverConfig) {
        self.init(directory: config.directory, requireMount: config.requireMount, trustedKeys: config.trustedKeys, retention: config.retention)
    }

    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
    var receiptsDirectory: String { path("receipts") }

    public static func manifestName(for artifact: String) -> String {
        String(artifact.dropLast(ArtifactName.suffix.count)) + ".json"
    }

    /// `<base>.pin` beside the artifact `<base>.sql.gz` (§14.4).
    public static func pinName(for artifact: String) -> String {
        String(artifact.dropLast(ArtifactName.suffix.count)) + ".pin"
    }

    // MARK: where the data goes

    /// Free and total bytes of the filesystem holding the directory (or its nearest existing parent).
    public func space() -> (free: Int64, total: Int64)? {
        var p = directory
        while !FileManager.default.fileExists(atPath: p), p != "/" { p = (p as NSString).deletingLastPathComponent }
        var st = statvfs()
        guard statvfs(p, &st) == 0 else { return nil }
        return (Int64(st.f_bavail) * Int64(st.f_frsize), Int64(st.f_blocks) * Int64(st.f_frsize))
    }

    /// Mount points, from the kernel's view of this process (octal escapes decoded).
    static func mountPoints() -> Set<String> {
        // Read to the end: procfs hands the file out a page at a time, and String(contentsOfFile:)
        // stops after the first read (on a host with many mounts, /volume1 was then "not mounted").
        guard let bytes = try? FileIO.readFile("/proc/self/mountinfo", limit: 64 << 20) else { return [] }
        let text = String(decoding: bytes, as: UTF8.self)
        var out: Set<String> = []
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count > 4 else { continue }
            var point = String(f[4])
            for (esc, ch) in [("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")] {
                point = point.replacingOccurrences(of: esc, with: ch)
            }
            out.insert(point)
        }
        return out
    }

    /// Nil when the directory may be written; otherwise why not.
    public func mountProblem() -> String? {
        guard !requireMount.isEmpty else { return nil }
        let mount = requireMount.count > 1 && requireMount.hasSuffix("/") ? String(requireMount.dropLast()) : requireMount
        guard directory == mount || directory.hasPrefix(mount == "/" ? "/" : mount + "/") else {
            return "the backup directory \(directory) is not under \(mount)"
        }
        guard BackupStore.mountPoints().contains(mount) else {
            return "\(mount) is not a mounted filesystem"
        }
        return nil
    }

    /// Throws when nothing may be written (the volume is not mounted).
    func requireWritable(id: UInt64) throws {
        if let problem = mountProblem() {
            throw ErrorMessage(id: id, code: .ioError, message: "refusing to write: \(problem) (is the NAS volume mounted?)",
                               hint: "mount the volume, or set require_mount in \(ReceiverConfig.defaultPath) to where the backups really live")
        }
    }

    func createDirectory(_ dir: String, id: UInt64) throws {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        } catch {
            throw ErrorMessage(id: id, code: .ioError, message: "cannot create \(dir) as \(NSUserName())",
                               hint: "create it: sudo mkdir -p \(dir) && sudo chown \(NSUserName()) \(dir)")
        }
    }

    // MARK: reading what is there

    /// Artifact names in the directory, newest first (the names sort by time).
    public func artifactNames() throws -> [String] {
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory).filter(ArtifactName.isValid).sorted(by: >)
        } catch {
            throw ErrorMessage(id: nil, code: .ioError, message: "cannot read \(directory): \(error.localizedDescription)",
                               hint: "check the receiver login's access to \(directory)")
        }
    }

    /// A page of artifacts, newest first, each with its manifest summary and the signature verdict.
    /// A page stops early when the next entry would not fit half a frame (the controller asks on).
    public func list(offset: Int, limit: Int) throws -> (page: [ArtifactInfo], total: Int) {
        // Only regular files count, in the total as in the pages: the controller asks on with
        // offset = entries received, so a skipped name would shift every later page.
        let names = try artifactNames().filter { name in
            var st = stat()
            return lstat(path(name), &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
        }
        var page: [ArtifactInfo] = []
        var bytes = 0
        let budget = ProtocolLimits.maxFramePayload / 2
        let encoder = MessageCodec.canonicalEncoder()
        for info in names.dropFirst(offset).lazy.compactMap({ name -> ArtifactInfo? in
            var st = stat()
            guard lstat(path(name), &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
            let modified = Date(timeIntervalSince1970: TimeInterval(st.st_mtim.tv_sec))
            let manifest = self.manifest(for: name)
            let status = manifest.map { $0.signatureStatus(trusting: trustedKeys) } ?? .unsigned
            var summary = manifest
            summary?.rowCounts = [:]   // the full manifest comes with verify and fetch: a page fits one frame
            return ArtifactInfo(name: name, size: Int64(st.st_size), modifiedAt: Timestamp.string(modified), manifest: summary, signature: status,
                                pin: pin(for: name))
        }) {
            guard page.count < limit else { break }
            let size = (try? encoder.encode(info).count) ?? budget
            if !page.isEmpty && bytes + size > budget { break }
            bytes += size
            page.append(info)
        }
        return (page, names.count)
    }

    /// The manifest beside an artifact, when it reads, decodes and passes its range checks.
    public func manifest(for name: String) -> Manifest? {
        guard let bytes = try? FileIO.readFile(path(BackupStore.manifestName(for: name)), limit: ProtocolLimits.maxDocumentBytes),
              let m = try? MessageCodec.decodeDocument(Manifest.self, from: bytes),
              (try? m.validate("manifest")) != nil else { return nil }
        return m
    }

    /// "latest" — the newest backup signed by a trusted agent key and not dated in the future, so a
    /// file planted on the NAS can never become "latest" — or a valid, existing artifact name.
    public func resolve(_ name: String, now: Date = Date()) throws -> String {
        if name == "latest" {
            let names = try artifactNames()
            guard !names.isEmpty else {
                throw ErrorMessage(id: nil, code: .notFound, message: "no backups in \(directory)", hint: "run `akbackup backup` first")
            }
            for candidate in names {
                guard let dated = ArtifactName.date(of: candidate), dated <= now.addingTimeInterval(86400) else { continue }
                if manifest(for: candidate)?.signatureStatus(trusting: trustedKeys) == .trusted { return candidate }
            }
            throw ErrorMessage(id: nil, code: .notFound, message: "no backup in \(directory) is signed by an agent key this NAS trusts",
                               hint: "run `akbackup backup`; to use a dump made by hand, name it (see `akbackup list`) and pass --trust-unsigned")
        }
        guard ArtifactName.isValid(name) else {
            throw ErrorMessage(id: nil, code: .badRequest, message: "\"\(String(name.prefix(100)))\" is not an artifact name",
                               hint: "names look like authentik-db-2026-01-31T020000Z.sql.gz; see `akbackup list`")
        }
        guard FileManager.default.fileExists(atPath: path(name)) else {
            throw ErrorMessage(id: nil, code: .notFound, message: "\(name) does not exist in \(directory)",
                               hint: "see `akbackup list` for the backups there are")
        }
        return name
    }

    /// Re-reads an artifact: its hash and sizes against the manifest, gzip integrity, the dump's
    /// trailer (and nothing after it), row counts, and the manifest's signature.
    public func verify(_ requested: String, id: UInt64) throws -> VerifyResult {
        let name = try resolve(requested)
        let manifest = self.manifest(for: name)
        let fd: Int32
        do {
            fd = try FileIO.openForReading(path(name))
        } catch let e as FileIOError {
            throw ErrorMessage(id: id, code: .ioError, message: e.summary, hint: e.hint)
        }
        defer { close(fd) }
        var inspector = DumpInspector()
        let (digest, size, gzipProblem) = try BackupStore.readGzip(fd, path: path(name)) { inspector.push($0) }
        let complete = inspector.finish()
        let status = manifest.map { $0.signatureStatus(trusting: trustedKeys) } ?? .unsigned
        var reason: String?
        if let m = manifest, m.sha256 != digest || m.size != size {
            reason = "content does not match its manifest (sha256 \(digest.prefix(12))… size \(size), manifest says \(m.sha256.prefix(12))… size \(m.size))"
        } else if let problem = gzipProblem {
            reason = problem
        } else if !complete {
            reason = inspector.incompleteReason
        } else if inspector.contentAfterTrailer {
            reason = "something follows the dump's completion trailer"
        } else if let m = manifest, m.uncompressedSize != inspector.bytes {
            reason = "it inflates to \(inspector.bytes) bytes, the manifest says \(m.uncompressedSize)"
        } else if let m = manifest, m.rowCounts != inspector.rowCounts {
            reason = "row counts in the dump differ from the manifest's"
        } else if status == .invalid {
            reason = "its manifest was altered after the agent signed it"
        }
        var files: (size: Int64, sha256: String)?
        var filesProblem: String?
        if let member = manifest?.files {
            do {
                files = try verifyFilesMember(member)
            } catch let problem as FilesMemberProblem {
                filesProblem = problem.text
            }
        }
        reason = reason ?? filesProblem
        return VerifyResult(id: id, name: name, ok: reason == nil, reason: reason, sha256: digest, size: size,
                            uncompressedSize: inspector.bytes, hasManifest: manifest != nil, rowCounts: inspector.rowCounts,
                            manifest: manifest, signature: status, filesSize: files?.size, filesSHA256: files?.sha256,
                            filesProblem: filesProblem)
    }

    struct FilesMemberProblem: Error { var text: String }

    /// The set's files member: present, the size and SHA-256 the signed manifest gives, and whole gzip.
    func verifyFilesMember(_ member: FilesMember) throws -> (size: Int64, sha256: String) {
        let notRestorable = "the set is not restorable as a whole"
        let fd: Int32
        do {
            fd = try FileIO.openForReading(path(member.name))
        } catch let e as FileIOError {
            throw FilesMemberProblem(text: e.code == ENOENT ? "its files member \(member.name) is missing: \(notRestorable)"
                                                              : "its files member cannot be read: \(e.summary)")
        }
        defer { close(fd) }
        var inflated: Int64 = 0
        let digest: String, size: Int64, gzipProblem: String?
        do {
            (digest, size, gzipProblem) = try BackupStore.readGzip(fd, path: path(member.name)) { inflated += Int64($0.count) }
        } catch {
            throw FilesMemberProblem(text: "its files member cannot be read: \((error as? HintedError)?.summary ?? "\(error)")")
        }
        guard digest == member.sha256, size == member.size else {
            throw FilesMemberProblem(text: "its files member \(member.name) does not match its manifest (sha256 \(digest.prefix(12))… size \(size), manifest says \(member.sha256.prefix(12))… size \(member.size)): \(notRestorable)")
        }
        if let gzipProblem { throw FilesMemberProblem(text: "its files member \(member.name) is corrupt: \(gzipProblem)") }
        guard inflated == member.tarSize else {
            throw FilesMemberProblem(text: "its files member \(member.name) inflates to \(inflated) bytes, the manifest says \(member.tarSize)")
        }
        return (size, digest)
    }

    /// Reads a stored gzip file to its end: SHA-256 and size of its bytes, and what was wrong with its
    /// gzip (nil: intact), the inflated bytes handed to `inflated` until a problem. Throws on a read error.
    static func readGzip(_ fd: Int32, path: String, inflated: ([UInt8]) -> Void) throws -> (sha256: String, size: Int64, gzipProblem: String?) {
        var hasher = SHA256()
        var size: Int64 = 0
        let inflater = GzipInflater()
        var gzipProblem: String?
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try FileIO.read(fd, into: $0, path: path) }
            if n == 0 { break }
            let bytes = Array(buffer[0..<n])
            hasher.update(data: bytes)
            size += Int64(n)
            if gzipProblem == nil {
                do { try inflater.push(bytes) { inflated($0) } } catch { gzipProblem = "\(error)" }
            }
        }
        if gzipProblem == nil {
            do { try inflater.finish() } catch { gzipProblem = "\(error)" }
        }
        return (Hex.encode(hasher.finalize()), size, gzipProblem)
    }

    /// Runs `body` holding an exclusive lock on the backup directory itself (flock on its descriptor):
    /// an upload creates and locks its partial file under it, the stale-partial sweep runs under it.
    func whileHoldingDirectoryLock<T>(_ body: () throws -> T) throws -> T {
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else { return try body() }   // no directory yet: nothing to sweep either
        defer { close(dirFD) }
        while flock(dirFD, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(dirFD, LOCK_UN) }
        return try body()
    }

    /// Deletes `*.partial` files no live receiver holds (left by a killed receiver or a cut link).
    /// An upload's partial is locked from its creation on (see `whileHoldingDirectoryLock`), so an
    /// unlocked one is stale at any age. Manifest and receipt temp files are written in one go without
    /// a lock: those are left alone while young.
    public func removeStalePartials(log: (String) -> Void) {
        for dir in [directory, receiptsDirectory] {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for name in names where name.hasSuffix(".partial") {
                let base = String(name.dropLast(8))
                let isUpload = dir == directory && (ArtifactName.isValid(base) || ArtifactName.isValidFilesName(base))
                guard isUpload || (base.hasSuffix(".json") && ArtifactName.isValid(String(base.dropLast(5)) + ArtifactName.suffix))
                        || (base.hasSuffix(".pin") && ArtifactName.isValid(String(base.dropLast(4)) + ArtifactName.suffix))
                        || (dir == receiptsDirectory && BackupStore.isReceiptName(base)) else { continue }
                let p = (dir as NSString).appendingPathComponent(name)
                var st = stat()
                guard lstat(p, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG,
                      isUpload || Date().timeIntervalSince1970 - TimeInterval(st.st_mtim.tv_sec) > 60 else { continue }
                let removed: Bool = (try? whileHoldingDirectoryLock {
                    let fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
                    guard fd >= 0 else { return false }
                    defer { close(fd) }
                    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return false }
                    return unlink(p) == 0
                }) ?? false
                if removed { log("removed stale \(name)") }
            }
        }
        removeOrphanFilesMembers(log: log)
    }

    /// A files member whose set has no manifest was left by a receiver killed between publishing
    /// the member and the manifest (§15): no set names it, nothing can restore it. Old ones go.
    func removeOrphanFilesMembers(log: (String) -> Void) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where ArtifactName.isValidFilesName(name) {
            let dump = ArtifactName.dumpName(forFiles: name)
            guard !FileManager.default.fileExists(atPath: path(BackupStore.manifestName(for: dump))) else { continue }
            var st = stat()
            guard lstat(path(name), &st) == 0, (st.st_mode & S_IFMT) == S_IFREG,
                  Date().timeIntervalSince1970 - TimeInterval(st.st_mtim.tv_sec) > 600 else { continue }
            if unlink(path(name)) == 0 { log("removed \(name): no manifest names it (left by an interrupted upload)") }
        }
    }

    // MARK: doctor

    public func probe(configSource: String, now: Date = Date()) -> [Check] {
        var checks = [Check(name: "receiver config", ok: true, detail: configSource)]
        if trustedKeys.isEmpty {
            checks.append(Check(name: "trusted agent keys", ok: false, detail: "none: every upload is refused",
                                hint: "on infra-core run `akbackup-agent key --public`, then here: sudo akbackup-receiver trust-agent-key KEY"))
        } else {
            checks.append(Check(name: "trusted agent keys", ok: true, detail: trustedKeys.map(\.fingerprint).joined(separator: ", ")))
        }
        if let problem = mountProblem() {
            checks.append(Check(name: "mount", ok: false, detail: problem,
                                hint: "mount the NAS volume, or set require_mount in \(ReceiverConfig.defaultPath)"))
        } else if !requireMount.isEmpty {
            checks.append(Check(name: "mount", ok: true, detail: "\(requireMount) is mounted"))
        }
        var isDir: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: directory, isDirectory: &isDir)
        if exists && !isDir.boolValue {
            checks.append(Check(name: "backup directory", ok: false, detail: "\(directory) exists but is not a directory",
                                hint: "move it away or set directory in \(ReceiverConfig.defaultPath)"))
            return checks
        }
        if exists {
            checks.append(Check(name: "backup directory", ok: true, detail: "\(directory) exists"))
            let probe = path(".akbackup-probe-\(getpid())")
            if let fd = try? FileIO.createExclusive(probe, mode: 0o600) {
                let synced = fsync(fd) == 0
                close(fd)
                unlink(probe)
                checks.append(Check(name: "writable", ok: synced, detail: synced ? "as \(NSUserName())" : "fsync failed",
                                    hint: synced ? nil : "check the filesystem holding \(directory)"))
            } else {
                let why = String(cString: strerror(errno))
                checks.append(Check(name: "writable", ok: false, detail: "cannot create files in \(directory) as \(NSUserName()): \(why)",
                                    hint: "chown \(NSUserName()) \(directory) (or grant write access)"))
            }
        } else {
            var ancestor = directory
            while !FileManager.default.fileExists(atPath: ancestor), ancestor != "/" { ancestor = (ancestor as NSString).deletingLastPathComponent }
            let creatable = access(ancestor, W_OK | X_OK) == 0
            checks.append(Check(name: "backup directory", ok: creatable,
                                detail: creatable ? "\(directory) absent; will be created under \(ancestor)"
                                    : "\(directory) absent and \(ancestor) is not writable by \(NSUserName())",
                                hint: creatable ? nil : "create it: sudo mkdir -p \(directory) && sudo chown \(NSUserName()) \(directory)"))
        }
        if let space = space() {
            checks.append(Check(name: "free space", ok: space.free > 0,
                                detail: "\(ByteFormat.human(space.free)) free of \(ByteFormat.human(space.total))",
                                hint: space.free > 0 ? nil : "free space on the NAS volume or prune old backups"))
        }
        checks += retentionChecks(now: now)
        return checks
    }

    /// doctor's view of retention: WARN (never FAIL) without a policy, or when the backups are
    /// projected to fill the volume within 30 days at their recent size and rate, after pruning.
    func retentionChecks(now: Date) -> [Check] {
        var checks: [Check] = []
        let howTo = "set keep_daily, keep_weekly, … under [retention] in \(ReceiverConfig.defaultPath) (see `akbackup-receiver config --defaults`)"
        if retention.isConfigured {
            checks.append(Check(name: "retention", ok: true, detail: retention.description))
        } else {
            checks.append(Check(name: "retention", ok: true, detail: "no policy: nothing is ever deleted, so the NAS fills up", hint: howTo, warning: true))
        }
        guard let free = space()?.free, let backups = try? retentionInventory(verify: false) else { return checks }
        guard let p = SpaceProjection.project(policy: retention, backups: backups, freeBytes: free, now: now) else {
            checks.append(Check(name: "space projection", ok: true, detail: "fewer than two backups in the last 30 days: no rate to project"))
            return checks
        }
        let rate = "\(ByteFormat.human(p.backupSize)) every \(String(format: "%.1f", p.interval / 3600)) h"
        if let days = p.daysUntilFull {
            checks.append(Check(name: "space projection", ok: true,
                                detail: String(format: "at %@ the NAS is projected to fill in about %.0f days (%@ free)", rate, days, ByteFormat.human(free)),
                                hint: retention.isConfigured ? "add space, or keep fewer backups in [retention] in \(ReceiverConfig.defaultPath)" : howTo,
                                warning: true))
        } else {
            checks.append(Check(name: "space projection", ok: true,
                                detail: "at \(rate) the NAS does not fill within \(p.horizonDays) days (\(ByteFormat.human(free)) free, at most \(ByteFormat.human(p.peakGrowth)) more)"))
        }
        return checks
    }
}
