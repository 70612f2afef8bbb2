import AKProtocol
import Foundation
import XCTest

/// `ArtifactName` (the receiver's only defence against path names from the wire) and the
/// `Manifest` JSON written beside each artifact. See PROTOCOL.md §10.5 and §10.6.
final class ArtifactNameTests: XCTestCase {
    func testValidNames() {
        for name in ["authentik-db-2026-01-31T020000Z.sql.gz",
                     "authentik-db-1970-01-01T000000Z.sql.gz",
                     "authentik-db-9999-12-31T235959Z.sql.gz"] {
            XCTAssertTrue(ArtifactName.isValid(name), name)
        }
    }

    /// Only the shape is checked: every position must be an ASCII digit, not a plausible date.
    /// Documented in PROTOCOL.md §10.5; harmless, since such a name is still a plain file name.
    func testDigitRangesAreNotChecked() {
        for name in ["authentik-db-2026-13-01T000000Z.sql.gz",
                     "authentik-db-2026-00-00T000000Z.sql.gz",
                     "authentik-db-0000-02-31T996099Z.sql.gz"] {
            XCTAssertTrue(ArtifactName.isValid(name), name)
        }
    }

    func testRejectedNames() {
        let good = "authentik-db-2026-01-31T020000Z.sql.gz"
        let bad: [String] = [
            "",
            "latest",
            "../x",
            "../" + good,
            "./" + good,
            "/" + good,
            "/volume1/backups/" + good,
            "sub/" + good,
            good + "/../x",
            "authentik-db-../../../etc/passwd.sql.gz",
            "authentik-db-2026-01-31T02/../Z.sql.gz",
            // wrong or missing suffix
            "authentik-db-2026-01-31T020000Z.sql",
            "authentik-db-2026-01-31T020000Z.sql.gz.partial",
            "authentik-db-2026-01-31T020000Z.tar.gz",
            "authentik-db-2026-01-31T020000Z.SQL.GZ",
            "authentik-db-2026-01-31T020000Z",
            "authentik-db-2026-01-31T020000Z.json",
            // wrong prefix
            "Authentik-db-2026-01-31T020000Z.sql.gz",
            "authentik-2026-01-31T020000Z.sql.gz",
            "xauthentik-db-2026-01-31T020000Z.sql.gz",
            // extra, missing or misplaced characters
            " " + good,
            good + " ",
            good + "\n",
            good + "\u{0}",
            "authentik-db-2026-01-31T0200000Z.sql.gz",
            "authentik-db-2026-01-31T02000Z.sql.gz",
            "authentik-db-2026-1-31T020000Z.sql.gz",
            "authentik-db-26-01-31T020000Z.sql.gz",
            "authentik-db-2026-01-31T02:00:00Z.sql.gz",
            "authentik-db-2026-01-31 020000Z.sql.gz",
            "authentik-db-2026-01-31t020000z.sql.gz",
            "authentik-db-2026-01-31T020000.sql.gz",
            "authentik-db-2026_01_31T020000Z.sql.gz",
            "authentik-db-2026-01-31T020000+0100.sql.gz",
            "authentik-db-.sql.gz",
            "authentik-db-",
            "authentik-db-2026-01-31T020000Z.sql.gz.sql.gz",
            // non-ASCII digits and look-alikes
            "authentik-db-２０２６-01-31T020000Z.sql.gz",
            "authentik-db-٢٠٢٦-01-31T020000Z.sql.gz",
            "authentik-db-2026‐01‐31T020000Z.sql.gz",  // U+2010 hyphens
            "authentik-db-2026-01-31T020000Z\u{301}.sql.gz",
            "authentik-db-2026-01-31T020000Z.sql.gz\u{301}",
        ]
        for name in bad {
            XCTAssertFalse(ArtifactName.isValid(name), "accepted \(name.debugDescription)")
        }
    }

    func testMakeUsesUTCAndTheRunbookFormat() {
        XCTAssertEqual(ArtifactName.make(at: Date(timeIntervalSince1970: 0)), "authentik-db-1970-01-01T000000Z.sql.gz")
        // 2026-01-31T02:00:00Z
        XCTAssertEqual(ArtifactName.make(at: Date(timeIntervalSince1970: 1_769_824_800)), "authentik-db-2026-01-31T020000Z.sql.gz")
        // 2024-02-29T23:59:59Z: leap day, last second of the day.
        XCTAssertEqual(ArtifactName.make(at: Date(timeIntervalSince1970: 1_709_251_199)), "authentik-db-2024-02-29T235959Z.sql.gz")
        // Whole seconds: the fraction is dropped, not rounded up into the next second.
        XCTAssertEqual(ArtifactName.make(at: Date(timeIntervalSince1970: 1_709_251_199.999)), "authentik-db-2024-02-29T235959Z.sql.gz")
    }

    /// The instant a name stands for (the receiver refuses names dated more than a day ahead, §10.3).
    func testDateOfAName() {
        XCTAssertEqual(ArtifactName.date(of: "authentik-db-2026-01-31T020000Z.sql.gz"), Date(timeIntervalSince1970: 1_769_824_800))
        XCTAssertEqual(ArtifactName.date(of: "authentik-db-1970-01-01T000000Z.sql.gz"), Date(timeIntervalSince1970: 0))
        XCTAssertEqual(ArtifactName.date(of: "authentik-db-2024-02-29T235959Z.sql.gz"), Date(timeIntervalSince1970: 1_709_251_199))
        // Valid shapes that are no instant.
        for name in ["authentik-db-2026-13-01T000000Z.sql.gz", "authentik-db-2026-00-10T000000Z.sql.gz",
                     "authentik-db-2025-02-29T000000Z.sql.gz", "authentik-db-2026-01-31T250000Z.sql.gz",
                     "authentik-db-2026-01-31T006000Z.sql.gz"] {
            XCTAssertTrue(ArtifactName.isValid(name), name)
            XCTAssertNil(ArtifactName.date(of: name), name)
        }
        XCTAssertNil(ArtifactName.date(of: "latest"))
        XCTAssertNil(ArtifactName.date(of: "../authentik-db-2026-01-31T020000Z.sql.gz"))
        // Round trip with make(at:).
        var t = 1_500_000_000.0
        for _ in 0..<200 {
            let d = Date(timeIntervalSince1970: t.rounded(.down))
            XCTAssertEqual(ArtifactName.date(of: ArtifactName.make(at: d)), d)
            t += 123_457.25
        }
    }

    func testMadeNamesAreValidAndAgreeWithTheStartTimestamp() {
        // backup.started carries both ArtifactName.make(at: t) and Timestamp.string(t) of the same instant.
        var t = 1_600_000_000.0
        for _ in 0..<500 {
            let date = Date(timeIntervalSince1970: t)
            let name = ArtifactName.make(at: date)
            XCTAssertTrue(ArtifactName.isValid(name), name)
            let stamp = Timestamp.string(date)  // 2026-01-31T02:00:00Z
            let expected = "authentik-db-" + stamp.replacingOccurrences(of: ":", with: "") + ".sql.gz"
            XCTAssertEqual(name, expected, "t = \(t)")
            t += 86_399.731  // walks through days, seconds and fractions
        }
    }
}

final class ManifestTests: XCTestCase {
    private let manifest = ValidCatalogue.Sample.manifest

    func testRoundTripThroughTheReceiversFileFormat() throws {
        let text = ValidCatalogue.Sample.manifestFile
        let decoded = try JSONDecoder().decode(Manifest.self, from: Data(text.utf8))
        XCTAssertEqual(decoded, manifest)
        XCTAssertEqual(decoded.format, "akbackup-manifest-2")
        XCTAssertEqual(Manifest.signingDomain, "akbackup-manifest-2")
        XCTAssertEqual(decoded.software, "0.2.0")
        // The committed example file decodes to the same value, and its signature still verifies.
        let url = Repo.vectors.appendingPathComponent("manifest").appendingPathComponent(ValidCatalogue.Sample.manifestFileName)
        let file = try MessageCodec.decodeDocument(Manifest.self, from: [UInt8](Data(contentsOf: url)))
        XCTAssertEqual(file, manifest)
        XCTAssertEqual(file.signatureStatus(trusting: [TestKeys.agentPublic]), .trusted)
        XCTAssertNoThrow(try file.validate("manifest"))
    }

    func testRoundTripInsideMessages() throws {
        for message in [Message(UploadCommit(id: 7, manifest: manifest)),
                        Message(BackupResult(id: 7, manifest: manifest, compressionThreads: 1)),
                        Message(ListResult(id: 8, artifacts: [ArtifactInfo(name: manifest.name, size: manifest.size,
                                                                           modifiedAt: manifest.finishedAt, manifest: manifest, signature: .trusted)],
                                           total: 1, freeBytes: 1))] {
            let payload = MessageCodec.encode(message)
            let decoded = try MessageCodec.decode(payload)
            XCTAssertEqual(decoded, message)
            XCTAssertEqual(MessageCodec.encode(decoded), payload)
        }
    }

    func testOptionalFieldsAreOmittedAndAbsentIsNil() throws {
        var m = manifest
        m.source.authentikVersion = nil
        m.source.latestMigration = nil
        m.rowCounts = [:]
        m.schemaDigests = nil
        m.signature = nil
        let data = try JSONEncoder().encode(m)
        let text = String(decoding: data, as: UTF8.self)
        for absent in ["authentikVersion", "latestMigration", "schemaDigests", "signature", "null"] {
            XCTAssertFalse(text.contains(absent), text)
        }
        XCTAssertEqual(try JSONDecoder().decode(Manifest.self, from: data), m)
        // null counts as absent.
        var object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        object["signature"] = NSNull()
        object["schemaDigests"] = NSNull()
        XCTAssertEqual(try JSONDecoder().decode(Manifest.self, from: JSONSerialization.data(withJSONObject: object)), m)
    }

    func testEveryOtherFieldIsRequiredIncludingFormat() throws {
        var full = try JSONSerialization.jsonObject(with: JSONEncoder().encode(manifest)) as! [String: Any]
        full.removeValue(forKey: "schemaDigests")
        full.removeValue(forKey: "signature")
        XCTAssertEqual(Set(full.keys), ["format", "name", "sha256", "size", "uncompressedSize", "startedAt", "finishedAt", "source",
                                        "rowCounts", "compression", "software"])
        for key in full.keys.sorted() {
            var partial = full
            partial.removeValue(forKey: key)
            let data = try JSONSerialization.data(withJSONObject: partial)
            XCTAssertThrowsError(try JSONDecoder().decode(Manifest.self, from: data), "decoded without \(key)")
        }
        for key in ["algorithm", "key", "value"] {
            var signature = try JSONSerialization.jsonObject(with: JSONEncoder().encode(manifest.signature!)) as! [String: Any]
            signature.removeValue(forKey: key)
            var object = full
            object["signature"] = signature
            XCTAssertThrowsError(try JSONDecoder().decode(Manifest.self, from: JSONSerialization.data(withJSONObject: object)),
                                 "a signature without \(key)")
        }
    }

    /// Readers ignore unknown members and do not check `format`, but both are part of what the agent signed:
    /// an unknown member is dropped when decoding (the signature still verifies); a changed format does not.
    func testUnknownFieldsAreIgnoredAndFormatIsNotChecked() throws {
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(manifest)) as! [String: Any]
        object["comment"] = "added by hand"
        let withComment = try JSONDecoder().decode(Manifest.self, from: JSONSerialization.data(withJSONObject: object))
        XCTAssertEqual(withComment, manifest)
        XCTAssertEqual(withComment.signatureStatus(trusting: [TestKeys.agentPublic]), .trusted)
        object["format"] = "akbackup-manifest-9"
        let decoded = try JSONDecoder().decode(Manifest.self, from: JSONSerialization.data(withJSONObject: object))
        XCTAssertEqual(decoded.format, "akbackup-manifest-9")
        XCTAssertEqual(decoded.name, manifest.name)
        XCTAssertEqual(decoded.signatureStatus(trusting: [TestKeys.agentPublic]), .invalid)
    }
}

/// Files version 1 left on the NAS (PROTOCOL.md §9): they still decode, and count as unsigned.
final class Version1DocumentTests: XCTestCase {
    static let manifest1 = #"{"compression":"gzip -6, 4 thread(s), independent members","finishedAt":"2026-01-31T02:00:07Z","format":"akbackup-manifest-1","name":"authentik-db-2026-01-31T020000Z.sql.gz","rowCounts":{"public.\"Quoted Table\"":0,"public.authentik_core_user":17,"public.authentik_events_event":48211,"public.django_migrations":812},"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","size":4182530,"software":"0.1.0","source":{"authentikVersion":"2025.10.1","database":"authentik","host":"infra-core","latestMigration":"authentik_core.0048_delete_oldauthenticatedsession_content_type","pgDumpVersion":"pg_dump (PostgreSQL) 16.6 (Debian 16.6-1.pgdg120+1)","postgresVersion":"16.6 (Debian 16.6-1.pgdg120+1)"},"startedAt":"2026-01-31T02:00:00Z","uncompressedSize":31457280}"#
    static let receipt1 = #"{"agentHost":"infra-core","artifact":"authentik-db-2026-01-31T020000Z.sql.gz","controllerHost":"laptop","downtimeSeconds":7.75,"finishedAt":"2026-02-01T09:30:53Z","format":"akbackup-receipt-1","message":"authentik restored; the previous database is kept as authentik_pre_restore_20260201093000 (akbackup restore --undo)","operation":"restore","operatorName":"alice","outcome":"restored","preRestoreDatabase":"authentik_pre_restore_20260201093000","sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","software":"0.1.0","startedAt":"2026-02-01T09:29:55Z","steps":[{"name":"drop leftover staging databases","ok":true,"seconds":0.125,"startedAt":"2026-02-01T09:30:00Z"}],"validation":{"ok":true,"problems":[],"rowCounts":{"public.\"Quoted Table\"":0,"public.authentik_core_user":17}}}"#

    func testVersion1ManifestDecodesAsUnsigned() throws {
        let m = try MessageCodec.decodeDocument(Manifest.self, from: Array(Self.manifest1.utf8))
        XCTAssertEqual(m.format, "akbackup-manifest-1")
        XCTAssertNil(m.schemaDigests)
        XCTAssertEqual(m.signatureStatus(trusting: [TestKeys.agentPublic]), .unsigned)
        XCTAssertNoThrow(try m.validate("manifest"))
    }

    func testVersion1ReceiptDecodesAsUnsigned() throws {
        let r = try MessageCodec.decodeDocument(Receipt.self, from: Array(Self.receipt1.utf8))
        XCTAssertEqual(r.format, "akbackup-receipt-1")
        XCTAssertEqual(r.outcome, .restored)
        XCTAssertNil(r.undoPoint, "preRestoreDatabase is not read as undoPoint")
        XCTAssertEqual(r.signatureStatus(trusting: [TestKeys.agentPublic]), .unsigned)
        XCTAssertNoThrow(try r.validate("receipt"))
    }
}

final class ReceiptTests: XCTestCase {
    private let receipt = ValidCatalogue.Sample.restoreReceipt

    func testRoundTripThroughTheReceiversFileFormat() throws {
        XCTAssertEqual(receipt.format, "akbackup-receipt-2")
        XCTAssertEqual(Receipt.signingDomain, "akbackup-receipt-2")
        let url = Repo.vectors.appendingPathComponent("receipt").appendingPathComponent(ValidCatalogue.Sample.receiptFileName)
        let file = try MessageCodec.decodeDocument(Receipt.self, from: [UInt8](Data(contentsOf: url)))
        XCTAssertEqual(file, receipt)
        XCTAssertEqual(file.signatureStatus(trusting: [TestKeys.agentPublic]), .trusted)
        XCTAssertNoThrow(try file.validate("receipt"))
    }

    func testOutcomes() throws {
        let all: [RestoreOutcome] = [.restored, .tested, .undone, .rolledBack, .failed]
        XCTAssertEqual(all.map(\.rawValue), ["restored", "tested", "undone", "rolled-back", "failed"])
        XCTAssertEqual(all.filter(\.succeeded), [.restored, .tested, .undone])
        var r = receipt
        for o in all {
            r.outcome = o
            XCTAssertEqual(r.succeeded, o.succeeded)
        }
        // An outcome this version does not know is refused, not guessed.
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(receipt)) as! [String: Any]
        object["outcome"] = "partially-restored"
        XCTAssertThrowsError(try JSONDecoder().decode(Receipt.self, from: JSONSerialization.data(withJSONObject: object)))
    }

    func testRequiredAndOptionalFields() throws {
        var full = try JSONSerialization.jsonObject(with: JSONEncoder().encode(receipt)) as! [String: Any]
        for optional in ["artifact", "sha256", "artifactSigned", "validation", "downtimeSeconds", "undoPoint", "signature"] {
            XCTAssertNotNil(full.removeValue(forKey: optional), optional)
        }
        XCTAssertEqual(Set(full.keys), ["format", "operation", "operatorName", "controllerHost", "agentHost", "startedAt", "finishedAt",
                                        "steps", "outcome", "message", "software"])
        XCTAssertNoThrow(try JSONDecoder().decode(Receipt.self, from: JSONSerialization.data(withJSONObject: full)))
        for key in full.keys.sorted() {
            var partial = full
            partial.removeValue(forKey: key)
            XCTAssertThrowsError(try JSONDecoder().decode(Receipt.self, from: JSONSerialization.data(withJSONObject: partial)),
                                 "decoded without \(key)")
        }
        // The undo receipt leaves out what an undo does not have.
        let undo = String(decoding: try JSONEncoder().encode(ValidCatalogue.Sample.undoReceipt), as: UTF8.self)
        for absent in ["\"artifact\"", "\"sha256\"", "artifactSigned", "validation", "null"] { XCTAssertFalse(undo.contains(absent), absent) }
    }
}
