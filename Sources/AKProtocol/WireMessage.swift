import Foundation

/// One control message type: its wire name, its request id (if it belongs to one) and the range
/// checks its numbers must pass when decoded.
///
/// Adding a message is one type conforming to this, one line in `MessageCatalog.types`, and its
/// schema and vectors in protocol/.
public protocol WireMessage: Codable, Equatable, Sendable {
    /// The `type` member on the wire ("backup.started").
    static var type: String { get }
    /// The request this message belongs to, if any.
    var requestID: UInt64? { get }
    /// Range checks beyond JSON types (sizes, counts, timeouts): a peer's numbers never reach
    /// arithmetic or a syscall unchecked. Throws `ProtocolError.invalidJSON`.
    func validate() throws
}

/// A message that carries the id of its request.
public protocol RequestBound: WireMessage {
    var id: UInt64 { get }
}

extension WireMessage {
    public var requestID: UInt64? { nil }
    public func validate() throws {}
}

extension RequestBound {
    public var requestID: UInt64? { id }
}

/// Any control message.
public struct Message: Equatable, Sendable, CustomStringConvertible {
    public let body: any WireMessage

    public init(_ body: some WireMessage) {
        self.body = body
    }

    public var type: String { Swift.type(of: body).type }
    public var requestID: UInt64? { body.requestID }

    /// The message as `T`, if it is one.
    public func `as`<T: WireMessage>(_: T.Type) -> T? { body as? T }

    public static func == (a: Message, b: Message) -> Bool { a.body.isEqual(to: b.body) }
    public var description: String { "\(type)(\(String(decoding: MessageCodec.encode(self), as: UTF8.self).prefix(200)))" }
}

extension WireMessage {
    fileprivate func isEqual(to other: any WireMessage) -> Bool {
        (other as? Self) == self
    }
}

/// Every message type this version knows: the one list.
public enum MessageCatalog {
    public static let types: [any WireMessage.Type] = [
        Hello.self, ProbeRequest.self, ProbeResult.self, ErrorMessage.self, CancelRequest.self, ProgressReport.self,
        DataHeader.self, Done.self,
        BackupRequest.self, BackupStarted.self, BackupResult.self,
        UploadRequest.self, UploadReady.self, UploadCommit.self, UploadAbort.self, UploadResult.self,
        ListRequest.self, ListResult.self, VerifyRequest.self, VerifyResult.self,
        FetchRequest.self, FetchStarted.self, FetchResult.self,
        RestoreRequest.self, RestoreReady.self, RestoreResult.self, UndoRequest.self,
        DatabasesRequest.self, DatabasesResult.self, DropDatabaseRequest.self,
        ReceiptStore.self, ReceiptsRequest.self, ReceiptsResult.self,
        // Undo points on infra-core (§13).
        UndoPruneRequest.self, UndoPruneResult.self,
        // Retention (RetentionMessages.swift, PROTOCOL.md §14).
        PruneRequest.self, PruneResult.self, PinRequest.self,
    ]

    static let byType: [String: any WireMessage.Type] = Dictionary(uniqueKeysWithValues: types.map { ($0.type, $0) })

    public static var knownTypes: [String] { types.map { $0.type } }
}

/// Range checks for `validate()`, each failing with the field's name.
public struct FieldChecks {
    let type: String

    public init(_ type: String) { self.type = type }

    public func fail(_ field: String, _ why: String) -> ProtocolError {
        .invalidJSON("\(type): invalid value at \"\(field)\": \(why)")
    }

    /// A byte count: 0 … 1 PiB.
    public func size(_ value: Int64, _ field: String) throws {
        guard (0...ProtocolLimits.maxSize).contains(value) else { throw fail(field, "must be 0…\(ProtocolLimits.maxSize)") }
    }

    public func count(_ value: Int64, _ field: String) throws {
        guard value >= 0 else { throw fail(field, "must not be negative") }
    }

    public func range<T: Comparable>(_ value: T, _ range: ClosedRange<T>, _ field: String) throws {
        guard range.contains(value) else { throw fail(field, "must be \(range.lowerBound)…\(range.upperBound)") }
    }

    /// A page request's `offset` (0 … Int32.max) and `limit` (1 … ProtocolLimits.maxPage), both optional.
    public func page(offset: Int?, limit: Int?) throws {
        if let o = offset { try range(o, 0...Int(Int32.max), "offset") }
        if let l = limit { try range(l, 1...ProtocolLimits.maxPage, "limit") }
    }
    public func seconds(_ value: Double, _ field: String) throws {
        guard value.isFinite, (0...1e9).contains(value) else { throw fail(field, "must be a number of seconds 0…1e9") }
    }

    public func sha256(_ value: String, _ field: String) throws {
        guard value.utf8.count == 64, value.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw fail(field, "must be 64 lowercase hex digits")
        }
    }
}
