import Foundation
import CLibSSH2
import Transport
#if canImport(Glibc)
import Glibc
#endif

/// What we can tell about a private key file without decrypting it.
struct KeyFileInfo {
    var path: String
    var type: String        // "ssh-ed25519", "ssh-rsa", ... or "unknown"
    var encrypted: Bool
    var publicBlob: [UInt8]?

    static func read(path: String) -> KeyFileInfo? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var info = KeyFileInfo(path: path, type: "unknown", encrypted: false, publicBlob: nil)
        if text.contains("BEGIN OPENSSH PRIVATE KEY") {
            let b64 = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
            if let data = Data(base64Encoded: b64) {
                var r = SSHWireReader([UInt8](data))
                let magic = Array("openssh-key-v1".utf8) + [0]
                if r.take(magic.count) == magic, let cipher = r.string(), r.string() != nil, r.string() != nil,
                   r.uint32() != nil, let pub = r.string() {
                    info.encrypted = String(decoding: cipher, as: UTF8.self) != "none"
                    info.publicBlob = pub
                    var pr = SSHWireReader(pub)
                    info.type = pr.string().map { String(decoding: $0, as: UTF8.self) } ?? "unknown"
                }
            }
        } else if text.contains("BEGIN RSA PRIVATE KEY") {
            info.type = "ssh-rsa"; info.encrypted = text.contains("ENCRYPTED")
        } else if text.contains("BEGIN EC PRIVATE KEY") {
            info.type = "ecdsa"; info.encrypted = text.contains("ENCRYPTED")
        } else if text.contains("ENCRYPTED PRIVATE KEY") {
            info.encrypted = true
        }
        if let pubText = try? String(contentsOfFile: path + ".pub", encoding: .utf8) {
            let f = pubText.split(separator: " ")
            if f.count >= 2, let blob = Data(base64Encoded: String(f[1])) {
                if info.type == "unknown" { info.type = String(f[0]) }
                if info.publicBlob == nil { info.publicBlob = [UInt8](blob) }
            }
        }
        return info
    }
}

struct SSHWireReader {
    let bytes: [UInt8]
    var pos = 0
    init(_ b: [UInt8]) { bytes = b }
    mutating func take(_ n: Int) -> [UInt8]? {
        guard n >= 0, pos + n <= bytes.count else { return nil }
        defer { pos += n }
        return Array(bytes[pos..<(pos + n)])
    }
    mutating func uint32() -> UInt32? {
        guard let b = take(4) else { return nil }
        return b.reduce(0) { $0 << 8 | UInt32($1) }
    }
    mutating func string() -> [UInt8]? {
        guard let n = uint32() else { return nil }
        return take(Int(n))
    }
}

func keyTypeOfBlob(_ blob: [UInt8]) -> String {
    var r = SSHWireReader(blob)
    return r.string().map { String(decoding: $0, as: UTF8.self) } ?? "unknown"
}

func tildeAbbreviated(_ path: String) -> String {
    let home = SSHConfigResolver.homeDirectory()
    if home != "/" && path.hasPrefix(home + "/") { return "~" + path.dropFirst(home.count) }
    return path
}

enum SSHAuthenticator {
    static let rsaHint = "libssh2 1.10 can only sign with ssh-rsa (SHA-1), which OpenSSH >= 8.8 refuses; "
        + "create an ed25519 key (ssh-keygen -t ed25519), add its .pub to the server's authorized_keys "
        + "and list it as IdentityFile for this host"

    /// Agent identities first, then identity files; returns a description of what worked.
    static func authenticate(session: OpaquePointer, endpoint: SSHEndpoint) throws -> String {
        let user = endpoint.user
        var tried: [String] = []
        var triedRSA = false
        var notes: [String] = []

        let files = endpoint.identityFiles.compactMap { KeyFileInfo.read(path: $0) }
        let allowedBlobs = files.compactMap(\.publicBlob)

        // Agent
        let agentPath: String? = {
            if let a = endpoint.identityAgent { return a == "none" ? nil : a }
            if let s = ProcessInfo.processInfo.environment["SSH_AUTH_SOCK"], !s.isEmpty { return s }
            return nil
        }()
        if let agentPath, let agent = libssh2_agent_init(session) {
            defer { libssh2_agent_disconnect(agent); libssh2_agent_free(agent) }
            libssh2_agent_set_identity_path(agent, agentPath)
            if libssh2_agent_connect(agent) == 0 && libssh2_agent_list_identities(agent) == 0 {
                var prev: UnsafeMutablePointer<libssh2_agent_publickey>? = nil
                var ident: UnsafeMutablePointer<libssh2_agent_publickey>? = nil
                while libssh2_agent_get_identity(agent, &ident, prev) == 0, let id = ident {
                    prev = id
                    let blob = Array(UnsafeBufferPointer(start: id.pointee.blob, count: id.pointee.blob_len))
                    if endpoint.identitiesOnly && !allowedBlobs.contains(blob) { continue }
                    let comment = id.pointee.comment.map { String(cString: $0) } ?? "?"
                    let type = keyTypeOfBlob(blob)
                    tried.append("agent: \(comment) (\(type))")
                    if ak_agent_userauth(agent, user, id) == 0 { return "publickey (agent: \(comment))" }
                    if type == "ssh-rsa" { triedRSA = true }
                }
            } else {
                notes.append("agent at \(agentPath) not usable")
            }
        }

        for key in files {
            var passphrase: String? = nil
            if key.encrypted {
                if isatty(0) == 1, let p = readPassphrase(prompt: "Enter passphrase for key '\(tildeAbbreviated(key.path))': ") {
                    passphrase = p
                } else {
                    tried.append("\(tildeAbbreviated(key.path)) (\(key.type), encrypted: skipped, no terminal for the passphrase)")
                    notes.append("load encrypted keys into ssh-agent (ssh-add) for unattended runs")
                    continue
                }
            }
            tried.append("\(tildeAbbreviated(key.path)) (\(key.type))")
            let rc = ak_userauth_publickey_fromfile(session, user, nil, key.path, passphrase ?? "")
            if rc == 0 { return "publickey (\(tildeAbbreviated(key.path)))" }
            if key.type == "ssh-rsa" { triedRSA = true }
            if rc != LIBSSH2_ERROR_AUTHENTICATION_FAILED && rc != LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED {
                notes.append("\(tildeAbbreviated(key.path)): \(LibSSH2.lastError(session))")
            }
        }

        let triedText = tried.isEmpty ? "no keys (no agent identities, none of \(endpoint.identityFiles.map(tildeAbbreviated).joined(separator: ", ")) exists)"
                                      : tried.joined(separator: "; ")
        var hint = triedRSA ? rsaHint
            : "check that user \(user) exists on \(endpoint.hostName) and that its authorized_keys holds one of these keys (ssh -v \(endpoint.alias) shows what the server accepts)"
        if !notes.isEmpty { hint += "; " + notes.joined(separator: "; ") }
        throw TransportError(.auth, host: endpoint.alias,
                             "\(user)@\(endpoint.hostName): permission denied (publickey); tried \(triedText)",
                             hint: hint)
    }

    /// Prompts on the controlling terminal with echo off, never via argv or stdin.
    static func readPassphrase(prompt: String) -> String? {
        let fd = open("/dev/tty", O_RDWR)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        _ = prompt.withCString { write(fd, $0, strlen($0)) }
        var old = termios()
        let haveTermios = tcgetattr(fd, &old) == 0
        if haveTermios {
            var quiet = old
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(fd, TCSAFLUSH, &quiet)
        }
        defer {
            if haveTermios { var o = old; tcsetattr(fd, TCSAFLUSH, &o) }
            _ = write(fd, "\n", 1)
        }
        var line: [UInt8] = []
        var c: UInt8 = 0
        while read(fd, &c, 1) == 1 && c != 0x0A { line.append(c) }
        return String(decoding: line, as: UTF8.self)
    }
}
