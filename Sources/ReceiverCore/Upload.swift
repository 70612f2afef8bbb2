import AKProtocol
import Crypto
import Foundation
import ProtocolSession
import Transport
#if canImport(Glibc)
import Glibc
#endif

/// The receiver's half of a backup: NAME.partial (0600, locked while written) → fsync → size and
/// SHA-256 checked → rename to NAME → fsync the directory → NAME.json. Any failure, a cut link or an
/// abort removes the partial file; nothing incomplete ever carries a final name.
struct UploadJob {
    let store: BackupStore
    let log: (String) -> Void
    var idleTimeout: TimeInterval = 300

    func run(_ request: UploadRequest, session: ServerSession) throws {
        let id = request.id
        guard ArtifactName.isValid(request.name) else {
            throw ErrorMessage(id: id, code: .badRequest, message: "refusing artifact name \"\(request.name.prefix(100))\"",
                               hint: "names look like authentik-db-2026-01-31T020000Z.sql.gz")
        }
        try createDirectory(id: id)
        let finalPath = store.path(request.name)
        let partialPath = finalPath + ".partial"
        if FileManager.default.fileExists(atPath: finalPath) {
            throw ErrorMessage(id: id, code: .failed, message: "\(request.name) already exists on the NAS",
                               hint: "wait a second and run the backup again (names are per second)")
        }
        let fd = open(partialPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ErrorMessage(id: id, code: .ioError, message: "cannot create \(partialPath): \(String(cString: strerror(errno)))",
                               hint: "check that the receiver's login owns \(store.directory)")
        }
        flock(fd, LOCK_EX)
        var published = false
        let watchdog = IdleWatchdog(timeout: idleTimeout, name: "upload watchdog") { [log] in
            unlink(partialPath)
            log("no data from the controller for \(Int(idleTimeout))s during the upload of \(request.name) (link lost?); removed the partial file")
            exit(4)
        }
        defer {
            watchdog.stop()
            close(fd)
            if !published { unlink(partialPath) }
        }
        try session.send(.uploadReady(UploadReady(id: id, freeBytes: store.space()?.free)))

        var hasher = SHA256()
        var written: Int64 = 0
        var writeError: ErrorMessage?
        // The data stream, then commit or abort. Write errors are remembered and the stream is
        // drained, so the session stays in sequence and the controller gets one clear answer.
        guard case .message(.data(let header))? = try session.framed.receive(), header.id == id else {
            throw ProtocolError.outOfSequence("expected the data of upload \(id)")
        }
        while true {
            guard let item = try session.framed.receive() else {
                log("link lost during upload of \(request.name); removed the partial file")
                throw TransportError(.io, host: "controller", "link lost during upload of \(request.name)", hint: "nothing was kept")
            }
            watchdog.touch()
            switch item {
            case .chunk(let bytes):
                guard writeError == nil else { continue }
                if let error = writeAll(fd, bytes) {
                    writeError = describeWriteError(error, needed: Int64(bytes.count), written: written, id: id)
                    ftruncate(fd, 0)
                    continue
                }
                hasher.update(data: bytes)
                written += Int64(bytes.count)
            case .endOfData:
                break
            case .message(let m):
                throw ProtocolError.outOfSequence("\(m.type) inside upload data")
            }
            if case .endOfData = item { break }
        }
        guard let next = try session.framed.receive() else { throw TransportError(.io, host: "controller", "link lost during upload of \(request.name)", hint: "nothing was kept") }
        watchdog.stop()
        switch next {
        case .message(.uploadAbort(let abort)) where abort.id == id:
            log("upload of \(request.name) aborted: \(abort.reason)")
            try session.send(.error(ErrorMessage(id: id, code: .cancelled, message: "upload aborted: \(abort.reason)",
                                                 hint: "nothing was kept on the NAS")))
            return
        case .message(.uploadCommit(let commit)) where commit.id == id:
            if let e = writeError { throw e }
            // The manifest is written next to the artifact under a name derived from it: it must
            // describe this upload and no other file.
            guard commit.manifest.name == request.name, commit.manifest.size == commit.size,
                  commit.manifest.sha256 == commit.sha256 else {
                throw ErrorMessage(id: id, code: .badRequest, message: "the manifest does not describe \(request.name)",
                                   hint: "this is a bug in the controller; nothing was kept")
            }
            guard fsync(fd) == 0 else {
                throw describeWriteError(errno, needed: 0, written: written, id: id)
            }
            let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
            guard written == commit.size, digest == commit.sha256 else {
                throw ErrorMessage(id: id, code: .failed,
                                   message: "received \(written) bytes with sha256 \(digest.prefix(12))…, the agent sent \(commit.size) bytes with sha256 \(commit.sha256.prefix(12))…",
                                   hint: "the data was damaged in transit; nothing was kept; run the backup again")
            }
            try publish(partialPath: partialPath, finalPath: finalPath, manifest: commit.manifest, id: id)
            published = true
            log("stored \(request.name) (\(written) bytes, sha256 \(digest))")
            try session.send(.uploadResult(UploadResult(id: id, name: request.name, size: written, sha256: digest)))
        default:
            throw ProtocolError.outOfSequence("expected upload.commit or upload.abort")
        }
    }

    private func createDirectory(id: UInt64) throws {
        do {
            try FileManager.default.createDirectory(atPath: store.directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o750])
        } catch {
            throw ErrorMessage(id: id, code: .ioError, message: "cannot create \(store.directory) as \(NSUserName())",
                               hint: "create it: sudo mkdir -p \(store.directory) && sudo chown \(NSUserName()) \(store.directory)")
        }
    }

    private func publish(partialPath: String, finalPath: String, manifest: Manifest, id: UInt64) throws {
        // link() fails if the final name exists, so a concurrent upload can never be overwritten.
        guard link(partialPath, finalPath) == 0 else {
            throw ErrorMessage(id: id, code: .ioError, message: "cannot publish \(finalPath): \(String(cString: strerror(errno)))",
                               hint: "check \(store.directory)")
        }
        unlink(partialPath)
        fsyncDirectory()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(manifest)
        let manifestPath = store.path(BackupStore.manifestName(for: manifest.name))
        let temp = manifestPath + ".partial"
        let mfd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard mfd >= 0, writeAll(mfd, [UInt8](data)) == nil, fsync(mfd) == 0 else {
            let why = String(cString: strerror(errno))
            if mfd >= 0 { close(mfd) }
            unlink(temp)
            throw ErrorMessage(id: id, code: .ioError, message: "stored the artifact but could not write its manifest: \(why)",
                               hint: "free space on the NAS, then `akbackup verify` checks the artifact's gzip and trailer")
        }
        close(mfd)
        guard rename(temp, manifestPath) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temp)
            throw ErrorMessage(id: id, code: .ioError, message: "stored the artifact but could not publish its manifest: \(why)",
                               hint: "`akbackup verify` still checks the artifact's gzip and trailer")
        }
        fsyncDirectory()
    }

    private func fsyncDirectory() {
        let dfd = open(store.directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }

    private func describeWriteError(_ code: Int32, needed: Int64, written: Int64, id: UInt64) -> ErrorMessage {
        if code == ENOSPC || code == EDQUOT {
            let free = store.space()?.free ?? 0
            return ErrorMessage(id: id, code: .noSpace,
                                message: "the NAS ran out of space in \(store.directory) after \(ByteFormat.human(written)) (\(ByteFormat.human(free)) free)",
                                hint: "free space on the NAS or prune old backups; nothing was kept")
        }
        return ErrorMessage(id: id, code: .ioError, message: "writing to \(store.directory) failed: \(String(cString: strerror(code)))",
                            hint: "check the NAS volume; nothing was kept")
    }
}

/// Writes all bytes; returns errno on failure.
func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
    var offset = 0
    return bytes.withUnsafeBytes { raw -> Int32? in
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += n
        }
        return nil
    }
}
