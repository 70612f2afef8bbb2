import AKBase
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The part of `akbackup-agent authorize` and `akbackup-receiver authorize` both programs share:
/// read and check the operator's key, and write the forced-command line for it.
public enum Authorize {
    /// authorize changes another login's files and the group database: root only.
    public static func requireRoot(_ program: String) throws {
        guard geteuid() == 0 else {
            throw Failure("\(program) authorize must run as root (it writes another login's ~/.ssh)",
                          hint: "sudo \(program) authorize --user LOGIN KEYFILE")
        }
    }

    /// This program's own resolved path: the forced command runs exactly the binary that wrote it
    /// (/usr/bin/… from the package, /usr/local/bin/… from the install script).
    public static func ownExecutable() throws -> String {
        guard let resolved = realpath("/proc/self/exe", nil) else {
            throw Failure("cannot tell where this program is installed (/proc/self/exe: \(String(cString: strerror(errno))))",
                          hint: "run it with /proc mounted")
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The forced command: `PROGRAM serve`, plus `--config PATH` when the config is not the default one.
    public static func serveCommand(executable: String, config: String, defaultConfig: String) -> [String] {
        let absolute = config.hasPrefix("/") ? config
            : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(config)
        let standard = (absolute as NSString).standardizingPath
        return [executable, "serve"] + (standard == defaultConfig ? [] : ["--config", standard])
    }

    /// The key file's contents, checked (a private key is refused without its contents being shown).
    public static func readKey(_ path: String) throws -> OperatorKey {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw Failure("cannot read the public key file \(path): \(String(cString: strerror(code)))",
                          hint: "pass the operator's public key, e.g. a copy of their ~/.ssh/id_ed25519.pub")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size <= 64 * 1024 else {
            throw Failure("\(path) is not a public key file (not a regular file, or larger than 64 KiB)",
                          hint: "pass the operator's .pub file, one line: ssh-ed25519 AAAA… comment")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try FileIO.read(fd, into: $0, path: path) }
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        return try OperatorKey(parsing: String(decoding: bytes, as: UTF8.self), source: path)
    }

    /// Writes the forced-command line for `key` to the login's authorized_keys; returns the line and
    /// what changed.
    public static func authorize(key: OperatorKey, for account: Account, command: [String]) throws -> (line: String, outcome: AuthorizedKeysFile.Outcome) {
        let line = try AuthorizedKeys.forcedCommandLine(command: command, key: key)
        let outcome = try AuthorizedKeysFile.install(line: line, key: key, home: account.home, uid: account.uid, gid: account.gid)
        return (line, outcome)
    }

    /// The whole shared part of `PROGRAM authorize --user LOGIN [--config C] KEYFILE`: root only, the
    /// login and the key checked, the forced command for this very binary written; each step said on
    /// `say`. Returns the line and the login, for the program's own checks after it.
    public static func operatorKey(program: String, user: String, keyFile: String, config: String, defaultConfig: String,
                                   say: (String) -> Void) throws -> (line: String, account: Account) {
        try requireRoot(program)
        let account = try Account.lookup(user)
        let key = try readKey(keyFile)
        let command = serveCommand(executable: try ownExecutable(), config: config, defaultConfig: defaultConfig)
        let (line, outcome) = try authorize(key: key, for: account, command: command)
        for note in outcome.notes { say(note) }
        say(describe(outcome))
        return (line, account)
    }

    /// How the outcome reads to the operator.
    public static func describe(_ outcome: AuthorizedKeysFile.Outcome) -> String {
        switch outcome.change {
        case .unchanged: return "\(outcome.path) already authorizes this key"
        case .added: return "authorized the key in \(outcome.path)"
        case .replaced(let n): return "authorized the key in \(outcome.path) (replacing \(n) older line\(n == 1 ? "" : "s") for the same key)"
        }
    }
}
