import Foundation

/// Encodes messages to canonical JSON (sorted keys, no whitespace) and decodes them with the
/// protocol's limits and range checks enforced. Canonical output makes golden test vectors
/// byte-exact and gives signatures one byte sequence to sign (§2.1, §12).
public enum MessageCodec {
    public static func encode(_ message: Message) -> [UInt8] {
        // Encoding our own value types cannot fail.
        [UInt8](try! canonicalEncoder().encode(Tagged(message: message)))
    }

    /// The encoder behind every canonical byte sequence: messages, signed documents.
    public static func canonicalEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The frame (length prefix + payload) carrying `message`.
    public static func frame(_ message: Message) -> [UInt8] {
        Frame.encode(encode(message))
    }

    /// The frame carrying `message`, after checking that the receiver will accept it: its numbers pass
    /// the range checks, the payload fits in a frame and respects the JSON limits. Throws `ProtocolError.limitExceeded` otherwise,
    /// so a sender never transmits a message its peer must reject (nor traps in `Frame.encode`).
    public static func checkedFrame(_ message: Message) throws -> [UInt8] {
        // The peer's range checks apply to what we send, too.
        try message.body.validate()
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
        guard let type = MessageCatalog.byType[tag.type] else {
            throw ProtocolError.unknownMessageType(String(tag.type.prefix(64)))
        }
        do {
            return try decode(type, data, decoder)
        } catch let error as DecodingError {
            throw ProtocolError.invalidJSON("\(tag.type): \(describe(error))")
        }
    }

    private static func decode<T: WireMessage>(_: T.Type, _ data: Data, _ decoder: JSONDecoder) throws -> Message {
        let value = try decoder.decode(T.self, from: data)
        try value.validate()
        return Message(value)
    }

    /// Decodes a stored document (a manifest or receipt file) and applies its range checks.
    public static func decodeDocument<T: Decodable>(_: T.Type, from bytes: [UInt8]) throws -> T {
        guard bytes.count <= ProtocolLimits.maxDocumentBytes else {
            throw ProtocolError.limitExceeded("a document of \(bytes.count) bytes is over the limit of \(ProtocolLimits.maxDocumentBytes)")
        }
        try JSONGuard.check(bytes)
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw ProtocolError.invalidJSON(describe(error))
        }
    }

    static func describe(_ error: DecodingError) -> String {
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
            try message.body.encode(to: encoder)
        }
    }
}
