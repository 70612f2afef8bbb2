import AKProtocol
import Crypto
import Foundation
import XCTest

/// Signed documents (PROTOCOL.md §12): the key form, the signed bytes, and the verdicts.
final class SignatureTests: XCTestCase {
    typealias S = ValidCatalogue.Sample
    private let agent = TestKeys.agentPublic
    private let other = TestKeys.otherPublic

    // MARK: keys

    func testTheTestKeysAreRFC8032s() {
        // RFC 8032 §7.1, TEST 1 and TEST 2: the public keys of those secret keys.
        XCTAssertEqual(Hex.encode(agent.raw), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        XCTAssertEqual(Hex.encode(other.raw), "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
        // RFC 8032 TEST 1's signature of the empty message: Ed25519 here is the RFC's, deterministic.
        XCTAssertEqual(Hex.encode([UInt8](try TestKeys.agent.signature(for: Data()))),
                       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    }

    func testKeyTextAndFingerprint() {
        XCTAssertEqual(agent.text, "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
        XCTAssertEqual(agent.description, agent.text)
        XCTAssertEqual(agent.fingerprint, "SHA256:If4x36FUomFia/hUBG/SJxt77UtqvkWqWId+9H+XIbk")
        XCTAssertEqual(other.text, "ed25519:PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=")
        XCTAssertEqual(other.fingerprint, "SHA256:OfcT0KZEJT8EUpQhufUbmwiXnQgpWVnE85kO5hf1E58")
        // The fingerprint is OpenSSH's form: unpadded base64 of SHA-256 of the raw 32 bytes.
        let digest = Data(SHA256.hash(data: agent.raw)).base64EncodedString()
        XCTAssertEqual(agent.fingerprint, "SHA256:" + digest.replacingOccurrences(of: "=", with: ""))
    }

    func testParsingKeys() {
        XCTAssertEqual(AgentPublicKey(text: agent.text), agent)
        XCTAssertEqual(AgentPublicKey(text: "  \(agent.text)\n"), agent, "surrounding white space is ignored")
        let bad = [
            "", "ed25519:", "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",           // no prefix
            "ED25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",                     // prefix is case-sensitive
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL",                                   // an OpenSSH key line
            "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUR",                       // 31 bytes
            "ed25519:" + Data(repeating: 1, count: 33).base64EncodedString(),           // 33 bytes
            "ed25519:!!not base64!!",
            "ed25519: 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",                    // space inside
        ]
        for text in bad { XCTAssertNil(AgentPublicKey(text: text), text) }
        XCTAssertNil(AgentPublicKey(raw: [UInt8](repeating: 0, count: 31)))
        XCTAssertNotNil(AgentPublicKey(raw: agent.raw))
    }

    func testStatusesOnTheWire() {
        let all: [SignatureStatus] = [.trusted, .untrusted, .invalid, .unsigned]
        XCTAssertEqual(all.map(\.rawValue), ["trusted", "untrusted", "invalid", "unsigned"])
    }

    // MARK: signed bytes

    func testSignedBytesAreTheDomainAndTheCanonicalJSONWithoutSignature() throws {
        let m = S.manifest
        let bytes = m.signedBytes()
        let prefix = Array("akbackup-manifest-2\n".utf8)
        XCTAssertEqual(Array(bytes.prefix(prefix.count)), prefix)
        let json = Array(bytes.dropFirst(prefix.count))
        var unsigned = m
        unsigned.signature = nil
        XCTAssertEqual(json, [UInt8](try MessageCodec.canonicalEncoder().encode(unsigned)))
        let text = String(decoding: json, as: UTF8.self)
        XCTAssertFalse(text.contains("signature"))
        XCTAssertTrue(text.hasPrefix(#"{"compression":"gzip -6, 4 thread(s), independent members","finishedAt":"2026-01-31T02:00:07Z","format":"akbackup-manifest-2","name":"#), text)
        XCTAssertFalse(text.contains("\\/"), "slashes are not escaped")
        XCTAssertFalse(text.contains("\n") || text.contains("\" : "), "no white space outside strings")
        // The signature itself is not signed: the bytes are the same before and after signing.
        XCTAssertEqual(unsigned.signedBytes(), bytes)
        var receipt = S.restoreReceipt
        XCTAssertEqual(Array(receipt.signedBytes().prefix(19)), Array("akbackup-receipt-2\n".utf8))
        receipt.signature = nil
        XCTAssertEqual(receipt.signedBytes(), S.restoreReceipt.signedBytes())
    }

    /// The canonical signed bytes of a fixed manifest and receipt, pinned in protocol/vectors/signature/.
    func testPinnedSignedBytes() throws {
        let dir = Repo.vectors.appendingPathComponent("signature")
        XCTAssertEqual(try Hex.read(dir.appendingPathComponent("manifest-signed-bytes.hex")), S.manifest.signedBytes())
        XCTAssertEqual(try Hex.read(dir.appendingPathComponent("receipt-signed-bytes.hex")), S.restoreReceipt.signedBytes())
        // The signature in the files is the test key's Ed25519 signature of exactly those bytes.
        for (file, bytesFile) in [("manifest-signed.json", "manifest-signed-bytes.hex"), ("receipt-signed.json", "receipt-signed-bytes.hex")] {
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent(file))) as! [String: Any]
            let signature = try XCTUnwrap(object["signature"] as? [String: String])
            XCTAssertEqual(signature["algorithm"], "ed25519")
            XCTAssertEqual(signature["key"], agent.text)
            let value = try XCTUnwrap(Data(base64Encoded: signature["value"] ?? ""))
            XCTAssertEqual(value.count, 64)
            let key = try Curve25519.Signing.PublicKey(rawRepresentation: agent.raw)
            XCTAssertTrue(key.isValidSignature(value, for: Data(try Hex.read(dir.appendingPathComponent(bytesFile)))), file)
            XCTAssertEqual(value, try TestKeys.agent.signature(for: Data(try Hex.read(dir.appendingPathComponent(bytesFile)))),
                           "Ed25519 is deterministic: signing again gives the same value")
        }
    }

    /// Every file of protocol/vectors/signature/ gets the verdict expect.json names, for a verifier trusting the agent key.
    func testSignatureVectors() throws {
        let dir = Repo.vectors.appendingPathComponent("signature")
        let expect = try JSONDecoder().decode([String: SignatureStatus].self, from: Data(contentsOf: dir.appendingPathComponent("expect.json")))
        XCTAssertEqual(expect, SignatureVectors.expectations)
        for (file, status) in expect {
            let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent(file)))
            let format = (try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])?["format"] as? String
            switch format {
            case "akbackup-manifest-2":
                XCTAssertEqual(try MessageCodec.decodeDocument(Manifest.self, from: bytes).signatureStatus(trusting: [agent]), status, file)
            case "akbackup-receipt-2":
                XCTAssertEqual(try MessageCodec.decodeDocument(Receipt.self, from: bytes).signatureStatus(trusting: [agent]), status, file)
            default:
                XCTFail("\(file): unknown format \(format ?? "none")")
            }
        }
        let keys = try JSONDecoder().decode(SignatureVectors.KeyFile.self, from: Data(contentsOf: dir.appendingPathComponent("keys.json")))
        XCTAssertEqual(keys, SignatureVectors.keys)
        XCTAssertEqual(keys.agent.seed, TestKeys.agentSeedHex)
    }

    // MARK: verdicts

    func testSignAndVerifyRoundTrip() throws {
        var m = S.unsignedManifest
        XCTAssertNil(m.signature)
        XCTAssertEqual(m.signatureStatus(trusting: [agent]), .unsigned)
        try m.sign(with: TestKeys.agent)
        XCTAssertEqual(m.signature?.algorithm, "ed25519")
        XCTAssertEqual(m.signature?.key, agent.text)
        XCTAssertEqual(Data(base64Encoded: m.signature!.value)?.count, 64)
        XCTAssertEqual(m.validSigner, agent)
        XCTAssertEqual(m.signatureStatus(trusting: [agent]), .trusted)
        XCTAssertEqual(m.signatureStatus(trusting: [other, agent]), .trusted)
        XCTAssertEqual(m, S.manifest)
        // Through the wire and back.
        let decoded = try MessageCodec.decode(MessageCodec.encode(Message(UploadCommit(id: 1, manifest: m)))).as(UploadCommit.self)
        XCTAssertEqual(decoded?.manifest.signatureStatus(trusting: [agent]), .trusted)
        // Signing again replaces the signature.
        try m.sign(with: TestKeys.other)
        XCTAssertEqual(m.validSigner, other)
        XCTAssertEqual(m.signatureStatus(trusting: [agent]), .untrusted)

        var r = S.undoReceipt
        XCTAssertEqual(r.signatureStatus(trusting: [agent]), .trusted)
        r.signature = nil
        XCTAssertEqual(r.signatureStatus(trusting: [agent]), .unsigned)
        try r.sign(with: TestKeys.agent)
        XCTAssertEqual(r, S.undoReceipt)
    }

    func testAnyChangedFieldMakesTheSignatureInvalid() {
        let changes: [(String, (inout Manifest) -> Void)] = [
            ("format", { $0.format = "akbackup-manifest-3" }),
            ("name", { $0.name = "authentik-db-2026-02-01T020000Z.sql.gz" }),
            ("sha256", { $0.sha256 = ValidCatalogue.Sample.handMadeSHA256 }),
            ("size", { $0.size += 1 }),
            ("uncompressedSize", { $0.uncompressedSize -= 1 }),
            ("startedAt", { $0.startedAt = "2026-01-31T02:00:01Z" }),
            ("finishedAt", { $0.finishedAt = "2026-01-31T02:00:08Z" }),
            ("source.host", { $0.source.host = "evil" }),
            ("source.authentikVersion", { $0.source.authentikVersion = "2025.8.3" }),
            ("source.latestMigration removed", { $0.source.latestMigration = nil }),
            ("rowCounts value", { $0.rowCounts["public.authentik_core_user"] = 18 }),
            ("rowCounts key added", { $0.rowCounts["public.extra"] = 0 }),
            ("rowCounts emptied", { $0.rowCounts = [:] }),
            ("schemaDigests value", { $0.schemaDigests?["tables"] = ValidCatalogue.Sample.emptyDigest }),
            ("schemaDigests removed", { $0.schemaDigests = nil }),
            ("schemaDigests emptied", { $0.schemaDigests = [:] }),
            ("compression", { $0.compression += " " }),
            ("software", { $0.software = "0.2.1" }),
        ]
        for (what, change) in changes {
            var m = S.manifest
            change(&m)
            XCTAssertNotEqual(m.signedBytes(), S.manifest.signedBytes(), what)
            XCTAssertNil(m.validSigner, what)
            XCTAssertEqual(m.signatureStatus(trusting: [agent]), .invalid, what)
            XCTAssertEqual(m.signatureStatus(trusting: []), .invalid, "\(what): invalid whatever the verifier trusts")
        }
        let receiptChanges: [(String, (inout Receipt) -> Void)] = [
            ("outcome", { $0.outcome = .tested }),
            ("operation", { $0.operation = "restore-test" }),
            ("artifactSigned", { $0.artifactSigned = false }),
            ("undoPoint", { $0.undoPoint = nil }),
            ("finishedAt", { $0.finishedAt = "2026-05-01T09:30:57Z" }),
            ("validation.ok", { $0.validation?.ok = false }),
            ("steps[0].seconds", { $0.steps[0].seconds += 0.5 }),
            ("downtimeSeconds", { $0.downtimeSeconds = 1 }),
            ("operatorName", { $0.operatorName = "mallory" }),
        ]
        for (what, change) in receiptChanges {
            var r = S.restoreReceipt
            change(&r)
            XCTAssertEqual(r.signatureStatus(trusting: [agent]), .invalid, what)
        }
    }

    func testAnotherKeyIsUntrustedUntilTrusted() {
        let m = TestKeys.signed(S.unsignedManifest, with: TestKeys.other)
        XCTAssertEqual(m.validSigner, other)
        XCTAssertEqual(m.signatureStatus(trusting: [agent]), .untrusted)
        XCTAssertEqual(m.signatureStatus(trusting: []), .untrusted)
        XCTAssertEqual(m.signatureStatus(trusting: [agent, other]), .trusted)
        // The key named in the signature is only a claim: naming the trusted key over another key's signature is invalid.
        var claimed = m
        claimed.signature?.key = agent.text
        XCTAssertEqual(claimed.signatureStatus(trusting: [agent]), .invalid)
    }

    func testMalformedSignaturesAreInvalid() {
        let good = S.manifest.signature!
        let value = Data(base64Encoded: good.value)!
        let malformed: [(String, Signature)] = [
            ("algorithm", Signature(algorithm: "rsa", key: good.key, value: good.value)),
            ("algorithm case", Signature(algorithm: "Ed25519", key: good.key, value: good.value)),
            ("key prefix", Signature(key: String(good.key.dropFirst(8)), value: good.value)),
            ("key length", Signature(key: "ed25519:" + Data(agent.raw.dropLast()).base64EncodedString(), value: good.value)),
            ("key not base64", Signature(key: "ed25519:***", value: good.value)),
            ("value not base64", Signature(key: good.key, value: "not base64!")),
            ("value 63 bytes", Signature(key: good.key, value: value.dropLast().base64EncodedString())),
            ("value 65 bytes", Signature(key: good.key, value: (value + [0]).base64EncodedString())),
            ("value empty", Signature(key: good.key, value: "")),
            ("value bit flipped", Signature(key: good.key, value: Data([value[0] ^ 1] + value.dropFirst()).base64EncodedString())),
            ("value zero", Signature(key: good.key, value: Data(count: 64).base64EncodedString())),
            ("the receipt's signature", S.restoreReceipt.signature!),
        ]
        for (what, signature) in malformed {
            var m = S.manifest
            m.signature = signature
            XCTAssertNil(m.validSigner, what)
            XCTAssertEqual(m.signatureStatus(trusting: [agent]), .invalid, what)
        }
    }

    /// A signature over one kind of document never passes for another: the domain is part of the signed bytes.
    func testDomainSeparation() throws {
        let m = S.manifest
        var unsigned = m
        unsigned.signature = nil
        let json = try MessageCodec.canonicalEncoder().encode(unsigned)
        // The agent's key signing the manifest's JSON under the receipt domain does not sign the manifest.
        let crossDomain = try TestKeys.agent.signature(for: Data("akbackup-receipt-2\n".utf8) + json)
        var forged = m
        forged.signature = Signature(key: agent.text, value: crossDomain.base64EncodedString())
        XCTAssertEqual(forged.signatureStatus(trusting: [agent]), .invalid)
        // Nor does a signature of the bare JSON, without any domain.
        let bare = try TestKeys.agent.signature(for: json)
        forged.signature = Signature(key: agent.text, value: bare.base64EncodedString())
        XCTAssertEqual(forged.signatureStatus(trusting: [agent]), .invalid)
        // The real one is over the manifest domain.
        let real = try TestKeys.agent.signature(for: Data("akbackup-manifest-2\n".utf8) + json)
        XCTAssertEqual(real.base64EncodedString(), m.signature?.value)
    }

    // MARK: another implementation

    /// protocol/check_signatures.py recomputes the signed bytes and verifies every vector with Python's `cryptography`.
    /// Skipped (with a message) when python3 or the module is missing, except in CI (CI=true), where it fails.
    func testAnotherImplementationVerifiesTheVectors() throws {
        guard let output = try PythonChecker.run("protocol/check_signatures.py") else { return }
        XCTAssertTrue(output.contains("6/6 documents"), output)
    }
}
