import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The server side of a session: our stdin is what the controller writes, our stdout what it reads.
/// Used by the agent and the receiver when run as `serve` (an SSH forced command).
public final class StdioChannel: ByteChannel {
    private let input: Int32
    private let output: Int32
    private var writeClosed = false
    public let peerName: String

    public init(input: Int32 = 0, output: Int32 = 1, peerName: String = "controller") {
        self.input = input
        self.output = output
        self.peerName = peerName
        signal(SIGPIPE, SIG_IGN)
    }

    public func write(_ bytes: [UInt8]) throws {
        guard !writeClosed else { throw TransportError(.closed, host: peerName, "write after close", hint: "this is a bug in akbackup") }
        var offset = 0
        try bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = Glibc.write(output, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw TransportError(.io, host: peerName, "writing to stdout failed: \(String(cString: strerror(errno)))",
                                         hint: "the controller or the SSH link went away")
                }
                offset += n
            }
        }
    }

    public func read(maxLength: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: maxLength)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress!, maxLength) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TransportError(.io, host: peerName, "reading stdin failed: \(String(cString: strerror(errno)))",
                                     hint: "the controller or the SSH link went away")
            }
            return Array(buffer[0..<n])
        }
    }

    public func closeWrite() throws {
        if !writeClosed {
            writeClosed = true
            Glibc.close(output)
        }
    }

    @discardableResult public func close() -> ChannelTermination {
        try? closeWrite()
        return ChannelTermination()
    }
}
