import AKProtocol
import ProtocolSession
import Foundation
import XCTest

final class FramingTests: XCTestCase {
    private let messages = ValidCatalogue.messages.map(\.1)
    private var stream: [UInt8] { messages.flatMap { MessageCodec.frame($0) } + ValidCatalogue.dataStream }

    func testHeaderIsFourBytesBigEndian() {
        XCTAssertEqual(Frame.encode([0xAA]), [0, 0, 0, 1, 0xAA])
        XCTAssertEqual(Frame.header(length: 0x0001_0203), [0x00, 0x01, 0x02, 0x03])
        XCTAssertEqual(Frame.encode([]), [0, 0, 0, 0])
    }

    func testBytesArrivingOneAtATime() throws {
        let bytes = stream
        var decoder = FrameDecoder()
        var payloads: [[UInt8]] = []
        for b in bytes {
            decoder.push([b])
            while let p = try decoder.next() { payloads.append(p) }
        }
        try decoder.finish()
        XCTAssertEqual(payloads.count, messages.count + 4)
        for (p, m) in zip(payloads, messages) { XCTAssertEqual(try MessageCodec.decode(p), m) }
        XCTAssertEqual(try Pipeline.decodeStream(bytes.map { [$0] }), try Pipeline.decodeStream([bytes]))
    }

    func testArbitrarySplits() throws {
        let bytes = stream
        let whole = try Pipeline.decodeStream([bytes])
        XCTAssertEqual(whole.count, messages.count + 4)
        var rng = SplitMix64(seed: 7)
        for _ in 0..<300 {
            XCTAssertEqual(try Pipeline.decodeStream(Pipeline.randomSplits(bytes, using: &rng)), whole)
        }
        // Every single split point, including inside the 4-byte header, of the small messages and a data stream.
        let small = messages.map { MessageCodec.frame($0) }.filter { $0.count < 400 }.joined() + ValidCatalogue.dataStream
        let smallWhole = try Pipeline.decodeStream([Array(small)])
        XCTAssertGreaterThan(smallWhole.count, 40)
        for cut in 0...small.count {
            XCTAssertEqual(try Pipeline.decodeStream([Array(small[..<cut]), Array(small[cut...])]), smallWhole, "cut at \(cut)")
        }
    }

    func testNoFrameUntilComplete() throws {
        let frame = MessageCodec.frame(Message(ProbeRequest(id: 9)))
        var decoder = FrameDecoder()
        for b in frame.dropLast() {
            decoder.push([b])
            XCTAssertNil(try decoder.next())
        }
        XCTAssertThrowsError(try decoder.finish()) { error in
            XCTAssertEqual(error as? ProtocolError, .truncatedFrame(expected: frame.count, received: frame.count - 1))
        }
        decoder.push([frame.last!])
        XCTAssertEqual(try decoder.next(), Array(frame[4...]))
        XCTAssertNoThrow(try decoder.finish())
    }

    func testFrameSizeBoundary() throws {
        let max = ProtocolLimits.maxFramePayload
        XCTAssertEqual(max, 1_048_576)
        var decoder = FrameDecoder()
        decoder.push(Frame.encode([UInt8](repeating: 0x61, count: max)))
        XCTAssertEqual(try decoder.next()?.count, max)

        var over = FrameDecoder()
        over.push(Frame.header(length: max + 1))
        XCTAssertThrowsError(try over.next()) { XCTAssertEqual($0 as? ProtocolError, .frameTooLarge(announced: UInt32(max + 1))) }
        // Rejected from the header alone: the decoder does not wait for (or buffer) the payload.
        var later = FrameDecoder()
        later.push(Frame.encode([]))
        XCTAssertEqual(try later.next(), [])
        later.push(Frame.header(length: max + 1) + Array(#"{"type":"hello","host":"infra-core"}"#.utf8))
        XCTAssertThrowsError(try later.next()) { XCTAssertEqual($0 as? ProtocolError, .frameTooLarge(announced: UInt32(max + 1))) }
    }

    func testBannerIsReportedAsNonProtocolOutput() {
        var decoder = FrameDecoder()
        decoder.push(Array("Welcome to infra-core\n".utf8))
        XCTAssertThrowsError(try decoder.next()) { error in
            XCTAssertEqual(error as? ProtocolError, .nonProtocolOutput(preview: "Welcome to infra-core"))
            XCTAssertTrue("\(error)".contains("Welcome to infra-core"))
        }
    }

    func testOversizedFirstFrameWithTextPayloadIsNotABanner() {
        // The header 00 10 00 01 is not text; this is a frame, announced too large, not a login banner.
        var decoder = FrameDecoder()
        decoder.push(Frame.header(length: ProtocolLimits.maxFramePayload + 1) + Array(String(repeating: "{\"type\":\"hello\"}", count: 5).utf8))
        XCTAssertThrowsError(try decoder.next()) {
            XCTAssertEqual($0 as? ProtocolError, .frameTooLarge(announced: UInt32(ProtocolLimits.maxFramePayload + 1)))
        }
        var ff = FrameDecoder()
        ff.push([0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFE, 0x80, 0x81])
        XCTAssertThrowsError(try ff.next()) { XCTAssertEqual($0 as? ProtocolError, .frameTooLarge(announced: 0xFFFF_FFFF)) }
    }

    func testTextAfterTheFirstFrameIsAFramingError() {
        var decoder = FrameDecoder()
        decoder.push(MessageCodec.frame(Message(CancelRequest(id: 1))) + Array("Welcome\n".utf8))
        XCTAssertNoThrow(try decoder.next())
        XCTAssertThrowsError(try decoder.next()) { XCTAssertEqual(($0 as? ProtocolError).map(caseName), "frameTooLarge") }
    }
}

final class LimitTests: XCTestCase {
    private func hello(extra: String) -> [UInt8] {
        Array(#"{"capabilities":[],"host":"h","protocol":2,"role":"agent","software":"0.2.0","type":"hello",\#(extra)}"#.utf8)
    }

    private func assertLimit(_ payload: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try MessageCodec.decode(payload), file: file, line: line) { error in
            XCTAssertEqual((error as? ProtocolError).map(caseName), "limitExceeded", "\(error)", file: file, line: line)
        }
    }

    func testDepthAtAndOverTheLimit() throws {
        XCTAssertEqual(ProtocolLimits.maxJSONDepth, 16)
        // The message object is depth 1, so 15 nested arrays make depth 16.
        XCTAssertNoThrow(try MessageCodec.decode(hello(extra: #""x":"# + String(repeating: "[", count: 15) + String(repeating: "]", count: 15))))
        assertLimit(hello(extra: #""x":"# + String(repeating: "[", count: 16) + String(repeating: "]", count: 16)))
        XCTAssertNoThrow(try MessageCodec.decode(hello(extra: #""x":"# + String(repeating: #"{"a":"#, count: 15) + "1" + String(repeating: "}", count: 15))))
        assertLimit(hello(extra: #""x":"# + String(repeating: #"{"a":"#, count: 16) + "1" + String(repeating: "}", count: 16)))
        // Brackets inside strings do not count.
        XCTAssertNoThrow(try MessageCodec.decode(hello(extra: #""x":""# + String(repeating: "[{", count: 100) + "\"")))
    }

    func testStringAtAndOverTheLimit() throws {
        XCTAssertEqual(ProtocolLimits.maxStringBytes, 65_536)
        let atLimit = String(repeating: "a", count: 65_536)
        let m = try MessageCodec.decode(Array(#"{"capabilities":[],"host":"\#(atLimit)","protocol":2,"role":"agent","software":"0.2.0","type":"hello"}"#.utf8))
        guard let h = m.as(Hello.self) else { return XCTFail() }
        XCTAssertEqual(h.host.utf8.count, 65_536)
        assertLimit(Array(#"{"capabilities":[],"host":"\#(atLimit)a","protocol":2,"role":"agent","software":"0.2.0","type":"hello"}"#.utf8))
        // Keys count too.
        XCTAssertNoThrow(try MessageCodec.decode(hello(extra: "\"\(atLimit)\":1")))
        assertLimit(hello(extra: "\"\(atLimit)b\":1"))
        // Measured on the bytes as they appear in the payload: an escape counts its backslash.
        let escapedAtLimit = String(repeating: #"\n"#, count: 32_768)
        XCTAssertNoThrow(try MessageCodec.decode(hello(extra: #""x":"\#(escapedAtLimit)""#)))
        assertLimit(hello(extra: #""x":"\#(escapedAtLimit)a""#))
        // Multi-byte characters count in UTF-8 bytes: 21,845 × "é…" (3 bytes "€") = 65,535 bytes + 1 = ok; +2 over.
        let euros = String(repeating: "€", count: 21_845)
        XCTAssertNoThrow(try MessageCodec.decode(hello(extra: #""x":"\#(euros)a""#)))
        assertLimit(hello(extra: #""x":"\#(euros)ab""#))
    }

    func testCollectionAtAndOverTheLimit() throws {
        XCTAssertEqual(ProtocolLimits.maxCollectionCount, 10_000)
        let caps = (0..<10_000).map { _ in "\"c\"" }.joined(separator: ",")
        let m = try MessageCodec.decode(Array(#"{"capabilities":[\#(caps)],"host":"h","protocol":2,"role":"agent","software":"0.2.0","type":"hello"}"#.utf8))
        guard let h = m.as(Hello.self) else { return XCTFail() }
        XCTAssertEqual(h.capabilities.count, 10_000)
        assertLimit(Array(#"{"capabilities":[\#(caps),"c"],"host":"h","protocol":2,"role":"agent","software":"0.2.0","type":"hello"}"#.utf8))
        // Object members count the same way.
        let members = (0..<9_994).map { "\"k\($0)\":0" }.joined(separator: ",")
        XCTAssertNoThrow(try MessageCodec.decode(hello(extra: members)))   // 6 + 9,994 = 10,000 members
        assertLimit(hello(extra: members + #","kx":0"#))
        // Commas in strings do not count.
        XCTAssertNoThrow(try MessageCodec.decode(hello(extra: #""x":""# + String(repeating: ",", count: 20_000) + "\"")))
    }

    func testEncoderNeverProducesWhatTheDecoderRejects() {
        // A reply that would break a limit is refused at the sender, not sent.
        let tooManyChecks = ProbeResult(id: 1, checks: (0..<10_001).map { Check(name: "c\($0)", ok: true, detail: "") })
        XCTAssertThrowsError(try MessageCodec.checkedFrame(Message(tooManyChecks))) {
            XCTAssertEqual(($0 as? ProtocolError).map(caseName), "limitExceeded")
        }
        let longMessage = ErrorMessage(id: 1, code: .failed, message: String(repeating: "x", count: 70_000), hint: "")
        XCTAssertThrowsError(try MessageCodec.checkedFrame(Message(longMessage)))
        let huge = ProbeResult(id: 1, checks: (0..<40).map { Check(name: "c\($0)", ok: true, detail: String(repeating: "d", count: 60_000)) })
        XCTAssertThrowsError(try MessageCodec.checkedFrame(Message(huge))) {
            XCTAssertEqual(($0 as? ProtocolError).map(caseName), "limitExceeded")
        }
        XCTAssertEqual(try MessageCodec.checkedFrame(Message(ProbeRequest(id: 1))), MessageCodec.frame(Message(ProbeRequest(id: 1))))
    }
}

final class CodecTests: XCTestCase {
    func testCanonicalEncoding() {
        let bytes = MessageCodec.encode(Message(ErrorMessage(id: nil, code: .ioError, message: "a/b", hint: "h")))
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), #"{"code":"io","hint":"h","message":"a/b","type":"error"}"#)
        XCTAssertEqual(String(decoding: MessageCodec.encode(Message(Hello(role: .agent, host: "x"))), as: UTF8.self),
                       #"{"capabilities":[],"host":"x","protocol":2,"role":"agent","software":"0.2.0","type":"hello"}"#)
    }

    func testUnknownFieldsAreIgnoredAndWhitespaceAccepted() throws {
        let payload = Array(" {\n \"type\" : \"cancel\", \"id\": 5, \"reason\": {\"x\": [1, 2]}, \"future\": null }\t".utf8)
        XCTAssertEqual(try MessageCodec.decode(payload), Message(CancelRequest(id: 5)))
        XCTAssertEqual(MessageCodec.encode(try MessageCodec.decode(payload)), Array(#"{"id":5,"type":"cancel"}"#.utf8))
    }

    func testUnknownErrorCodeDecodesAsOther() throws {
        let m = try MessageCodec.decode(Array(#"{"code":"quota","hint":"h","message":"m","type":"error"}"#.utf8))
        XCTAssertEqual(m, Message(ErrorMessage(id: nil, code: .other, message: "m", hint: "h")))
    }

    func testErrorCodesOnTheWire() {
        let all: [ErrorCode] = [.protocolError, .versionMismatch, .badRequest, .unsupported, .busy, .notFound, .ioError,
                                .noSpace, .failed, .cancelled, .untrusted, .internalError, .other]
        XCTAssertEqual(all.map(\.rawValue), ["protocol", "version_mismatch", "bad_request", "unsupported", "busy", "not_found",
                                             "io", "no_space", "failed", "cancelled", "untrusted", "internal", "other"])
        for code in all {
            let m = Message(ErrorMessage(id: 1, code: code, message: "m", hint: "h"))
            XCTAssertEqual(try MessageCodec.decode(MessageCodec.encode(m)), m)
        }
    }

    func testIDsUseTheFullUInt64Range() throws {
        let m = Message(CancelRequest(id: UInt64.max))
        XCTAssertEqual(try MessageCodec.decode(MessageCodec.encode(m)), m)
        XCTAssertThrowsError(try MessageCodec.decode(Array(#"{"id":18446744073709551616,"type":"cancel"}"#.utf8)))
        XCTAssertThrowsError(try MessageCodec.decode(Array(#"{"id":1.5,"type":"cancel"}"#.utf8)))
    }
}

/// The range checks run after JSON decoding (`WireMessage.validate`, PROTOCOL.md §3.1): one rejected value per
/// checked field, with the decoder's exact words, and the boundaries accepted.
final class RangeCheckTests: XCTestCase {
    typealias S = ValidCatalogue.Sample
    private let sizeWhy = "must be 0…1125899906842624"
    private let countWhy = "must not be negative"
    private let hashWhy = "must be 64 lowercase hex digits"
    private let secondsWhy = "must be a number of seconds 0…1e9"
    private let badHashes = ["9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08", String(S.sha256.dropLast()),
                             S.sha256 + "0", "", String(repeating: "g", count: 64), " " + S.sha256.dropFirst()]

    private func assertRejected<T: WireMessage>(_ value: T, _ field: String, _ why: String, file: StaticString = #filePath, line: UInt = #line) {
        let payload = MessageCodec.encode(Message(value))
        XCTAssertThrowsError(try MessageCodec.decode(payload), file: file, line: line) { error in
            XCTAssertEqual(error as? ProtocolError, .invalidJSON("\(T.type): invalid value at \"\(field)\": \(why)"), file: file, line: line)
        }
    }

    private func assertAccepted<T: WireMessage>(_ value: T, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(try MessageCodec.decode(MessageCodec.encode(Message(value))), Message(value), file: file, line: line)
    }

    /// `body` applied to a copy of `value`.
    private func with<T>(_ value: T, _ body: (inout T) -> Void) -> T {
        var v = value
        body(&v)
        return v
    }

    func testLimitsOfTheChecks() {
        XCTAssertEqual(ProtocolLimits.maxSize, 1 << 50)
        XCTAssertEqual(ProtocolLimits.maxPage, 1000)
        XCTAssertEqual(ProtocolLimits.maxDocumentBytes, 1 << 20)
    }

    func testSizes() {
        let max = ProtocolLimits.maxSize
        assertAccepted(ProgressReport(id: 1, phase: "send", bytes: 0))
        assertAccepted(ProgressReport(id: 1, phase: "send", bytes: max))
        assertRejected(ProgressReport(id: 1, phase: "send", bytes: -1), "bytes", sizeWhy)
        assertRejected(ProgressReport(id: 1, phase: "send", bytes: max + 1), "bytes", sizeWhy)
        assertRejected(ProgressReport(id: 1, phase: "send", bytes: .min), "bytes", sizeWhy)
        assertAccepted(UploadReady(id: 1, freeBytes: max))
        assertRejected(UploadReady(id: 1, freeBytes: -1), "freeBytes", sizeWhy)
        assertRejected(UploadResult(id: 1, name: S.name, size: -1, sha256: S.sha256), "size", sizeWhy)
        assertRejected(FetchStarted(id: 1, name: S.name, size: max + 1, manifest: nil), "size", sizeWhy)
        assertRejected(FetchResult(id: 1, size: -1, sha256: S.sha256), "size", sizeWhy)
        assertRejected(DatabasesResult(id: 1, databases: [DatabaseInfo(name: "authentik_undone_20260202100000", sizeBytes: -1)]),
                       "databases.sizeBytes", sizeWhy)
        let list = ListResult(id: 1, artifacts: [ArtifactInfo(name: S.name, size: 1, modifiedAt: "2026-01-31T02:00:08Z", manifest: nil)],
                              total: 1, freeBytes: 1)
        assertAccepted(list)
        assertRejected(with(list) { $0.freeBytes = -1 }, "freeBytes", sizeWhy)
        assertRejected(with(list) { $0.artifacts[0].size = -1 }, "artifacts.size", sizeWhy)
        let verify = VerifyResult(id: 1, name: S.name, ok: true, reason: nil, sha256: S.sha256, size: 1, uncompressedSize: 1,
                                  hasManifest: false, rowCounts: ["public.t": 0], signature: .unsigned)
        assertAccepted(verify)
        assertRejected(with(verify) { $0.size = -1 }, "size", sizeWhy)
        assertRejected(with(verify) { $0.uncompressedSize = max + 1 }, "uncompressedSize", sizeWhy)
        assertRejected(with(verify) { $0.rowCounts["public.t"] = -1 }, "rowCounts.public.t", countWhy)
        let restore = RestoreRequest(id: 1, mode: .swap, artifact: S.name, size: 1, sha256: S.sha256, manifest: nil, trustUnsigned: true,
                                     force: false, healthTimeout: 120, requestedBy: S.requestedBy)
        assertAccepted(restore)
        assertRejected(with(restore) { $0.size = -1 }, "size", sizeWhy)
    }

    func testHashes() {
        for bad in badHashes {
            assertRejected(UploadResult(id: 1, name: S.name, size: 1, sha256: bad), "sha256", hashWhy)
            assertRejected(FetchResult(id: 1, size: 1, sha256: bad), "sha256", hashWhy)
        }
        assertRejected(VerifyResult(id: 1, name: S.name, ok: false, reason: "x", sha256: "", size: 0, uncompressedSize: 0,
                                    hasManifest: false, rowCounts: [:], signature: .unsigned), "sha256", hashWhy)
        assertRejected(RestoreRequest(id: 1, mode: .test, artifact: S.name, size: 1, sha256: badHashes[0], manifest: nil, trustUnsigned: true,
                                      force: false, healthTimeout: 1, requestedBy: S.requestedBy), "sha256", hashWhy)
    }

    func testCountsAndPaging() {
        assertAccepted(BackupRequest(id: 1, threads: 1))
        assertAccepted(BackupRequest(id: 1, threads: 16))
        assertRejected(BackupRequest(id: 1, threads: 0), "threads", "must be 1…16")
        assertRejected(BackupRequest(id: 1, threads: 17), "threads", "must be 1…16")
        assertRejected(BackupResult(id: 1, manifest: S.manifest, compressionThreads: 17), "compressionThreads", "must be 1…16")
        assertRejected(BackupResult(id: 1, manifest: S.manifest, compressionThreads: 0), "compressionThreads", "must be 1…16")
        for request in [ListRequest(id: 1, offset: 0, limit: 1), ListRequest(id: 1, offset: Int(Int32.max), limit: 1000)] { assertAccepted(request) }
        assertRejected(ListRequest(id: 1, offset: -1), "offset", "must be 0…2147483647")
        assertRejected(ListRequest(id: 1, offset: Int(Int32.max) + 1), "offset", "must be 0…2147483647")
        assertRejected(ListRequest(id: 1, limit: 0), "limit", "must be 1…1000")
        assertRejected(ListRequest(id: 1, limit: 1001), "limit", "must be 1…1000")
        assertAccepted(ReceiptsRequest(id: 1, offset: 0, limit: 1000))
        assertRejected(ReceiptsRequest(id: 1, offset: -5), "offset", "must be 0…2147483647")
        assertRejected(ReceiptsRequest(id: 1, limit: 1001), "limit", "must be 1…1000")
        assertRejected(ListResult(id: 1, artifacts: [], total: -1, freeBytes: nil), "total", "must be 0…2147483647")
        assertRejected(ReceiptsResult(id: 1, receipts: [], total: -1), "total", "must be 0…2147483647")
    }

    func testHealthTimeouts() {
        let restore = RestoreRequest(id: 1, mode: .swap, artifact: S.name, size: S.manifest.size, sha256: S.sha256, manifest: S.manifest,
                                     trustUnsigned: false, force: false, healthTimeout: 1, requestedBy: S.requestedBy)
        assertAccepted(restore)
        assertAccepted(with(restore) { $0.healthTimeout = 3600 })
        assertRejected(with(restore) { $0.healthTimeout = 0 }, "healthTimeout", "must be 1…3600")
        assertRejected(with(restore) { $0.healthTimeout = 3601 }, "healthTimeout", "must be 1…3600")
        assertAccepted(UndoRequest(id: 1, healthTimeout: 3600, requestedBy: S.requestedBy))
        assertRejected(UndoRequest(id: 1, healthTimeout: 0, requestedBy: S.requestedBy), "healthTimeout", "must be 1…3600")
        assertRejected(UndoRequest(id: 1, healthTimeout: -120, requestedBy: S.requestedBy), "healthTimeout", "must be 1…3600")
    }

    /// The manifest's checks, wherever a manifest travels; the field is named inside the manifest.
    func testManifestFieldsInEveryMessageThatCarriesOne() {
        let breakers: [(String, String, (inout Manifest) -> Void)] = [
            ("manifest.size", sizeWhy, { $0.size = -1 }),
            ("manifest.uncompressedSize", sizeWhy, { $0.uncompressedSize = ProtocolLimits.maxSize + 1 }),
            ("manifest.sha256", hashWhy, { $0.sha256 = $0.sha256.uppercased() }),
            ("manifest.rowCounts.public.authentik_core_user", countWhy, { $0.rowCounts = ["public.authentik_core_user": -17] }),
            ("manifest.schemaDigests.tables", hashWhy, { $0.schemaDigests = ["tables": "not a digest"] }),
        ]
        for (field, why, breakIt) in breakers {
            let m = with(S.manifest, breakIt)
            assertRejected(BackupResult(id: 1, manifest: m, compressionThreads: 4), field, why)
            assertRejected(UploadCommit(id: 1, manifest: m), field, why)
            assertRejected(ListResult(id: 1, artifacts: [ArtifactInfo(name: S.name, size: 1, modifiedAt: "x", manifest: m)], total: 1, freeBytes: nil),
                           field, why)
            assertRejected(VerifyResult(id: 1, name: S.name, ok: true, reason: nil, sha256: S.sha256, size: 1, uncompressedSize: 1,
                                        hasManifest: true, rowCounts: [:], manifest: m, signature: .invalid), field, why)
            assertRejected(FetchStarted(id: 1, name: S.name, size: 1, manifest: m), field, why)
            assertRejected(RestoreRequest(id: 1, mode: .swap, artifact: S.name, size: 1, sha256: S.sha256, manifest: m, trustUnsigned: false,
                                          force: false, healthTimeout: 1, requestedBy: S.requestedBy), field, why)
        }
        // A table name over 64 characters is cut in the message.
        let long = "public." + String(repeating: "t", count: 100)
        assertRejected(UploadCommit(id: 1, manifest: with(S.manifest) { $0.rowCounts = [long: -1] }),
                       "manifest.rowCounts.\(long.prefix(64))", countWhy)
    }

    /// The receipt's checks, wherever a receipt travels.
    func testReceiptFieldsInEveryMessageThatCarriesOne() {
        let breakers: [(String, String, (inout Receipt) -> Void)] = [
            ("receipt.downtimeSeconds", secondsWhy, { $0.downtimeSeconds = -0.5 }),
            ("receipt.downtimeSeconds", secondsWhy, { $0.downtimeSeconds = 1e9 + 1 }),
            ("receipt.steps.seconds", secondsWhy, { $0.steps[0].seconds = -1 }),
            ("receipt.steps.seconds", secondsWhy, { $0.steps[0].seconds = 2e9 }),
            ("receipt.validation.rowCounts.public.authentik_core_user", countWhy, { $0.validation?.rowCounts["public.authentik_core_user"] = -1 }),
            ("receipt.sha256", hashWhy, { $0.sha256 = "latest" }),
        ]
        for (field, why, breakIt) in breakers {
            let r = with(S.restoreReceipt, breakIt)
            assertRejected(RestoreResult(id: 1, receipt: r), field, why)
            assertRejected(ReceiptStore(id: 1, name: "x.json", receipt: r), field, why)
            assertRejected(ReceiptsResult(id: 1, receipts: [StoredReceipt(name: "x.json", receipt: r)], total: 1), field, why)
        }
        assertAccepted(RestoreResult(id: 1, receipt: with(S.restoreReceipt) { $0.downtimeSeconds = 1e9; $0.steps[0].seconds = 0 }))
        // A number JSON cannot hold as a finite double never gets that far.
        let payload = String(decoding: MessageCodec.encode(Message(RestoreResult(id: 1, receipt: S.undoReceipt))), as: UTF8.self)
            .replacingOccurrences(of: "\"downtimeSeconds\":7.375", with: "\"downtimeSeconds\":1e400")
        XCTAssertThrowsError(try MessageCodec.decode(Array(payload.utf8))) {
            XCTAssertEqual(($0 as? ProtocolError).map(caseName), "invalidJSON", "\($0)")
        }
    }

    /// The undo report's numbers, in `undo.prune.result` and in `probe.result`'s facts (§13).
    func testUndoReports() {
        let report = S.undoReport
        let result = UndoPruneResult(id: 1, dryRun: false, report: report)
        let probe = ProbeResult(id: 1, checks: [], agent: AgentFacts(database: "authentik", appServices: [], authentikVersion: nil,
                                                                     signingKey: nil, trustedKeys: [], undo: report))
        assertAccepted(result)
        assertAccepted(probe)
        assertAccepted(with(result) { $0.report.policy = UndoPolicy(keepNewest: 100, maxAgeDays: 3650, failedMaxAgeDays: 0, warnPercent: 100) })
        assertAccepted(with(result) { $0.report.databases[0].sizeBytes = ProtocolLimits.maxSize; $0.report.volumeBytes = nil })
        let breakers: [(String, String, (inout UndoReport) -> Void)] = [
            ("databases.sizeBytes", sizeWhy, { $0.databases[1].sizeBytes = -1 }),
            ("databases.sizeBytes", sizeWhy, { $0.databases[0].sizeBytes = ProtocolLimits.maxSize + 1 }),
            ("volumeBytes", sizeWhy, { $0.volumeBytes = -1 }),
            ("volumeFreeBytes", sizeWhy, { $0.volumeFreeBytes = ProtocolLimits.maxSize + 1 }),
            ("policy.keepNewest", "must be 1…100", { $0.policy.keepNewest = 0 }),
            ("policy.keepNewest", "must be 1…100", { $0.policy.keepNewest = 101 }),
            ("policy.maxAgeDays", "must be 0…3650", { $0.policy.maxAgeDays = -1 }),
            ("policy.failedMaxAgeDays", "must be 0…3650", { $0.policy.failedMaxAgeDays = 3651 }),
            ("policy.warnPercent", "must be 0…100", { $0.policy.warnPercent = 101 }),
        ]
        for (field, why, breakIt) in breakers {
            assertRejected(with(result) { breakIt(&$0.report) }, "report." + field, why)
            assertRejected(with(probe) { breakIt(&$0.agent!.undo!) }, "agent.undo." + field, why)
        }
    }

    /// A controller that sends an out-of-range request violates the protocol: the server ends the session (exit 2).
    func testServerRejectsAnOutOfRangeRequest() throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: Hello(role: .agent, host: "infra-core"))
        let framed = FramedChannel(c)
        _ = try framed.receive()
        try framed.send(Hello(role: .controller, host: "laptop"))
        try c.write(MessageCodec.frame(Message(BackupRequest(id: 1, threads: 64))))
        XCTAssertEqual(server.outcome(), .protocolViolation)
        guard let e = try framed.receive()?.message(ErrorMessage.self) else { return XCTFail("no error") }
        XCTAssertEqual(e.code, .protocolError)
        XCTAssertNil(e.id)
        XCTAssertEqual(e.message, #"protocol error: control message is not valid JSON (backup: invalid value at "threads": must be 1…16)"#)
    }
}

/// `MessageCatalog.types`: the one list of message types.
final class CatalogTests: XCTestCase {
    static let expectedTypes = ["hello", "probe", "probe.result", "error", "cancel", "progress", "data", "done",
                                "backup", "backup.started", "backup.result",
                                "upload", "upload.ready", "upload.commit", "upload.abort", "upload.result",
                                "list", "list.result", "verify", "verify.result", "fetch", "fetch.started", "fetch.result",
                                "restore", "restore.ready", "restore.result", "undo",
                                "databases", "databases.result", "drop-database",
                                "receipt.store", "receipts", "receipts.result",
                                "undo.prune", "undo.prune.result"]
    /// Retention's (§14), kept apart from the list above.
    static let retentionTypes = ["prune", "prune.result", "pin"]
    /// Schemas in protocol/schema/ that are not message types.
    static let sharedSchemas: Set<String> = ["manifest", "receipt", "signature"]

    func testEveryTypeExactlyOnce() {
        let names = MessageCatalog.types.map { $0.type }
        XCTAssertEqual(names.count, 35 + Self.retentionTypes.count)
        XCTAssertEqual(Set(names).count, names.count, "a type is listed twice")
        XCTAssertEqual(MessageCatalog.knownTypes, names)
        XCTAssertEqual(Set(names), Set(Self.expectedTypes + Self.retentionTypes))
    }

    func testSchemaFilesAreTheCatalogue() throws {
        let dir = Repo.root.appendingPathComponent("protocol/schema")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".schema.json") }
        let names = Set(files.map { String($0.dropLast(".schema.json".count)) })
        XCTAssertEqual(names.subtracting(Self.sharedSchemas), Set(MessageCatalog.knownTypes))
        XCTAssertTrue(Self.sharedSchemas.isSubset(of: names))
        for type in MessageCatalog.knownTypes {
            let schema = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("\(type).schema.json"))) as? [String: Any]
            let typeProperty = (schema?["properties"] as? [String: Any])?["type"] as? [String: Any]
            XCTAssertEqual(typeProperty?["const"] as? String, type, "\(type).schema.json names another type")
        }
    }

    /// Every type is routed by its name: a payload with only `type` fails on a missing field of that type, not as unknown.
    func testEveryTypeIsRoutedByItsName() {
        for type in MessageCatalog.types {
            XCTAssertThrowsError(try MessageCodec.decode(Array(#"{"type":"\#(type.type)"}"#.utf8))) { error in
                guard case .invalidJSON(let why)? = error as? ProtocolError else { return XCTFail("\(type.type): \(error)") }
                XCTAssertTrue(why.hasPrefix("\(type.type): missing field"), why)
            }
        }
        for (name, message) in ValidCatalogue.messages {
            XCTAssertEqual(message.type, Swift.type(of: message.body).type, name)
        }
    }

    /// Every message but `hello` belongs to a request (`error` may be session-level).
    func testRequestIDs() {
        for (name, message) in ValidCatalogue.messages {
            switch message.body {
            case is Hello: XCTAssertNil(message.requestID, name)
            case let e as ErrorMessage: XCTAssertEqual(message.requestID, e.id, name)
            case let r as any RequestBound: XCTAssertEqual(message.requestID, r.id, name)
            default: XCTFail("\(name): \(message.type) is neither hello, error nor request-bound")
            }
        }
        XCTAssertEqual(MessageCatalog.types.filter { !($0 is any RequestBound.Type) }.map { $0.type }.sorted(), ["error", "hello"])
    }

    func testMessageEqualityComparesTypeAndValue() {
        XCTAssertEqual(Message(ProbeRequest(id: 1)), Message(ProbeRequest(id: 1)))
        XCTAssertNotEqual(Message(ProbeRequest(id: 1)), Message(ProbeRequest(id: 2)))
        XCTAssertNotEqual(Message(ProbeRequest(id: 1)), Message(CancelRequest(id: 1)))
        XCTAssertEqual(Message(CancelRequest(id: 3)).as(CancelRequest.self), CancelRequest(id: 3))
        XCTAssertNil(Message(CancelRequest(id: 3)).as(ProbeRequest.self))
        XCTAssertEqual(Incoming.message(Message(Done(id: 1, detail: "d"))).message(Done.self), Done(id: 1, detail: "d"))
        XCTAssertNil(Incoming.chunk([1]).message(Done.self))
    }
}

/// Manifest and receipt files read from disk (`MessageCodec.decodeDocument`).
final class DocumentLimitTests: XCTestCase {
    func testDocumentSizeAndJSONLimits() throws {
        let file = Array(ValidCatalogue.Sample.manifestFile.utf8)
        XCTAssertEqual(try MessageCodec.decodeDocument(Manifest.self, from: file), ValidCatalogue.Sample.manifest)
        // Padding with whitespace to just over 1 MiB.
        let big = file + [UInt8](repeating: 0x20, count: ProtocolLimits.maxDocumentBytes - file.count + 1)
        XCTAssertThrowsError(try MessageCodec.decodeDocument(Manifest.self, from: big)) { XCTAssertEqual(($0 as? ProtocolError).map(caseName), "limitExceeded") }
        XCTAssertNoThrow(try MessageCodec.decodeDocument(Manifest.self, from: Array(big.dropLast())))
        let deep = Array((#"{"x":"# + String(repeating: "[", count: 16) + String(repeating: "]", count: 16) + "}").utf8)
        XCTAssertThrowsError(try MessageCodec.decodeDocument(Manifest.self, from: deep)) { XCTAssertEqual(($0 as? ProtocolError).map(caseName), "limitExceeded") }
        XCTAssertThrowsError(try MessageCodec.decodeDocument(Manifest.self, from: Array("[]".utf8))) { XCTAssertEqual(($0 as? ProtocolError).map(caseName), "invalidJSON") }
        XCTAssertThrowsError(try MessageCodec.decodeDocument(Receipt.self, from: file)) { error in
            XCTAssertEqual((error as? ProtocolError).map(caseName), "invalidJSON", "a manifest is not a receipt")
        }
    }
}
