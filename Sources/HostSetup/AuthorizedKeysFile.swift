import AKBase
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes `~/.ssh/authorized_keys` of a login as root would, without letting that login redirect the
/// write: `.ssh` and the file are reached through descriptors opened with O_NOFOLLOW relative to the
/// home directory, never by path, so a symbolic link planted by the login is refused, not followed.
/// The file is replaced atomically (temp → fsync → rename) and ends owned by the login, 0600, in a
/// `.ssh` owned by the login, 0700 — what sshd's StrictModes wants.
public enum AuthorizedKeysFile {
    /// What `install` did.
    public struct Outcome: Equatable, Sendable {
        public var path: String
        public var change: AuthorizedKeys.Change
        /// What else was done: made, or owner and mode put right.
        public var notes: [String]
    }

    /// The largest authorized_keys file read (a real one is a few kilobytes).
    static let sizeLimit = 1 << 20

    /// Adds `line` for `key` to `home`/.ssh/authorized_keys, owned by `uid`:`gid`.
    public static func install(line: String, key: OperatorKey, home: String, uid: uid_t, gid: gid_t) throws -> Outcome {
        let homeFD = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard homeFD >= 0 else {
            let code = errno
            throw Failure("cannot open the home directory \(home): \(String(cString: strerror(code)))",
                          hint: code == ENOENT ? "create it (useradd --create-home, or mkhomedir_helper LOGIN)" : "check \(home)")
        }
        defer { close(homeFD) }
        let sshPath = (home as NSString).appendingPathComponent(".ssh")
        let path = (sshPath as NSString).appendingPathComponent("authorized_keys")
        var notes: [String] = []

        // ~/.ssh: made if absent; a link or a non-directory is refused.
        if mkdirat(homeFD, ".ssh", 0o700) == 0 {
            notes.append("created \(sshPath)")
        } else if errno != EEXIST {
            throw FileIOError("create", path: sshPath, code: errno)
        }
        let sshFD = openat(homeFD, ".ssh", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard sshFD >= 0 else {
            let code = errno
            if code == ELOOP || code == ENOTDIR {
                // Linux says ENOTDIR for a link opened with O_DIRECTORY | O_NOFOLLOW: ask what it is.
                var st = stat()
                let isLink = fstatat(homeFD, ".ssh", &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
                throw Failure("\(sshPath) is \(isLink ? "a symbolic link" : "not a directory"); refusing to write through it",
                              hint: "look at what it is, move it away, and run authorize again")
            }
            throw FileIOError("open", path: sshPath, code: code)
        }
        defer { close(sshFD) }
        try own(sshFD, path: sshPath, uid: uid, gid: gid, mode: 0o700, notes: &notes)

        // The current contents, read through a descriptor that refuses a link.
        var current = ""
        var existing = false
        let readFD = openat(sshFD, "authorized_keys", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        if readFD >= 0 {
            defer { close(readFD) }
            var st = stat()
            guard fstat(readFD, &st) == 0 else { throw FileIOError("stat", path: path, code: errno) }
            guard (st.st_mode & S_IFMT) == S_IFREG else {
                throw Failure("\(path) is not a regular file; refusing to touch it", hint: "look at it, move it away, and run authorize again")
            }
            guard Int(st.st_size) <= sizeLimit else { throw FileIOError("read", path: path, code: EFBIG) }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try FileIO.read(readFD, into: $0, path: path) }
                if n == 0 { break }
                bytes += buffer[0..<n]
                guard bytes.count <= sizeLimit else { throw FileIOError("read", path: path, code: EFBIG) }
            }
            current = String(decoding: bytes, as: UTF8.self)
            existing = true
            let (_, change) = AuthorizedKeys.adding(line, for: key, to: current)
            if change == .unchanged {
                // Nothing to write; the owner and mode are still put right (sshd ignores a file others can write).
                try own(readFD, path: path, uid: uid, gid: gid, mode: 0o600, notes: &notes)
                return Outcome(path: path, change: .unchanged, notes: notes)
            }
        } else if errno == ELOOP {
            throw Failure("\(path) is a symbolic link; refusing to write through it",
                          hint: "look at what it points to, remove it, and run authorize again")
        } else if errno != ENOENT {
            throw FileIOError("open", path: path, code: errno)
        }

        let (contents, change) = AuthorizedKeys.adding(line, for: key, to: current)
        let temp = ".authorized_keys.akbackup-\(UInt32.random(in: 0...UInt32.max))"
        let fd = openat(sshFD, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileIOError("create", path: (sshPath as NSString).appendingPathComponent(temp), code: errno) }
        var published = false
        defer { if !published { unlinkat(sshFD, temp, 0) } }
        do {
            defer { close(fd) }
            if let code = FileIO.writeAll(fd, Array(contents.utf8)) { throw FileIOError("write", path: path, code: code) }
            guard fchown(fd, uid, gid) == 0 else { throw FileIOError("change the owner of", path: path, code: errno) }
            guard fchmod(fd, 0o600) == 0 else { throw FileIOError("chmod", path: path, code: errno) }
            guard fsync(fd) == 0 else { throw FileIOError("sync", path: path, code: errno) }
        }
        guard renameat(sshFD, temp, sshFD, "authorized_keys") == 0 else { throw FileIOError("rename to", path: path, code: errno) }
        published = true
        guard fsync(sshFD) == 0 else { throw FileIOError("sync", path: sshPath, code: errno) }
        if !existing { notes.append("created \(path)") }
        return Outcome(path: path, change: change, notes: notes)
    }

    /// Puts owner and mode right on an open file or directory, noting what changed. Something owned by
    /// another login (not root) is refused: it was not made for this login.
    static func own(_ fd: Int32, path: String, uid: uid_t, gid: gid_t, mode: mode_t, notes: inout [String]) throws {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileIOError("stat", path: path, code: errno) }
        if st.st_uid != uid && st.st_uid != 0 {
            throw Failure("\(path) belongs to uid \(st.st_uid), not to the login (uid \(uid))",
                          hint: "check whose file it is; if it is right, chown it to the login and run authorize again")
        }
        if st.st_uid != uid || st.st_gid != gid {
            guard fchown(fd, uid, gid) == 0 else { throw FileIOError("change the owner of", path: path, code: errno) }
            notes.append("\(path) now owned by uid \(uid)")
        }
        if st.st_mode & 0o7777 != mode {
            guard fchmod(fd, mode) == 0 else { throw FileIOError("chmod", path: path, code: errno) }
            notes.append("\(path) mode \(String(st.st_mode & 0o7777, radix: 8)) → \(String(mode, radix: 8))")
        }
    }
}
