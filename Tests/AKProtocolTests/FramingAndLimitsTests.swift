import AKProtocol
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
        // Every single split point, including inside the 4-byte header.
        for cut in 0...bytes.count {
            XCTAssertEqual(try Pipeline.decodeStream([Array(bytes[..<cut]), Array(bytes[cut...])]), whole, "cut at \(cut)")
        }
    }

    func testNoFrameUntilComplete() throws {
        let frame = MessageCodec.frame(.probe(ProbeRequest(id: 9)))
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
        decoder.push(MessageCodec.frame(.cancel(CancelRequest(id: 1))) + Array("Welcome\n".utf8))
        XCTAssertNoThrow(try decoder.next())
        XCTAssertThrowsError(try decoder.next()) { XCTAssertEqual(($0 as? ProtocolError).map(caseName), "frameTooLarge") }
    }
}

final class LimitTests: XCTestCase {
    private func hello(extra: String) -> [UInt8] {
        Array(#"{"capabilities":[],"host":"h","protocol":1,"role":"agent","software":"0.1.0","type":"hello",\#(extra)}"#.utf8)
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
        let m = try MessageCodec.decode(Array(#"{"capabilities":[],"host":"\#(atLimit)","protocol":1,"role":"agent","software":"0.1.0","type":"hello"}"#.utf8))
        guard case .hello(let h) = m else { return XCTFail() }
        XCTAssertEqual(h.host.utf8.count, 65_536)
        assertLimit(Array(#"{"capabilities":[],"host":"\#(atLimit)a","protocol":1,"role":"agent","software":"0.1.0","type":"hello"}"#.utf8))
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
        let m = try MessageCodec.decode(Array(#"{"capabilities":[\#(caps)],"host":"h","protocol":1,"role":"agent","software":"0.1.0","type":"hello"}"#.utf8))
        guard case .hello(let h) = m else { return XCTFail() }
        XCTAssertEqual(h.capabilities.count, 10_000)
        assertLimit(Array(#"{"capabilities":[\#(caps),"c"],"host":"h","protocol":1,"role":"agent","software":"0.1.0","type":"hello"}"#.utf8))
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
        XCTAssertThrowsError(try MessageCodec.checkedFrame(.probeResult(tooManyChecks))) {
            XCTAssertEqual(($0 as? ProtocolError).map(caseName), "limitExceeded")
        }
        let longMessage = ErrorMessage(id: 1, code: .failed, message: String(repeating: "x", count: 70_000), hint: "")
        XCTAssertThrowsError(try MessageCodec.checkedFrame(.error(longMessage)))
        let huge = ProbeResult(id: 1, checks: (0..<40).map { Check(name: "c\($0)", ok: true, detail: String(repeating: "d", count: 60_000)) })
        XCTAssertThrowsError(try MessageCodec.checkedFrame(.probeResult(huge))) {
            XCTAssertEqual(($0 as? ProtocolError).map(caseName), "limitExceeded")
        }
        XCTAssertEqual(try MessageCodec.checkedFrame(.probe(ProbeRequest(id: 1))), MessageCodec.frame(.probe(ProbeRequest(id: 1))))
    }
}

final class CodecTests: XCTestCase {
    func testCanonicalEncoding() {
        let bytes = MessageCodec.encode(.error(ErrorMessage(id: nil, code: .ioError, message: "a/b", hint: "h")))
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), #"{"code":"io","hint":"h","message":"a/b","type":"error"}"#)
        XCTAssertEqual(String(decoding: MessageCodec.encode(.hello(Hello(role: .agent, host: "x"))), as: UTF8.self),
                       #"{"capabilities":[],"host":"x","protocol":1,"role":"agent","software":"0.1.0","type":"hello"}"#)
    }

    func testUnknownFieldsAreIgnoredAndWhitespaceAccepted() throws {
        let payload = Array(" {\n \"type\" : \"cancel\", \"id\": 5, \"reason\": {\"x\": [1, 2]}, \"future\": null }\t".utf8)
        XCTAssertEqual(try MessageCodec.decode(payload), .cancel(CancelRequest(id: 5)))
        XCTAssertEqual(MessageCodec.encode(try MessageCodec.decode(payload)), Array(#"{"id":5,"type":"cancel"}"#.utf8))
    }

    func testUnknownErrorCodeDecodesAsOther() throws {
        let m = try MessageCodec.decode(Array(#"{"code":"quota","hint":"h","message":"m","type":"error"}"#.utf8))
        XCTAssertEqual(m, .error(ErrorMessage(id: nil, code: .other, message: "m", hint: "h")))
    }

    func testErrorCodesOnTheWire() {
        let all: [ErrorCode] = [.protocolError, .versionMismatch, .badRequest, .unsupported, .busy, .notFound, .ioError,
                                .noSpace, .failed, .cancelled, .internalError, .other]
        XCTAssertEqual(all.map(\.rawValue), ["protocol", "version_mismatch", "bad_request", "unsupported", "busy", "not_found",
                                             "io", "no_space", "failed", "cancelled", "internal", "other"])
    }

    func testIDsUseTheFullUInt64Range() throws {
        let m = Message.cancel(CancelRequest(id: UInt64.max))
        XCTAssertEqual(try MessageCodec.decode(MessageCodec.encode(m)), m)
        XCTAssertThrowsError(try MessageCodec.decode(Array(#"{"id":18446744073709551616,"type":"cancel"}"#.utf8)))
        XCTAssertThrowsError(try MessageCodec.decode(Array(#"{"id":1.5,"type":"cancel"}"#.utf8)))
    }
}
