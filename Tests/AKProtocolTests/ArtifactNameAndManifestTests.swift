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
        XCTAssertEqual(decoded.format, "akbackup-manifest-1")
        // The committed example file decodes to the same value.
        let url = Repo.vectors.appendingPathComponent("manifest").appendingPathComponent(ValidCatalogue.Sample.manifestFileName)
        XCTAssertEqual(try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: url)), manifest)
    }

    func testRoundTripInsideMessages() throws {
        for message in [Message.uploadCommit(UploadCommit(id: 7, size: manifest.size, sha256: manifest.sha256, manifest: manifest)),
                        .listResult(ListResult(id: 8, artifacts: [ArtifactInfo(name: manifest.name, size: manifest.size,
                                                                               modifiedAt: manifest.finishedAt, manifest: manifest)],
                                               freeBytes: 1))] {
            let payload = MessageCodec.encode(message)
            let decoded = try MessageCodec.decode(payload)
            XCTAssertEqual(decoded, message)
            XCTAssertEqual(MessageCodec.encode(decoded), payload)
        }
    }

    func testOptionalSourceFieldsAreOmittedAndAbsentIsNil() throws {
        var m = manifest
        m.source.authentikVersion = nil
        m.source.latestMigration = nil
        m.rowCounts = [:]
        let data = try JSONEncoder().encode(m)
        let text = String(decoding: data, as: UTF8.self)
        XCTAssertFalse(text.contains("authentikVersion"), text)
        XCTAssertFalse(text.contains("null"), text)
        XCTAssertEqual(try JSONDecoder().decode(Manifest.self, from: data), m)
    }

    func testEveryOtherFieldIsRequiredIncludingFormat() throws {
        let full = try JSONSerialization.jsonObject(with: JSONEncoder().encode(manifest)) as! [String: Any]
        for key in full.keys.sorted() {
            var partial = full
            partial.removeValue(forKey: key)
            let data = try JSONSerialization.data(withJSONObject: partial)
            XCTAssertThrowsError(try JSONDecoder().decode(Manifest.self, from: data), "decoded without \(key)")
        }
    }

    func testUnknownFieldsAreIgnoredAndFormatIsNotChecked() throws {
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(manifest)) as! [String: Any]
        object["comment"] = "added by hand"
        object["format"] = "akbackup-manifest-2"
        let decoded = try JSONDecoder().decode(Manifest.self, from: JSONSerialization.data(withJSONObject: object))
        XCTAssertEqual(decoded.format, "akbackup-manifest-2")
        XCTAssertEqual(decoded.name, manifest.name)
    }
}
