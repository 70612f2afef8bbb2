import AKProtocol
import Crypto
import Foundation
import ProtocolSession
#if canImport(Glibc)
import Glibc
#endif

/// Serving artifacts back (restore) and keeping receipts (the restore evidence) on the NAS.
extension BackupStore {
    /// Streams an artifact to the controller: fetch.started, its bytes as raw frames, fetch.result.
    func serve(_ request: FetchRequest, session: ServerSession) throws {
        let name = try resolve(request.name)
        guard let handle = FileHandle(forReadingAtPath: path(name)) else {
            throw ErrorMessage(id: request.id, code: .ioError, message: "cannot open \(name)", hint: "check the file's permissions on the NAS")
        }
        defer { try? handle.close() }
        var st = stat()
        fstat(handle.fileDescriptor, &st)
        try session.send(.fetchStarted(FetchStarted(id: request.id, name: name, size: Int64(st.st_size), manifest: manifest(for: name))))
        try session.send(.data(DataHeader(id: request.id, stream: "artifact")))
        var hasher = SHA256()
        var size: Int64 = 0
        while true {
            let data = handle.readData(ofLength: 256 * 1024)
            if data.isEmpty { break }
            let bytes = [UInt8](data)
            hasher.update(data: bytes)
            size += Int64(bytes.count)
            try session.framed.sendChunk(bytes)
        }
        try session.framed.endData()
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        try session.send(.fetchResult(FetchResult(id: request.id, size: size, sha256: digest)))
    }

    var receiptsDirectory: String { path("receipts") }

    static func isReceiptName(_ name: String) -> Bool {
        name.count <= 120 && name.hasSuffix(".json") &&
            name.range(of: "^[A-Za-z0-9][A-Za-z0-9._-]*$", options: .regularExpression) != nil
    }

    /// Writes receipts/NAME (temp file, fsync, rename, fsync directory). Never overwrites.
    func storeReceipt(_ request: ReceiptStore) throws -> Done {
        guard BackupStore.isReceiptName(request.name) else {
            throw ErrorMessage(id: request.id, code: .badRequest, message: "refusing receipt name \"\(request.name.prefix(100))\"",
                               hint: "receipt names are plain file names ending in .json")
        }
        try FileManager.default.createDirectory(atPath: receiptsDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o750])
        let final = (receiptsDirectory as NSString).appendingPathComponent(request.name)
        guard !FileManager.default.fileExists(atPath: final) else {
            throw ErrorMessage(id: request.id, code: .failed, message: "receipt \(request.name) already exists", hint: "receipts are never overwritten")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let bytes = [UInt8](try encoder.encode(request.receipt))
        let temp = final + ".partial"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0, writeAll(fd, bytes) == nil, fsync(fd) == 0 else {
            let why = String(cString: strerror(errno))
            if fd >= 0 { close(fd) }
            unlink(temp)
            throw ErrorMessage(id: request.id, code: errno == ENOSPC ? .noSpace : .ioError, message: "cannot write receipt \(request.name): \(why)",
                               hint: "check free space on the NAS; the receipt is also kept on the controller")
        }
        close(fd)
        guard link(temp, final) == 0 else {
            unlink(temp)
            throw ErrorMessage(id: request.id, code: .ioError, message: "cannot publish receipt \(request.name)", hint: "check \(receiptsDirectory)")
        }
        unlink(temp)
        let dfd = open(receiptsDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
        return Done(id: request.id, detail: "receipts/\(request.name)")
    }

    /// The newest 100 readable receipts, oldest first (bounded so the answer fits one message).
    /// Unreadable files are skipped, not fatal.
    func receipts() -> [Receipt] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: receiptsDirectory) else { return [] }
        return names.filter(BackupStore.isReceiptName).compactMap { name in
            FileManager.default.contents(atPath: (receiptsDirectory as NSString).appendingPathComponent(name))
                .flatMap { try? JSONDecoder().decode(Receipt.self, from: $0) }
        }.sorted { $0.finishedAt < $1.finishedAt }.suffix(100).map { receipt in
            // Row counts stay in the files: the answer must fit one message.
            var r = receipt
            r.validation?.rowCounts = [:]
            return r
        }
    }
}
