import Foundation

/// Encodes messages to canonical JSON (sorted keys, no whitespace) and decodes them with the
/// protocol's limits enforced. Canonical output makes golden test vectors byte-exact.
public enum MessageCodec {
    public static func encode(_ message: Message) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding our own value types cannot fail.
        let data = try! encoder.encode(Tagged(message: message))
        return [UInt8](data)
    }

    /// The frame (length prefix + payload) carrying `message`.
    public static func frame(_ message: Message) -> [UInt8] {
        Frame.encode(encode(message))
    }

    /// The frame carrying `message`, after checking that the receiver will accept it: the payload
    /// fits in a frame and respects the JSON limits. Throws `ProtocolError.limitExceeded` otherwise,
    /// so a sender never transmits a message its peer must reject (nor traps in `Frame.encode`).
    public static func checkedFrame(_ message: Message) throws -> [UInt8] {
        let payload = encode(message)
        guard payload.count <= ProtocolLimits.maxFramePayload else {
            throw ProtocolError.limitExceeded("a \(message.type) message of \(payload.count) bytes does not fit in a frame of \(ProtocolLimits.maxFramePayload) bytes")
        }
        try JSONGuard.check(payload)
        return Frame.encode(payload)
    }

    public static func decode(_ payload: [UInt8]) throws -> Message {
        try JSONGuard.check(payload)
        let data = Data(payload)
        let decoder = JSONDecoder()
        let tag: TypeTag
        do {
            tag = try decoder.decode(TypeTag.self, from: data)
        } catch let error as DecodingError {
            throw ProtocolError.invalidJSON(describe(error))
        } catch {
            throw ProtocolError.invalidJSON("\(error)")
        }
        do {
            switch tag.type {
            case "hello": return .hello(try decoder.decode(Hello.self, from: data))
            case "probe": return .probe(try decoder.decode(ProbeRequest.self, from: data))
            case "probe.result": return .probeResult(try decoder.decode(ProbeResult.self, from: data))
            case "error": return .error(try decoder.decode(ErrorMessage.self, from: data))
            case "cancel": return .cancel(try decoder.decode(CancelRequest.self, from: data))
            case "progress": return .progress(try decoder.decode(ProgressReport.self, from: data))
            case "data": return .data(try decoder.decode(DataHeader.self, from: data))
            case "backup": return .backup(try decoder.decode(BackupRequest.self, from: data))
            case "backup.started": return .backupStarted(try decoder.decode(BackupStarted.self, from: data))
            case "backup.result": return .backupResult(try decoder.decode(BackupResult.self, from: data))
            case "upload": return .upload(try decoder.decode(UploadRequest.self, from: data))
            case "upload.ready": return .uploadReady(try decoder.decode(UploadReady.self, from: data))
            case "upload.commit": return .uploadCommit(try decoder.decode(UploadCommit.self, from: data))
            case "upload.abort": return .uploadAbort(try decoder.decode(UploadAbort.self, from: data))
            case "upload.result": return .uploadResult(try decoder.decode(UploadResult.self, from: data))
            case "list": return .list(try decoder.decode(ListRequest.self, from: data))
            case "list.result": return .listResult(try decoder.decode(ListResult.self, from: data))
            case "verify": return .verify(try decoder.decode(VerifyRequest.self, from: data))
            case "verify.result": return .verifyResult(try decoder.decode(VerifyResult.self, from: data))
            case "fetch": return .fetch(try decoder.decode(FetchRequest.self, from: data))
            case "fetch.started": return .fetchStarted(try decoder.decode(FetchStarted.self, from: data))
            case "fetch.result": return .fetchResult(try decoder.decode(FetchResult.self, from: data))
            case "restore": return .restore(try decoder.decode(RestoreRequest.self, from: data))
            case "restore.ready": return .restoreReady(try decoder.decode(RestoreReady.self, from: data))
            case "restore.result": return .restoreResult(try decoder.decode(RestoreResult.self, from: data))
            case "undo": return .undo(try decoder.decode(UndoRequest.self, from: data))
            case "databases": return .databases(try decoder.decode(DatabasesRequest.self, from: data))
            case "databases.result": return .databasesResult(try decoder.decode(DatabasesResult.self, from: data))
            case "drop-database": return .dropDatabase(try decoder.decode(DropDatabaseRequest.self, from: data))
            case "receipt.store": return .receiptStore(try decoder.decode(ReceiptStore.self, from: data))
            case "receipts": return .receipts(try decoder.decode(ReceiptsRequest.self, from: data))
            case "receipts.result": return .receiptsResult(try decoder.decode(ReceiptsResult.self, from: data))
            case "done": return .done(try decoder.decode(Done.self, from: data))
            default:
                throw ProtocolError.unknownMessageType(String(tag.type.prefix(64)))
            }
        } catch let error as DecodingError {
            throw ProtocolError.invalidJSON("\(tag.type): \(describe(error))")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): return "missing field \"\(key.stringValue)\""
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx):
            let path = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            return "wrong type at \"\(path)\""
        case .dataCorrupted(let ctx):
            let path = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? "malformed JSON" : "invalid value at \"\(path)\""
        @unknown default: return "undecodable"
        }
    }

    private struct TypeTag: Decodable {
        var type: String
    }

    private struct Tagged: Encodable {
        let message: Message
        enum Key: String, CodingKey { case type }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(message.type, forKey: .type)
            switch message {
            case .hello(let m): try m.encode(to: encoder)
            case .probe(let m): try m.encode(to: encoder)
            case .probeResult(let m): try m.encode(to: encoder)
            case .error(let m): try m.encode(to: encoder)
            case .cancel(let m): try m.encode(to: encoder)
            case .progress(let m): try m.encode(to: encoder)
            case .data(let m): try m.encode(to: encoder)
            case .backup(let m): try m.encode(to: encoder)
            case .backupStarted(let m): try m.encode(to: encoder)
            case .backupResult(let m): try m.encode(to: encoder)
            case .upload(let m): try m.encode(to: encoder)
            case .uploadReady(let m): try m.encode(to: encoder)
            case .uploadCommit(let m): try m.encode(to: encoder)
            case .uploadAbort(let m): try m.encode(to: encoder)
            case .uploadResult(let m): try m.encode(to: encoder)
            case .list(let m): try m.encode(to: encoder)
            case .listResult(let m): try m.encode(to: encoder)
            case .verify(let m): try m.encode(to: encoder)
            case .verifyResult(let m): try m.encode(to: encoder)
            case .fetch(let m): try m.encode(to: encoder)
            case .fetchStarted(let m): try m.encode(to: encoder)
            case .fetchResult(let m): try m.encode(to: encoder)
            case .restore(let m): try m.encode(to: encoder)
            case .restoreReady(let m): try m.encode(to: encoder)
            case .restoreResult(let m): try m.encode(to: encoder)
            case .undo(let m): try m.encode(to: encoder)
            case .databases(let m): try m.encode(to: encoder)
            case .databasesResult(let m): try m.encode(to: encoder)
            case .dropDatabase(let m): try m.encode(to: encoder)
            case .receiptStore(let m): try m.encode(to: encoder)
            case .receipts(let m): try m.encode(to: encoder)
            case .receiptsResult(let m): try m.encode(to: encoder)
            case .done(let m): try m.encode(to: encoder)
            }
        }
    }
}
