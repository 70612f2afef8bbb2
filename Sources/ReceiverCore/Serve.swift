import AKBase
import AKProtocol
import Crypto
import Foundation
import ProtocolSession
#if canImport(Glibc)
import Glibc
#endif

/// Serving artifacts back (restore) and keeping receipts (the restore evidence) on the NAS.
extension BackupStore {
    /// Streams an artifact to the controller: fetch.started, its bytes as raw frames, then (asked
    /// for, and the set has one) its files member as a second stream "files", fetch.result.
    func serve(_ request: FetchRequest, session: ServerSession) throws {
        let name = try resolve(request.name)
        let manifest = manifest(for: name)
        let dump = try openMember(name, id: request.id)
        defer { close(dump.fd) }
        var files: (fd: Int32, size: Int64)?
        if request.files == true, let member = manifest?.files {
            files = try openMember(member.name, id: request.id)
        }
        defer { if let f = files { close(f.fd) } }
        try session.send(FetchStarted(id: request.id, name: name, size: dump.size, manifest: manifest, filesSize: files?.size))
        let sent = try send(dump.fd, path: path(name), stream: "artifact", id: request.id, session: session)
        let sentFiles = try files.map { try send($0.fd, path: path(manifest!.files!.name), stream: "files", id: request.id, session: session) }
        try session.send(FetchResult(id: request.id, size: sent.size, sha256: sent.sha256, filesSize: sentFiles?.size, filesSHA256: sentFiles?.sha256))
    }

    private func openMember(_ name: String, id: UInt64) throws -> (fd: Int32, size: Int64) {
        do {
            let fd = try FileIO.openForReading(path(name))
            var st = stat()
            fstat(fd, &st)
            return (fd, Int64(st.st_size))
        } catch let e as FileIOError {
            let missing = e.code == ENOENT
            throw ErrorMessage(id: id, code: missing ? .notFound : .ioError,
                               message: missing ? "\(name) is missing on the NAS: the backup set is not restorable" : e.summary,
                               hint: missing ? "restore another backup (`akbackup list`), or only its database with --db-only" : e.hint)
        }
    }

    private func send(_ fd: Int32, path: String, stream: String, id: UInt64, session: ServerSession) throws -> (size: Int64, sha256: String) {
        try session.send(DataHeader(id: id, stream: stream))
        var hasher = SHA256()
        var size: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try FileIO.read(fd, into: $0, path: path) }
            if n == 0 { break }
            let bytes = Array(buffer[0..<n])
            hasher.update(data: bytes)
            size += Int64(n)
            try session.framed.sendChunk(bytes)
        }
        try session.framed.endData()
        return (size, Hex.encode(hasher.finalize()))
    }

    static func isReceiptName(_ name: String) -> Bool {
        name.count <= 120 && name.hasSuffix(".json") &&
            name.range(of: "^[A-Za-z0-9][A-Za-z0-9._-]*$", options: .regularExpression) != nil
    }

    /// Writes receipts/NAME (temp file, fsync, link, fsync directory). Never overwrites; refuses a
    /// receipt no trusted agent signed, so nothing but real evidence is kept.
    func storeReceipt(_ request: ReceiptStore) throws -> Done {
        guard BackupStore.isReceiptName(request.name) else {
            throw ErrorMessage(id: request.id, code: .badRequest, message: "refusing receipt name \"\(String(request.name.prefix(100)))\"",
                               hint: "receipt names are plain file names ending in .json")
        }
        guard request.receipt.signatureStatus(trusting: trustedKeys) == .trusted else {
            throw ErrorMessage(id: request.id, code: .untrusted, message: "refusing receipt \(request.name): no agent key this NAS trusts signed it",
                               hint: "receipts are made and signed by akbackup-agent; check the NAS's trusted_agent_keys")
        }
        try requireWritable(id: request.id)
        try createDirectory(receiptsDirectory, id: request.id)
        let final = (receiptsDirectory as NSString).appendingPathComponent(request.name)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let bytes = [UInt8](try encoder.encode(request.receipt))
        do {
            try FileIO.writeAtomically(final, bytes: bytes, mode: 0o640, replace: false, temp: final + ".partial")
        } catch let e as FileIOError where e.code == EEXIST && FileManager.default.fileExists(atPath: final) {
            throw ErrorMessage(id: request.id, code: .failed, message: "receipt \(request.name) already exists", hint: "receipts are never overwritten")
        } catch let e as FileIOError {
            throw ErrorMessage(id: request.id, code: e.isNoSpace ? .noSpace : .ioError, message: "cannot write receipt \(request.name): \(e.summary)",
                               hint: "check free space on the NAS; the receipt is also kept on the controller")
        }
        return Done(id: request.id, detail: "receipts/\(request.name)")
    }

    /// Receipt files, newest first by the time the NAS stored them (then by name): the order of
    /// `receipts` pages, and so of `akbackup status`.
    func receiptFilesNewestFirst() -> [(name: String, mtime: Int)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: receiptsDirectory) else { return [] }
        return names.filter(BackupStore.isReceiptName).compactMap { name in
            var st = stat()
            guard lstat((receiptsDirectory as NSString).appendingPathComponent(name), &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
            return (name, st.st_mtim.tv_sec)
        }.sorted { ($0.mtime, $0.name) > ($1.mtime, $1.name) }
    }

    /// receipts/NAME, when it reads, decodes and passes its range checks.
    func readReceipt(_ name: String) -> Receipt? {
        guard let data = try? FileIO.readFile((receiptsDirectory as NSString).appendingPathComponent(name), limit: ProtocolLimits.maxDocumentBytes),
              let receipt = try? MessageCodec.decodeDocument(Receipt.self, from: data),
              (try? receipt.validate("receipt")) != nil else { return nil }
        return receipt
    }

    /// The artifact of the newest receipt that proves a restore (a passed restore test or restore)
    /// and that a key this NAS trusts signed — the restore test `akbackup status` reports.
    func newestRestoreTestedArtifact() -> String? {
        for entry in receiptFilesNewestFirst() {
            guard let r = readReceipt(entry.name), r.provesRestore, r.signatureStatus(trusting: trustedKeys) == .trusted else { continue }
            return r.artifact.flatMap { ArtifactName.isValid($0) ? $0 : nil }
        }
        return nil
    }

    /// A page of readable receipts, newest first (by the time the NAS stored them), stopping early
    /// when the next one would not fit the frame.
    func receipts(offset: Int, limit: Int) -> (page: [StoredReceipt], total: Int) {
        let dated = receiptFilesNewestFirst()
        var page: [StoredReceipt] = []
        var bytes = 0
        let budget = ProtocolLimits.maxFramePayload / 2
        for entry in dated.dropFirst(offset) {
            guard page.count < limit else { break }
            guard let receipt = readReceipt(entry.name) else { continue }
            let stored = StoredReceipt(name: entry.name, receipt: receipt, signature: receipt.signatureStatus(trusting: trustedKeys))
            let size = (try? MessageCodec.canonicalEncoder().encode(stored).count) ?? budget
            if bytes + size > budget { break }
            bytes += size
            page.append(stored)
        }
        return (page, dated.count)
    }
}
