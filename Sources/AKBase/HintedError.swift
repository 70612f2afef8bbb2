/// An error the operator reads: one line saying what failed, one hint saying what to do.
///
/// Every error that can reach the operator conforms, so nothing arrives as "a bug in akbackup"
/// that is really a config, a permission or a disk problem.
public protocol HintedError: Error {
    /// What failed, prefixed with the host when it happened remotely ("infra-core: …").
    var summary: String { get }
    var hint: String { get }
}

/// A plain hinted error for the cases that need no type of their own.
public struct Failure: HintedError, CustomStringConvertible, Equatable, Sendable {
    public var summary: String
    public var hint: String
    public init(_ summary: String, hint: String) {
        self.summary = summary
        self.hint = hint
    }
    public var description: String { summary }
}
