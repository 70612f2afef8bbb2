import AKBase
import AKProtocol
import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The agent's Ed25519 signing key, which never leaves infra-core: `signing.key` (the 32-byte seed,
/// base64, created exclusively; mode 0600, or 0640 in the agent's group when root makes it for the
/// package) and `signing.pub` in the agent's state directory.
/// Its signature on a manifest is what makes a backup restorable.
public struct SigningKey: Sendable {
    /// The 32-byte Ed25519 seed (kept as bytes: Crypto's key type is not Sendable).
    private let seed: [UInt8]
    public var privateKey: Curve25519.Signing.PrivateKey { try! Curve25519.Signing.PrivateKey(rawRepresentation: seed) }
    public var publicKey: AgentPublicKey { AgentPublicKey(raw: [UInt8](privateKey.publicKey.rawRepresentation))! }

    public init(privateKey: Curve25519.Signing.PrivateKey) {
        seed = [UInt8](privateKey.rawRepresentation)
    }

    public static func path(stateDir: String) -> String { (stateDir as NSString).appendingPathComponent("signing.key") }
    public static func publicPath(stateDir: String) -> String { (stateDir as NSString).appendingPathComponent("signing.pub") }

    /// The key in `stateDir`, or nil when there is none yet.
    public static func load(stateDir: String) throws -> SigningKey? {
        let path = path(stateDir: stateDir)
        let bytes: [UInt8]
        do {
            bytes = try FileIO.readFile(path, limit: 4096)
        } catch let e as FileIOError where e.code == ENOENT {
            return nil
        }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let seed = Data(base64Encoded: text), seed.count == 32,
              let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else {
            throw Failure("the signing key \(path) is damaged",
                          hint: "restore it from a copy; if it is lost, make a new one (akbackup-agent key --init after moving the file away) and trust the new public key on the NAS")
        }
        return SigningKey(privateKey: key)
    }

    /// The key, or a clear error naming the command that makes one.
    public static func require(stateDir: String) throws -> SigningKey {
        guard let key = try load(stateDir: stateDir) else {
            throw Failure("this agent has no signing key in \(stateDir), so it cannot sign backups or receipts",
                          hint: "run `akbackup-agent key --init` on infra-core as the agent's login (deploy/agent/install does), then trust its public key on the NAS: akbackup-receiver trust-agent-key KEY")
        }
        return key
    }

    /// Creates the key if there is none; returns it either way. Never replaces an existing key.
    /// With `group` (the package's `akbackup`: the logins the agent runs as) the key is 0640 in that
    /// group, so root can make it while those logins can read it; without, 0600 for its creator.
    @discardableResult
    public static func initialize(stateDir: String, group: gid_t? = nil) throws -> (key: SigningKey, created: Bool) {
        if let existing = try load(stateDir: stateDir) { return (existing, false) }
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        let key = SigningKey(privateKey: Curve25519.Signing.PrivateKey())
        let seed = Array((Data(key.privateKey.rawRepresentation).base64EncodedString() + "\n").utf8)
        do {
            try FileIO.writeAtomically(path(stateDir: stateDir), bytes: seed, mode: group == nil ? 0o600 : 0o640, replace: false, group: group)
        } catch let e as FileIOError where e.code == EEXIST {
            // Another process made one at the same moment: that one is the key.
            return (try require(stateDir: stateDir), false)
        }
        try FileIO.writeAtomically(publicPath(stateDir: stateDir), bytes: Array((key.publicKey.text + "\n").utf8), mode: 0o644, replace: true)
        return (key, true)
    }

    /// Every key whose signature this agent accepts: its own first, then the configured ones.
    public static func trustedKeys(own: SigningKey?, config: AgentConfig) -> [AgentPublicKey] {
        var keys: [AgentPublicKey] = own.map { [$0.publicKey] } ?? []
        for text in config.trustedKeys {
            if let k = AgentPublicKey(text: text), !keys.contains(k) { keys.append(k) }
        }
        return keys
    }
}
