import AKBase
import Foundation

/// The operator's SSH public key as `authorize` takes it: the one line of a `.pub` file, of a type
/// the controller can sign with, and key data that really is a key of that type. Whatever is
/// refused is refused here, before any file on the host changes.
public struct OperatorKey: Equatable, Sendable {
    public var type: String
    /// The key data, base64, exactly as written.
    public var blob: String
    /// The comment (usually user@host), possibly empty.
    public var comment: String

    /// What the controller's libssh2 (1.10 on Debian 12, with OpenSSL) can sign with and a current
    /// OpenSSH accepts.
    public static let acceptedTypes: Set<String> = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"]

    static let useEd25519 = "make one with `ssh-keygen -t ed25519` on the operator's laptop and pass its .pub file"

    /// Parses the contents of a public key file (`source` names it in errors).
    public init(parsing text: String, source: String) throws {
        // A private key handed over by mistake must not end up anywhere, not even in an error message.
        if text.contains("PRIVATE KEY-----") || text.hasPrefix("PuTTY-User-Key-File") {
            throw Failure("\(source) is a private key",
                          hint: "pass the public half (e.g. ~/.ssh/id_ed25519.pub); the private key never leaves the operator's laptop")
        }
        if text.contains("---- BEGIN SSH2 PUBLIC KEY ----") {
            throw Failure("\(source) is an RFC 4716 (SSH2) public key, not OpenSSH's one-line format",
                          hint: "convert it: ssh-keygen -i -f \(source) > operator.pub")
        }
        let lines = text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard let line = lines.first else {
            throw Failure("\(source) holds no public key", hint: "pass the operator's .pub file, one line: ssh-ed25519 AAAA… comment")
        }
        guard lines.count == 1 else {
            throw Failure("\(source) holds \(lines.count) keys; authorize takes exactly one",
                          hint: "put the operator's one key in a file of its own and authorize each key separately")
        }
        let fields = line.split(maxSplits: 2, omittingEmptySubsequences: true, whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        let type = fields[0]
        switch type {
        case _ where OperatorKey.acceptedTypes.contains(type):
            break
        case "ssh-rsa", "rsa-sha2-256", "rsa-sha2-512":
            throw Failure("\(source) is an RSA key, which akbackup cannot use",
                          hint: "libssh2 1.10 (the controller's SSH library) signs with RSA only as ssh-rsa (SHA-1), which OpenSSH ≥ 8.8 refuses: \(OperatorKey.useEd25519)")
        case "ssh-dss":
            throw Failure("\(source) is a DSA key, which OpenSSH no longer accepts", hint: OperatorKey.useEd25519)
        case _ where type.hasPrefix("sk-"):
            throw Failure("\(source) is a security-key (\(type)) key, which libssh2 1.10 cannot use",
                          hint: OperatorKey.useEd25519 + " (a key without a hardware token)")
        case _ where type.contains("-cert-v01@openssh.com"):
            throw Failure("\(source) is an SSH certificate, not a plain public key", hint: "pass the key's own .pub file")
        default:
            throw Failure("\(source) does not look like an OpenSSH public key (it starts with \"\(type.prefix(30))\")",
                          hint: "pass the .pub file ssh-keygen wrote: one line, ssh-ed25519 AAAA… comment (no options before the key type)")
        }
        guard fields.count >= 2 else {
            throw Failure("\(source) has no key data after \(type)", hint: "it should look like: \(type) AAAA… comment")
        }
        let blob = fields[1]
        guard OperatorKey.blobMatches(type: type, blob: blob) else {
            throw Failure("\(source): the key data is not a valid \(type) key (damaged or truncated)",
                          hint: "copy the .pub file again, byte for byte (cat ~/.ssh/id_ed25519.pub)")
        }
        let comment = fields.count > 2 ? fields[2].trimmingCharacters(in: .whitespaces) : ""
        guard !comment.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\t" }) else {
            throw Failure("\(source): the key's comment holds control characters", hint: "edit the comment (after the key data) to plain text")
        }
        self.type = type
        self.blob = blob
        self.comment = comment
    }

    /// The key data decodes and names the same type (the wire format: uint32 length, type string,
    /// then the key); an ed25519 key is 32 bytes.
    static func blobMatches(type: String, blob: String) -> Bool {
        guard let data = Data(base64Encoded: blob) else { return false }
        let bytes = [UInt8](data)
        var offset = 0
        func string() -> [UInt8]? {
            guard bytes.count - offset >= 4 else { return nil }
            let n = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            offset += 4
            guard n <= bytes.count - offset else { return nil }
            defer { offset += n }
            return Array(bytes[offset..<offset + n])
        }
        guard let name = string(), name == Array(type.utf8) else { return false }
        if type == "ssh-ed25519" {
            guard let key = string(), key.count == 32, offset == bytes.count else { return false }
        } else {
            // ecdsa-sha2-<curve>: the curve's name, then the point.
            guard let curve = string(), "ecdsa-sha2-" + String(decoding: curve, as: UTF8.self) == type,
                  let point = string(), !point.isEmpty, offset == bytes.count else { return false }
        }
        return true
    }
}
