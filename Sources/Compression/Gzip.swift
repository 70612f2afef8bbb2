import CDeflate
import CZlib
import Foundation

public struct GzipError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public var description: String { message }
}

public enum Gzip {
    /// The runbook's `gzip` default.
    public static let defaultLevel: Int32 = 6

    /// Compresses `input` into one complete gzip member. Members concatenate into a valid gzip file,
    /// which is what lets blocks be compressed in parallel. libdeflate (whole-buffer) does the work:
    /// at level 6 it is about twice as fast as zlib's deflate and its output is no larger.
    public static func member(_ input: [UInt8], level: Int32 = defaultLevel) -> [UInt8] {
        guard let compressor = libdeflate_alloc_compressor(level) else { return zlibMember(input, level: level) }
        defer { libdeflate_free_compressor(compressor) }
        let bound = libdeflate_gzip_compress_bound(compressor, input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let produced = input.withUnsafeBytes { inRaw in
            output.withUnsafeMutableBytes { outRaw in
                libdeflate_gzip_compress(compressor, inRaw.baseAddress, inRaw.count, outRaw.baseAddress, outRaw.count)
            }
        }
        precondition(produced > 0, "libdeflate_gzip_compress into a bound-sized buffer must succeed")
        output.removeLast(output.count - produced)
        return output
    }

    /// The same with zlib (when libdeflate cannot allocate its compressor).
    static func zlibMember(_ input: [UInt8], level: Int32 = defaultLevel) -> [UInt8] {
        var stream = z_stream()
        precondition(ak_deflate_init_gzip(&stream, level) == Z_OK, "deflateInit2 failed")
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(input.count))) + 32
        var output = [UInt8](repeating: 0, count: bound)
        var input = input
        let produced: Int = input.withUnsafeMutableBytes { inRaw in
            output.withUnsafeMutableBytes { outRaw in
                stream.next_in = inRaw.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.avail_in = uInt(inRaw.count)
                stream.next_out = outRaw.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(outRaw.count)
                let rc = deflate(&stream, Z_FINISH)
                precondition(rc == Z_STREAM_END, "deflate into a bound-sized buffer must finish")
                return outRaw.count - Int(stream.avail_out)
            }
        }
        output.removeLast(output.count - produced)
        return output
    }
}

/// Streaming decompression of a gzip file made of one or more members.
/// `finish()` fails if the input ended inside a member (a truncated file).
public final class GzipInflater {
    private var stream = z_stream()
    private var inMember = false
    private var sawMember = false
    private var buffer = [UInt8](repeating: 0, count: 256 * 1024)

    public init() {
        precondition(ak_inflate_init_gzip(&stream) == Z_OK, "inflateInit2 failed")
    }

    deinit { inflateEnd(&stream) }

    /// Feeds compressed bytes; `output` receives decompressed pieces in order.
    public func push(_ input: [UInt8], output: ([UInt8]) throws -> Void) throws {
        guard !input.isEmpty else { return }
        var input = input
        try input.withUnsafeMutableBytes { inRaw in
            stream.next_in = inRaw.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_in = uInt(inRaw.count)
            while stream.avail_in > 0 {
                inMember = true
                sawMember = true
                let (rc, produced) = buffer.withUnsafeMutableBytes { outRaw -> (Int32, Int) in
                    stream.next_out = outRaw.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(outRaw.count)
                    let rc = inflate(&stream, Z_NO_FLUSH)
                    return (rc, outRaw.count - Int(stream.avail_out))
                }
                if produced > 0 { try output(Array(buffer[0..<produced])) }
                switch rc {
                case Z_OK, Z_BUF_ERROR:
                    continue
                case Z_STREAM_END:
                    inMember = false
                    // Another member may follow: start over on the remaining input.
                    let next = stream.next_in, avail = stream.avail_in
                    inflateReset(&stream)
                    stream.next_in = next
                    stream.avail_in = avail
                default:
                    let why = stream.msg.map { String(cString: $0) } ?? "error \(rc)"
                    throw GzipError(message: "gzip data is corrupt: \(why)")
                }
            }
        }
    }

    public func finish() throws {
        if inMember { throw GzipError(message: "gzip data is truncated: the last member has no end") }
        if !sawMember { throw GzipError(message: "gzip data is empty") }
    }
}
