import AKProtocol
import Foundation
import ProtocolSession
import Transport
import XCTest

/// The valid golden vectors, made by the real encoder. `AKPROTO_WRITE_VECTORS=1 swift test --filter VectorTests`
/// rewrites protocol/vectors/valid/ from this catalogue; otherwise the files must match it exactly.
enum ValidCatalogue {
    static let messages: [(String, Message)] = [
        ("hello_agent", .hello(Hello(role: .agent, host: "infra-core", capabilities: ["probe"]))),
        ("hello_receiver", .hello(Hello(role: .receiver, host: "nas-01.example.org", capabilities: ["probe"]))),
        ("hello_controller", .hello(Hello(role: .controller, host: "laptop", capabilities: []))),
        ("probe", .probe(ProbeRequest(id: 1))),
        ("probe_result", .probeResult(ProbeResult(id: 1, checks: [
            Check(name: "disk", ok: true, detail: "42 GiB free on /var/lib/akbackup"),
            Check(name: "zfs", ok: false, detail: "pool tank is DEGRADED", hint: "run `zpool status tank` on the host"),
        ]))),
        ("probe_result_empty", .probeResult(ProbeResult(id: 18_446_744_073_709_551_615, checks: []))),
        ("probe_result_escapes", .probeResult(ProbeResult(id: 2, checks: [
            Check(name: "quote\"backslash\\tab\tnewline\nnul\u{0}", ok: true, detail: "é ü 日本 🙂 / <>&'"),
        ]))),
        ("error", .error(ErrorMessage(id: 2, code: .notFound, message: "snapshot tank/home@2025-01-06 not found",
                                      hint: "list snapshots with `zfs list -t snapshot`"))),
        ("error_session", .error(ErrorMessage(id: nil, code: .protocolError,
                                              message: "protocol error: unknown message type \"backup.start\"",
                                              hint: "check that the remote program is akbackup's and the same version; its stderr may say more"))),
        ("error_version_mismatch", .error(ErrorMessage(id: nil, code: .versionMismatch,
                                                       message: "protocol version mismatch: agent 0.1.0 speaks 1, controller 0.2.0 speaks 2",
                                                       hint: "install the same akbackup version on the laptop and the remote host (deploy/agent/install, deploy/receiver/install)"))),
        ("error_cancelled", .error(ErrorMessage(id: 3, code: .cancelled, message: "cancelled by the controller", hint: "nothing to do"))),
        ("cancel", .cancel(CancelRequest(id: 3))),
        ("progress", .progress(ProgressReport(id: 3, phase: "send", bytes: 1_048_576))),
        ("data", .data(DataHeader(id: 4, stream: "report"))),
    ]

    /// A data stream: header, two raw frames, the empty end frame.
    static let dataStream: [UInt8] = {
        var out = MessageCodec.frame(.data(DataHeader(id: 4, stream: "report")))
        out += Frame.encode([0x00, 0xFF, 0x7B, 0x22])    // raw bytes, not JSON
        out += Frame.encode(Array("plain text chunk\n".utf8))
        out += Frame.encode([])
        return out
    }()
}

final class VectorTests: XCTestCase {
    private var writing: Bool { ProcessInfo.processInfo.environment["AKPROTO_WRITE_VECTORS"] == "1" }

    func testValidVectorsAreTheEncodersOutput() throws {
        let dir = Repo.vectors.appendingPathComponent("valid")
        var expected: [String: String] = Dictionary(uniqueKeysWithValues: ValidCatalogue.messages.map {
            ($0.0 + ".hex", Hex.encode(MessageCodec.frame($0.1)) + "\n")
        })
        expected["bulk_data_stream.hex"] = Hex.encode(ValidCatalogue.dataStream) + "\n"
        if writing {
            for (name, text) in expected {
                try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
            }
        }
        let onDisk = try Repo.hexFiles("valid").map(\.lastPathComponent)
        XCTAssertEqual(Set(onDisk), Set(expected.keys), "protocol/vectors/valid/ and the catalogue differ; regenerate with AKPROTO_WRITE_VECTORS=1")
        for (name, text) in expected {
            let disk = try? String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            XCTAssertEqual(disk, text, "\(name) is not what the encoder produces")
        }
    }

    /// Every valid single-frame vector decodes and re-encodes byte for byte.
    func testValidVectorsRoundTripByteForByte() throws {
        let catalogue = Dictionary(uniqueKeysWithValues: ValidCatalogue.messages.map { ($0.0, $0.1) })
        let files = try Repo.hexFiles("valid").filter { !$0.lastPathComponent.hasPrefix("bulk_") }
        XCTAssertGreaterThanOrEqual(files.count, Message.knownTypes.count)
        var typesSeen = Set<String>()
        for file in files {
            let bytes = try Hex.read(file)
            var decoder = FrameDecoder()
            decoder.push(bytes)
            let payload = try XCTUnwrap(try decoder.next(), file.lastPathComponent)
            XCTAssertEqual(decoder.pendingCount, 0, "\(file.lastPathComponent): one frame per file")
            let message = try MessageCodec.decode(payload)
            typesSeen.insert(message.type)
            XCTAssertEqual(MessageCodec.encode(message), payload, "\(file.lastPathComponent): re-encoding differs")
            XCTAssertEqual(MessageCodec.frame(message), bytes, "\(file.lastPathComponent): re-framing differs")
            let name = file.deletingPathExtension().lastPathComponent
            XCTAssertEqual(catalogue[name], message, "\(name) decodes to something else than the catalogue says")
        }
        XCTAssertEqual(typesSeen, Set(Message.knownTypes), "every message type has a valid vector")
    }

    func testBulkStreamVector() throws {
        let bytes = try Hex.read(Repo.vectors.appendingPathComponent("valid/bulk_data_stream.hex"))
        let items = try Pipeline.decodeStream([bytes])
        XCTAssertEqual(items, [
            .message(.data(DataHeader(id: 4, stream: "report"))),
            .chunk([0x00, 0xFF, 0x7B, 0x22]),
            .chunk(Array("plain text chunk\n".utf8)),
            .endOfData(id: 4),
        ])
        // The same through a FramedChannel, one byte per read.
        let framed = FramedChannel(MemoryChannel.scripted(bytes, readLimit: 1))
        var got: [Incoming] = []
        while let item = try framed.receive() { got.append(item) }
        XCTAssertEqual(got, items)
    }

    private static let sessionLevel: Set<String> = ["outOfSequence", "versionMismatch", "wrongRole"]

    /// Every invalid vector is rejected with the error its `.expect` names: by the frame decoder and codec
    /// for framing/encoding/JSON/limit errors, and by a controller's ClientSession in every case.
    func testInvalidVectorsAreRejectedWithTheExpectedError() throws {
        let files = try Repo.hexFiles("invalid")
        XCTAssertGreaterThanOrEqual(files.count, 20)
        for file in files {
            let name = file.deletingPathExtension().lastPathComponent
            let expect = try String(contentsOf: file.deletingPathExtension().appendingPathExtension("expect"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let bytes = try Hex.read(file)

            // 1. Frame decoder + codec, whole and byte by byte.
            for chunks in [[bytes], bytes.map { [$0] }] {
                do {
                    _ = try Pipeline.decodeStream(chunks)
                    if !Self.sessionLevel.contains(expect) { XCTFail("\(name): accepted by the codec, expected \(expect)") }
                } catch let e as ProtocolError {
                    XCTAssertEqual(caseName(e), expect, "\(name): \(e)")
                }
            }

            // 2. A controller session reading this from an agent.
            let client = ClientSession(channel: MemoryChannel.scripted(bytes), host: "infra-core")
            do {
                try client.handshake(expecting: .agent, localHost: "laptop")
                _ = try client.probe()
                XCTFail("\(name): ClientSession accepted it")
            } catch let e as SessionError {
                XCTAssertEqual(caseName(e.error), expect, "\(name): \(e)")
                XCTAssertTrue(e.summary.hasPrefix("infra-core: "), e.summary)
            } catch {
                XCTFail("\(name): expected SessionError(\(expect)), got \(type(of: error)): \(error)")
            }
        }
    }
}
