import Crypto
import Foundation
import CLibSSH2
import Transport

/// One key line of an OpenSSH known_hosts file.
public struct KnownHostEntry: Sendable, Equatable {
    public var file: String
    public var line: Int            // 1-based
    public var hostField: String    // comma-separated patterns, or a hashed |1|salt|hash
    public var keyType: String
    public var keyBase64: String
}

public enum HostKeyStatus: String, Sendable {
    case match
    case unknown
    case changed
    /// The presented key is marked `@revoked` in known_hosts.
    case revoked
    /// Only a `@cert-authority` line names the host: libssh2 cannot verify host certificates.
    case certificateAuthority
}

/// A `@revoked` or `@cert-authority` line.
public struct KnownHostMarker: Sendable, Equatable {
    public var marker: String       // "@revoked", "@cert-authority"
    public var entry: KnownHostEntry
}

/// Reads and writes OpenSSH known_hosts files. The verdict comes from libssh2's knownhost API;
/// this type also finds the offending line (libssh2 cannot say which) and which key types
/// to ask the server for.
public enum KnownHosts {
    /// The host as known_hosts spells it: non-default ports use `[host]:port`.
    public static func hostToken(_ host: String, port: Int) -> String {
        port == 22 ? host : "[\(host)]:\(port)"
    }

    /// All key lines of the files (markers such as @cert-authority and @revoked are not keys).
    public static func parse(text: String, file: String) -> [KnownHostEntry] {
        var out: [KnownHostEntry] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("@") { continue }
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard f.count >= 3 else { continue }
            out.append(KnownHostEntry(file: file, line: i + 1, hostField: f[0], keyType: f[1], keyBase64: f[2]))
        }
        return out
    }

    /// The marker lines of the text (`@revoked`, `@cert-authority`).
    public static func parseMarkers(text: String, file: String) -> [KnownHostMarker] {
        var out: [KnownHostMarker] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard line.hasPrefix("@") else { continue }
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard f.count >= 4 else { continue }
            out.append(KnownHostMarker(marker: f[0].lowercased(),
                                       entry: KnownHostEntry(file: file, line: i + 1, hostField: f[1], keyType: f[2], keyBase64: f[3])))
        }
        return out
    }

    public static func markers(for host: String, port: Int, files: [String]) -> [KnownHostMarker] {
        files.flatMap { file in
            (try? String(contentsOfFile: file, encoding: .utf8)).map { parseMarkers(text: $0, file: file) } ?? []
        }.filter { hostFieldMatches($0.entry.hostField, host: host, port: port) }
    }

    public static func entries(files: [String]) -> [KnownHostEntry] {
        files.flatMap { file in
            (try? String(contentsOfFile: file, encoding: .utf8)).map { parse(text: $0, file: file) } ?? []
        }
    }

    /// Whether a host field names this host: hashed (HMAC-SHA1 of the token keyed by the salt)
    /// or a pattern list with `*`, `?` and `!` as OpenSSH reads them.
    public static func hostFieldMatches(_ field: String, host: String, port: Int) -> Bool {
        let token = hostToken(host, port: port)
        if field.hasPrefix("|1|") {
            let parts = field.split(separator: "|", omittingEmptySubsequences: false)
            guard parts.count == 4,
                  let salt = Data(base64Encoded: String(parts[2])),
                  let hash = Data(base64Encoded: String(parts[3])) else { return false }
            return KnownHosts.hmacSHA1(key: [UInt8](salt), message: Array(token.utf8)) == [UInt8](hash)
        }
        return SSHConfigResolver.hostMatches(token, patterns: field.split(separator: ",").map(String.init))
    }

    /// HMAC-SHA1, as OpenSSH hashes known_hosts host names (`|1|salt|hash`); SHA-1 only for that.
    static func hmacSHA1(key: [UInt8], message: [UInt8]) -> [UInt8] {
        [UInt8](HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    public static func entries(for host: String, port: Int, files: [String]) -> [KnownHostEntry] {
        entries(files: files).filter { hostFieldMatches($0.hostField, host: host, port: port) }
    }

    /// Host key algorithms libssh2 1.10 can verify, in our order of preference.
    static let supportedHostKeyTypes = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                                        "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]

    /// The host key preference list: types known_hosts holds for the host first, so that
    /// libssh2 (which otherwise prefers ecdsa) asks for a key we can verify.
    public static func hostKeyPreference(knownTypes: [String]) -> String {
        var known: [String] = []
        for t in knownTypes {
            let algs = t == "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [t]
            for a in algs where supportedHostKeyTypes.contains(a) && !known.contains(a) { known.append(a) }
        }
        return (known + supportedHostKeyTypes.filter { !known.contains($0) }).joined(separator: ",")
    }

    static func keyTypeName(libssh2Type: Int32) -> String {
        switch libssh2Type {
        case LIBSSH2_HOSTKEY_TYPE_RSA: return "ssh-rsa"
        case LIBSSH2_HOSTKEY_TYPE_DSS: return "ssh-dss"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return "ecdsa-sha2-nistp256"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return "ecdsa-sha2-nistp384"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return "ecdsa-sha2-nistp521"
        case LIBSSH2_HOSTKEY_TYPE_ED25519: return "ssh-ed25519"
        default: return "unknown"
        }
    }

    /// OpenSSH's fingerprint format: SHA256: and unpadded base64.
    public static func fingerprint(sha256: [UInt8]) -> String {
        var b = Data(sha256).base64EncodedString()
        while b.hasSuffix("=") { b.removeLast() }
        return "SHA256:" + b
    }

    /// The verdict for the key the server presented. libssh2 decides; our own matcher covers
    /// what libssh2 cannot read (wildcard patterns) and names the line of a changed key.
    static func check(session: OpaquePointer, host: String, port: Int, files: [String],
                      keyType: Int32, keyBlob: [UInt8]) -> (HostKeyStatus, KnownHostEntry?) {
        let typeName = keyTypeName(libssh2Type: keyType)
        let keyB64 = Data(keyBlob).base64EncodedString()
        var verdict = Int32(LIBSSH2_KNOWNHOST_CHECK_NOTFOUND)
        if let kh = libssh2_knownhost_init(session) {
            defer { libssh2_knownhost_free(kh) }
            for file in files {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
                for raw in text.split(separator: "\n") {
                    let line = raw.trimmingCharacters(in: .whitespaces)
                    // readfile stops at the first line it cannot parse; feed lines one by one and
                    // leave out what 1.10 does not support (markers, wildcard patterns).
                    if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("@") { continue }
                    let field = line.prefix(while: { $0 != " " && $0 != "\t" })
                    if !field.hasPrefix("|") && field.contains(where: { "*?!".contains($0) }) { continue }
                    let withNL = line + "\n"
                    _ = ak_knownhost_readline(kh, withNL, withNL.utf8.count)
                }
            }
            verdict = keyBlob.withUnsafeBufferPointer { buf in
                buf.withMemoryRebound(to: CChar.self) {
                    ak_knownhost_checkp(kh, host, Int32(port), $0.baseAddress, $0.count, keyType)
                }
            }
        }
        let markers = markers(for: host, port: port, files: files)
        // A revoked key is refused whatever else known_hosts says about it (as OpenSSH does).
        if let revoked = markers.first(where: { $0.marker == "@revoked" && $0.entry.keyBase64 == keyB64 }) {
            return (.revoked, revoked.entry)
        }
        let known = entries(for: host, port: port, files: files)
        let mine = known.filter { $0.keyType == typeName }
        if verdict == LIBSSH2_KNOWNHOST_CHECK_MATCH { return (.match, nil) }
        if mine.contains(where: { $0.keyBase64 == keyB64 }) { return (.match, nil) }
        if let bad = mine.first { return (.changed, bad) }
        if verdict == LIBSSH2_KNOWNHOST_CHECK_MISMATCH { return (.changed, nil) }
        // Known with a key of another type only: the server no longer offers the key we know (OpenSSH
        // warns the same way); treat it as changed, never as a new host to trust.
        if let other = known.first { return (.changed, other) }
        if let ca = markers.first(where: { $0.marker == "@cert-authority" }) { return (.certificateAuthority, ca.entry) }
        return (.unknown, nil)
    }

    /// Appends a hashed line for host:port (what `akbackup trust` writes), creating the file
    /// and its directory with private modes if needed.
    public static func append(host: String, port: Int, keyType: String, keyBase64: String, file: String) throws {
        var salt = [UInt8](repeating: 0, count: 20)
        var rng = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = UInt8.random(in: 0...255, using: &rng) }
        let hash = KnownHosts.hmacSHA1(key: salt, message: Array(hostToken(host, port: port).utf8))
        let line = "|1|\(Data(salt).base64EncodedString())|\(Data(hash).base64EncodedString()) \(keyType) \(keyBase64)\n"

        let dir = (file as NSString).deletingLastPathComponent
        if !dir.isEmpty && !FileManager.default.fileExists(atPath: dir) {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
        let fd = open(file, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard fd >= 0 else {
            throw TransportError(.io, host: host, "cannot open \(file): \(String(cString: strerror(errno)))",
                                 hint: "check the permissions of \(dir)")
        }
        defer { close(fd) }
        var text = line
        // Keep the new entry on its own line when the file lacks a final newline.
        if let existing = try? Data(contentsOf: URL(fileURLWithPath: file)), let last = existing.last, last != 0x0A {
            text = "\n" + line
        }
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else {
            throw TransportError(.io, host: host, "cannot write \(file): \(String(cString: strerror(errno)))",
                                 hint: "check free space and permissions")
        }
    }
}
