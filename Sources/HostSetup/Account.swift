import AKBase
import Foundation
import ProcessRunner
#if canImport(Glibc)
import Glibc
#endif

/// A login on this host, from the system's user database (files, LDAP, whatever NSS says).
public struct Account: Equatable, Sendable {
    public var name: String
    public var uid: uid_t
    public var gid: gid_t
    public var home: String

    public static func lookup(_ name: String) throws -> Account {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        let rc = getpwnam_r(name, &pwd, &buffer, buffer.count, &result)
        guard rc == 0, result != nil else {
            throw Failure("no such user: \(name)", hint: "create the login the controller connects as first: useradd --create-home \(name)")
        }
        return Account(name: name, uid: pwd.pw_uid, gid: pwd.pw_gid, home: String(cString: pwd.pw_dir))
    }

    /// The group's id, nil when there is no such group.
    public static func groupID(_ group: String) -> gid_t? {
        var grp = group_struct()
        var result: UnsafeMutablePointer<group_struct>?
        var buffer = [CChar](repeating: 0, count: 64 * 1024)
        guard getgrnam_r(group, &grp, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return grp.gr_gid
    }

    /// Whether the login is in `group` (as its primary group or a supplementary one).
    public func isMember(of group: String) -> Bool {
        guard let gid = Account.groupID(group) else { return false }
        if gid == self.gid { return true }
        var count: Int32 = 64
        while true {
            var groups = [gid_t](repeating: 0, count: Int(count))
            let n = getgrouplist(name, self.gid, &groups, &count)
            if n >= 0 { return groups.prefix(Int(n)).contains(gid) }
            // count now holds the size needed.
        }
    }

    /// Adds the login to `group` with usermod (the shadow tools keep /etc/group and /etc/gshadow
    /// consistent and locked); nothing when it is a member already. Returns whether it changed.
    public func addToGroup(_ group: String) throws -> Bool {
        guard Account.groupID(group) != nil else {
            throw Failure("there is no group \(group)", hint: "install the akbackup-agent package (its postinst makes it) or: groupadd --system \(group)")
        }
        if isMember(of: group) { return false }
        let usermod = ["/usr/sbin/usermod", "/sbin/usermod"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "usermod"
        let result = try ChildProcess.run([usermod, "-a", "-G", group, name], timeout: 60)
        guard result.status == 0 else {
            throw Failure("usermod -a -G \(group) \(name) failed: \(result.stderrLastLine)", hint: "add the login by hand: gpasswd -a \(name) \(group)")
        }
        return true
    }

    /// Whether the login can do what `test` checks (`-r PATH`, `-w PATH`) — asked of the kernel as the
    /// login, with its groups, via runuser. Nil when that cannot be asked (no runuser).
    public func can(_ test: String, _ path: String) -> Bool? {
        guard let runuser = ["/usr/sbin/runuser", "/sbin/runuser"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
              let result = try? ChildProcess.run([runuser, "-u", name, "--", "test", test, path], timeout: 30) else { return nil }
        return result.status == 0
    }
}

/// Glibc's `struct group`, named so it does not clash with Swift's use of `group` as a word.
typealias group_struct = Glibc.group
