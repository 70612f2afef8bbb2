import AKProtocol

extension TransportError: HintedError {
    public var summary: String { "\(host): \(message)" }
}
