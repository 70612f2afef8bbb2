import AKProtocol
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The backup directory on the NAS. All paths the receiver touches are inside it.
public struct BackupStore {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// Free and total bytes of the filesystem holding the directory (or its nearest existing parent).
    public func space() -> (free: Int64, total: Int64)? {
        var path = directory
        while !FileManager.default.fileExists(atPath: path), path != "/" {
            path = (path as NSString).deletingLastPathComponent
        }
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { return nil }
        return (Int64(st.f_bavail) * Int64(st.f_frsize), Int64(st.f_blocks) * Int64(st.f_frsize))
    }

    /// The deepest existing ancestor of the directory, to tell whether `mkdir -p` could succeed.
    func nearestExistingAncestor() -> String {
        var path = directory
        while !FileManager.default.fileExists(atPath: path), path != "/" {
            path = (path as NSString).deletingLastPathComponent
        }
        return path
    }

    public func probe(configSource: String) -> [Check] {
        var checks = [Check(name: "receiver config", ok: true, detail: configSource)]
        var isDir: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: directory, isDirectory: &isDir)
        if exists && !isDir.boolValue {
            checks.append(Check(name: "backup directory", ok: false, detail: "\(directory) exists but is not a directory",
                                hint: "move it away or set directory in \(ReceiverConfig.defaultPath)"))
            return checks
        }
        if exists {
            checks.append(Check(name: "backup directory", ok: true, detail: "\(directory) exists"))
            let probe = (directory as NSString).appendingPathComponent(".akbackup-probe-\(getpid())")
            let fd = open(probe, O_CREAT | O_EXCL | O_WRONLY, 0o600)
            if fd >= 0 {
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
            let ancestor = nearestExistingAncestor()
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
        return checks
    }
}
