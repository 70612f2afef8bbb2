/// An error the operator reads: one line saying what failed, one hint saying what to do.
public protocol HintedError: Error {
    /// What failed, prefixed with the host when it happened remotely ("infra-core: …").
    var summary: String { get }
    var hint: String { get }
}

extension ProtocolError: HintedError {
    public var summary: String { description }
}
