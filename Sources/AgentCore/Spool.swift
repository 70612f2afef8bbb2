import AKBase
import AKProtocol
import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An artifact's bytes on the agent's own disk, in a file that has no name: created exclusively
/// (never through a link) in the agent's state directory and unlinked at once, so it is gone on every
/// path out — even SIGKILL — and nobody else can open it. Size and SHA-256 are taken as it is written.
final class Spool {
    private let fd: Int32
    let path: String
    private(set) var size: Int64 = 0
    private var hasher = SHA256()

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// A new spool for about `expectedSize` bytes; refuses (`no_space`) when the state directory's
    /// filesystem cannot hold them with a margin.
    static func create(stateDir: String, expectedSize: Int64) throws -> Spool {
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        let margin: Int64 = 64 << 20
        if let free = FileIO.freeBytes(stateDir), free < expectedSize + margin {
            throw ErrorMessage(id: nil, code: .noSpace,
                               message: "\(stateDir) has \(ByteFormat.human(free)) free; checking the artifact first needs \(ByteFormat.human(expectedSize + margin))",
                               hint: "free space on the filesystem holding \(stateDir) (or set state_dir in \(AgentConfig.defaultPath)); nothing was changed")
        }
        let path = (stateDir as NSString).appendingPathComponent("spool-\(UInt64.random(in: 0...UInt64.max)).partial")
        let fd: Int32
        do {
            fd = try FileIO.createExclusive(path, mode: 0o600)
        } catch let e as FileIOError {
            throw ErrorMessage(id: nil, code: .failed, message: e.summary, hint: e.hint)
        }
        // Readable and writable through the descriptor we hold; gone from the directory from now on.
        let rw = Glibc.open("/proc/self/fd/\(fd)", O_RDWR | O_CLOEXEC)
        unlink(path)
        close(fd)
        guard rw >= 0 else {
            throw ErrorMessage(id: nil, code: .failed, message: "cannot reopen the spool file: \(String(cString: strerror(errno)))", hint: "check \(stateDir)")
        }
        return Spool(fd: rw, path: path)
    }

    /// A spool over an existing file the agent made itself (an undo copy): read only.
    static func open(existing path: String) throws -> Spool {
        let fd = try FileIO.openForReading(path)
        let spool = Spool(fd: fd, path: path)
        var st = stat()
        fstat(fd, &st)
        spool.size = Int64(st.st_size)
        return spool
    }

    func append(_ bytes: [UInt8]) throws {
        if let code = FileIO.writeAll(fd, bytes) {
            let e = FileIOError("write the spool file in", path: (path as NSString).deletingLastPathComponent, code: code)
            throw ErrorMessage(id: nil, code: e.isNoSpace ? .noSpace : .ioError, message: e.summary, hint: e.hint + "; nothing was changed")
        }
        hasher.update(data: bytes)
        size += Int64(bytes.count)
    }

    /// The SHA-256 of what was appended.
    func digest() -> String { Hex.encode(hasher.finalize()) }

    /// Reads the whole file from its start.
    func readAll(chunkSize: Int = 1 << 20, _ body: ([UInt8]) throws -> Void) throws {
        var offset: off_t = 0
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, chunkSize, offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ErrorMessage(id: nil, code: .ioError, message: "reading the spool file failed: \(String(cString: strerror(errno)))", hint: "check the agent host's disk")
            }
            if n == 0 { return }
            offset += off_t(n)
            try body(Array(buffer[0..<n]))
        }
    }

    /// SHA-256 of the whole file, read back.
    func rehash() throws -> String {
        var h = SHA256()
        try readAll { h.update(data: $0) }
        return Hex.encode(h.finalize())
    }
}
