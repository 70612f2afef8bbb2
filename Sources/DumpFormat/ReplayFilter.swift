// TEMPORARY STUB — replaced by the real filter.
public struct ReplayRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    public var reason: String
    public var excerpt: String
    public var description: String { "line \(line): \(reason): \(excerpt)" }
}
public struct ReplayFilter: Sendable {
    public init(maxStatementBytes: Int = 64 << 20) {}
    public mutating func push(_ bytes: [UInt8]) throws -> [UInt8] { bytes }
    public mutating func finish() throws -> [UInt8] { [] }
    public private(set) var statements = 0
    public private(set) var copyRows = 0
}
