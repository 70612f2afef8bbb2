import AKBase
import AKProtocol
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Authentik's files in a restore (§15.3). Before the window: the set's files member, already
/// proven by size and hash, is unpacked into `.akbackup-files-STAMP` beside the directories it
/// replaces, checked against the signed summaries, each tree moved next to its live directory as
/// `.NAME.akbackup-new-STAMP` and given its owners back. In the window: `NAME` becomes
/// `.NAME.akbackup-previous-STAMP` and the new tree `NAME` — renames within one directory only (a
/// directory moved to another parent needs write access to itself, which the container user's
/// directories do not give the agent), so the downtime does not grow with the files. The previous
/// trees are the undo point, like the pre-restore database; a rollback renames the restored ones to
/// `.NAME.akbackup-failed-STAMP` and the previous ones back.
struct FilesRestore {
    /// One directory to replace: where the app sees it, where it is here, where it sits in the archive.
    struct Target: Equatable {
        var containerPath: String
        var hostPath: String
        var archivePath: String
    }

    let files: AppFiles
    let staging: String
    let targets: [Target]
    /// The trees that come in (`new-STAMP` after an unpack; an undo's `previous-OLDSTAMP`) and the
    /// kind the live ones are renamed to (`previous`; an undo's `undone`), stamped with `stamp`.
    var incoming: (kind: String, stamp: String)? = nil
    var asideKind = "previous"

    static func stagingName(_ stamp: String) -> String { ".akbackup-files-\(stamp)" }

    /// Matches the manifest's mounts to this host's: by container path, and a backup of an Authentik
    /// before 2025.12 (`/media`) into one that mounts `/data` goes to `/data/media` (Authentik's
    /// upgrade notes). Throws, changing nothing, when a directory has no place here.
    static func plan(member: FilesMember, hostMounts: [FileMount], stamp: String, files: AppFiles) throws -> FilesRestore {
        var targets: [Target] = []
        for m in member.mounts {
            let archivePath = FilesArchive.relativeRoot(m.containerPath)
            if let host = hostMounts.first(where: { $0.containerPath == m.containerPath }) {
                targets.append(Target(containerPath: m.containerPath, hostPath: host.hostPath, archivePath: archivePath))
            } else if m.containerPath == "/media", let data = hostMounts.first(where: { $0.containerPath == "/data" }) {
                targets.append(Target(containerPath: "/data/media", hostPath: data.hostPath + "/media", archivePath: archivePath))
            } else {
                throw ErrorMessage(id: nil, code: .failed,
                                   message: "the backup holds Authentik's \(m.containerPath), which no container of the running stack mounts",
                                   hint: "add the mount to the stack's compose file (as in the backup), or restore the database alone with --db-only; nothing was changed")
            }
        }
        guard let first = targets.first else { throw Failure("the backup's files member lists no directory", hint: "restore with --db-only") }
        let parent = (first.hostPath as NSString).deletingLastPathComponent
        let staging = (parent as NSString).appendingPathComponent(stagingName(stamp))
        // Renames only work within one filesystem: every target's parent must be on the staging's.
        let device = try deviceOf(parent)
        for t in targets {
            let p = (t.hostPath as NSString).deletingLastPathComponent
            guard try deviceOf(p) == device else {
                throw ErrorMessage(id: nil, code: .failed,
                                   message: "\(t.hostPath) is on another filesystem than \(first.hostPath): akbackup swaps Authentik's directories by rename, within one filesystem",
                                   hint: "restore the database alone with --db-only and copy the files by hand; nothing was changed")
            }
        }
        return FilesRestore(files: files, staging: staging, targets: targets, stamp: stamp)
    }

    private static func deviceOf(_ path: String) throws -> UInt64 {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw ErrorMessage(id: nil, code: .failed, message: "cannot use \(path): \(String(cString: strerror(errno)))",
                               hint: "check the stack's directories; nothing was changed")
        }
        return UInt64(st.st_dev)
    }

    let stamp: String

    func sibling(_ t: Target, _ kind: String, stamp: String? = nil) -> String {
        FilesRestore.aside(t.hostPath, kind: kind, stamp: stamp ?? self.stamp)
    }

    /// `.NAME.akbackup-KIND-STAMP` beside `hostPath`.
    static func aside(_ hostPath: String, kind: String, stamp: String) -> String {
        let dir = (hostPath as NSString).deletingLastPathComponent, name = (hostPath as NSString).lastPathComponent
        return (dir as NSString).appendingPathComponent(".\(name).akbackup-\(kind)-\(stamp)")
    }

    /// Where a directory of Authentik's files can be on this host: each mount, and /data's media.
    static func candidatePaths(_ hostMounts: [FileMount]) -> [String] {
        hostMounts.flatMap { $0.containerPath == "/data" ? [$0.hostPath, $0.hostPath + "/media"] : [$0.hostPath] }
    }

    /// The aside trees of one kind and stamp that exist (what the undo policy removes with its database).
    static func existingAside(kind: String, stamp: String, hostMounts: [FileMount]) -> [String] {
        candidatePaths(hostMounts).map { aside($0, kind: kind, stamp: stamp) }.filter { FileManager.default.fileExists(atPath: $0) }
    }

    /// An undo: the trees a restore put aside as `previous-OLDSTAMP` come back; the live ones go aside
    /// as `undone-STAMP`. Nil when that restore kept no files.
    static func undo(restoreStamp: String, stamp: String, hostMounts: [FileMount], files: AppFiles) -> FilesRestore? {
        let targets = candidatePaths(hostMounts).filter { FileManager.default.fileExists(atPath: aside($0, kind: "previous", stamp: restoreStamp)) }
            .map { Target(containerPath: "", hostPath: $0, archivePath: "") }
        guard let first = targets.first else { return nil }
        return FilesRestore(files: files, staging: (first.hostPath as NSString).deletingLastPathComponent + "/" + stagingName(stamp),
                            targets: targets, incoming: ("previous", restoreStamp), asideKind: "undone", stamp: stamp)
    }

    var incomingKind: String { incoming?.kind ?? "new" }
    var incomingStamp: String { incoming?.stamp ?? stamp }
    func incomingPath(_ t: Target) -> String { sibling(t, incomingKind, stamp: incomingStamp) }

    /// Where the replaced trees are kept, for the receipt and --undo.
    var previousPaths: [String] { targets.map { sibling($0, asideKind) } }

    /// Before the window: unpack, check, move beside the targets, owners. Throws with the reason;
    /// the caller then calls `discard()`.
    func prepare(read: (([UInt8]) throws -> Void) throws -> Void, member: FilesMember) throws {
        guard mkdir(staging, 0o700) == 0 else {
            throw ErrorMessage(id: nil, code: .failed, message: "cannot create \(staging): \(String(cString: strerror(errno)))",
                               hint: "the agent's login needs write access to \((staging as NSString).deletingLastPathComponent); nothing was changed")
        }
        let owners: [String: [String]]
        do {
            owners = try FilesArchive.unpack(read: read, into: staging, mounts: member.mounts)
        } catch let e as HintedError {
            throw e
        } catch {
            throw Failure("cannot unpack Authentik's files into \(staging): \(error)", hint: "nothing was changed")
        }
        let problems = FilesArchive.check(unpackedAt: staging, against: member.mounts)
        guard problems.isEmpty else {
            throw Failure("the unpacked files differ from the signed manifest: \(problems.prefix(3).joined(separator: "; "))", hint: "nothing was changed")
        }
        for t in targets {
            let parent = (t.hostPath as NSString).deletingLastPathComponent
            guard access(parent, W_OK | X_OK) == 0 else {
                throw Failure("the agent's login \(NSUserName()) cannot create entries in \(parent), where \(t.hostPath) is swapped by rename",
                              hint: "give it write access there (e.g. chown \(NSUserName()) \(parent)), or restore with --db-only; nothing was changed")
            }
            try rename(staging + "/" + t.archivePath, sibling(t, "new"))
            // Owners last: from here the tree may be the container user's; paths relative to the parent.
            let prefix = t.archivePath + "/"
            var mine: [String: [String]] = [:]
            for (owner, paths) in owners {
                let name = ".\((t.hostPath as NSString).lastPathComponent).akbackup-new-\(stamp)"
                let moved = paths.compactMap { p -> String? in
                    p == t.archivePath ? name : (p.hasPrefix(prefix) ? name + "/" + p.dropFirst(prefix.count) : nil)
                }
                if !moved.isEmpty { mine[owner] = moved }
            }
            try files.setOwners(root: parent, owners: mine)
        }
    }

    /// In the window: previous aside, restored in. On a failure, what moved is moved back before it throws.
    func moveIn() throws {
        var done: [Target] = []
        do {
            for t in targets {
                let exists = FileManager.default.fileExists(atPath: t.hostPath)
                if exists { try rename(t.hostPath, sibling(t, asideKind)) }
                do {
                    try rename(incomingPath(t), t.hostPath)
                } catch {
                    if exists { try? rename(sibling(t, asideKind), t.hostPath) }
                    throw error
                }
                done.append(t)
            }
        } catch {
            for t in done.reversed() {
                try? rename(t.hostPath, incomingPath(t))
                try? rename(sibling(t, asideKind), t.hostPath)
            }
            throw error
        }
    }

    /// Rollback: the restored copies aside as `failed`, the previous ones back. False when any did not move.
    func moveBack() -> Bool {
        var ok = true
        for t in targets.reversed() {
            do {
                // An undo's incoming trees go back to where they were (they are still the undo point).
                try rename(t.hostPath, incoming == nil ? sibling(t, "failed") : incomingPath(t))
                if FileManager.default.fileExists(atPath: sibling(t, asideKind)) { try rename(sibling(t, asideKind), t.hostPath) }
            } catch {
                ok = false
            }
        }
        return ok
    }

    /// After a failure before the window: the staging area and the new trees go.
    func discard() {
        try? files.removeTree(staging)
        for t in targets { try? files.removeTree(sibling(t, "new")) }
    }

    /// After a swap: the unpack area (now only empty parents) goes; previous trees stay for --undo.
    func finish() { try? files.removeTree(staging) }

    private func rename(_ from: String, _ to: String) throws {
        guard Glibc.rename(from, to) == 0 else {
            throw Failure("cannot rename \(from) to \(to): \(String(cString: strerror(errno)))", hint: "check the stack's directories")
        }
    }
}
