import Crypto
import Foundation

/// An agent's Ed25519 public key, as operators copy it: `ed25519:` and the 32 raw bytes in base64.
public struct AgentPublicKey: Hashable, Sendable, CustomStringConvertible {
    public let raw: [UInt8]

    public init?(raw: [UInt8]) {
        guard raw.count == 32, (try? Curve25519.Signing.PublicKey(rawRepresentation: raw)) != nil else { return nil }
        self.raw = raw
    }

    /// Parses `ed25519:BASE64` (surrounding spaces ignored).
    public init?(text: String) {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard t.hasPrefix("ed25519:"), let data = Data(base64Encoded: String(t.dropFirst(8))) else { return nil }
        self.init(raw: [UInt8](data))
    }

    public var text: String { "ed25519:" + Data(raw).base64EncodedString() }
    public var description: String { text }

    /// OpenSSH's style: `SHA256:` and unpadded base64 of the key's SHA-256.
    public var fingerprint: String {
        var b = Data(SHA256.hash(data: raw)).base64EncodedString()
        while b.hasSuffix("=") { b.removeLast() }
        return "SHA256:" + b
    }
}

/// An Ed25519 signature over a document's canonical bytes (§12).
public struct Signature: Codable, Equatable, Sendable {
    /// Always `ed25519`.
    public var algorithm: String
    /// The signer's public key, `ed25519:BASE64` (the verifier decides whether it trusts it).
    public var key: String
    /// The 64-byte signature, base64.
    public var value: String

    public init(algorithm: String = "ed25519", key: String, value: String) {
        self.algorithm = algorithm
        self.key = key
        self.value = value
    }
}

/// What a verifier concluded about a document's signature.
public enum SignatureStatus: String, Codable, Sendable {
    /// Signed by a key the verifier trusts, and the signature covers the document.
    case trusted
    /// A correct signature, but by a key the verifier does not trust.
    case untrusted
    /// A signature that does not match the document (tampered), or is malformed.
    case invalid
    /// No signature at all (a dump made by hand, or by akbackup before version 0.2).
    case unsigned
}

/// A document the agent signs: manifests and receipts.
public protocol SignedDocument: Codable, Sendable {
    /// Domain separation: the first line of the signed bytes, so a signature over one kind of
    /// document can never pass for another.
    static var signingDomain: String { get }
    var signature: Signature? { get set }
}

extension SignedDocument {
    /// The bytes a signature covers: the domain, a newline, and the canonical JSON (§2.1) of the
    /// document without its `signature` member.
    public func signedBytes() -> [UInt8] {
        var unsigned = self
        unsigned.signature = nil
        // Encoding our own value types cannot fail.
        let json = try! MessageCodec.canonicalEncoder().encode(unsigned)
        return Array((Self.signingDomain + "\n").utf8) + [UInt8](json)
    }

    /// Signs the document with `key`, replacing any signature it had.
    public mutating func sign(with key: Curve25519.Signing.PrivateKey) throws {
        signature = nil
        let value = try key.signature(for: Data(signedBytes()))
        let publicKey = AgentPublicKey(raw: [UInt8](key.publicKey.rawRepresentation))!
        signature = Signature(key: publicKey.text, value: Data(value).base64EncodedString())
    }

    /// The signer's key when the signature is well-formed and covers this document; nil otherwise.
    public var validSigner: AgentPublicKey? {
        guard let s = signature, s.algorithm == "ed25519", let key = AgentPublicKey(text: s.key),
              let value = Data(base64Encoded: s.value), value.count == 64,
              let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: key.raw),
              publicKey.isValidSignature(value, for: Data(signedBytes())) else { return nil }
        return key
    }

    /// The verdict against the keys `trusted`.
    public func signatureStatus(trusting trusted: [AgentPublicKey]) -> SignatureStatus {
        guard signature != nil else { return .unsigned }
        guard let signer = validSigner else { return .invalid }
        return trusted.contains(signer) ? .trusted : .untrusted
    }
}
