import AKBase
import AKProtocol
import Crypto
import Foundation
import ProtocolSession
import Transport
#if canImport(Glibc)
import Glibc
#endif

/// The receiver's half of a backup: NAME.partial (0600, created exclusively, locked while written) →
/// fsync → the agent-signed manifest must describe exactly the bytes received → link to NAME → fsync
/// the directory → NAME.json. Any failure, a refusal, a cut link or an abort removes the partial
/// file; nothing incomplete or unsigned ever carries a final name.
struct UploadJob {
    let store: BackupStore
    let log: @Sendable (String) -> Void
    let now: () -> Date

    func run(_ request: UploadRequest, session: ServerSession) throws {
        let id = request.id
        guard ArtifactName.isValid(request.name), let dated = ArtifactName.date(of: request.name) else {
            throw ErrorMessage(id: id, code: .badRequest, message: "refusing artifact name \"\(String(request.name.prefix(100)))\"",
                               hint: "names look like authentik-db-2026-01-31T020000Z.sql.gz")
        }
        guard dated <= now().addingTimeInterval(86400) else {
            throw ErrorMessage(id: id, code: .badRequest, message: "refusing \(request.name): it is dated more than a day in the future",
                               hint: "check the clocks of infra-core and the NAS")
        }
        guard !store.trustedKeys.isEmpty else {
            throw ErrorMessage(id: id, code: .untrusted, message: "this NAS trusts no agent key yet, so it accepts no backup",
                               hint: "on infra-core run `akbackup-agent key --public`, then on the NAS: sudo akbackup-receiver trust-agent-key KEY")
        }
        try store.requireWritable(id: id)
        try store.createDirectory(store.directory, id: id)
        let finalPath = store.path(request.name)
        let partialPath = finalPath + ".partial"
        if FileManager.default.fileExists(atPath: finalPath) {
            throw ErrorMessage(id: id, code: .failed, message: "\(request.name) already exists on the NAS",
                               hint: "names are per second and never reused; run the backup again")
        }
        let dump = try createPartial(partialPath, id: id)
        var files: (fd: Int32, path: String)?
        var published = false
        var linkedFiles: String?
        defer {
            close(dump)
            if let f = files { close(f.fd) }
            if !published {
                unlink(partialPath)
                if let f = files { unlink(f.path) }
                // A files member is never left without the manifest that makes its set.
                if let l = linkedFiles { unlink(l) }
            }
        }
        try session.send(UploadReady(id: id, freeBytes: store.space()?.free))

        // The data stream, then (§15) perhaps the files member's, then commit or abort.
        guard let first = try session.receive(), let header = first.message(DataHeader.self), header.id == id else {
            throw ProtocolError.outOfSequence("expected the data of upload \(id)")
        }
        let received = try receiveStream(into: dump, name: request.name, id: id, session: session)
        var receivedFiles: StreamWritten?
        guard var next = try session.receive() else {
            throw TransportError(.io, host: "controller", "link lost during the upload of \(request.name)", hint: "nothing was kept")
        }
        if let header = next.message(DataHeader.self), header.id == id, header.stream == "files" {
            let filesName = ArtifactName.filesName(for: request.name)
            let filesPath = store.path(filesName) + ".partial"
            if FileManager.default.fileExists(atPath: store.path(filesName)) {
                throw ErrorMessage(id: id, code: .failed, message: "\(filesName) already exists on the NAS",
                                   hint: "names are per second and never reused; run the backup again")
            }
            files = (try createPartial(filesPath, id: id), filesPath)
            receivedFiles = try receiveStream(into: files!.fd, name: filesName, id: id, session: session)
            guard let after = try session.receive() else {
                throw TransportError(.io, host: "controller", "link lost during the upload of \(filesName)", hint: "nothing was kept")
            }
            next = after
        }
        if let abort = next.message(UploadAbort.self), abort.id == id {
            log("upload of \(request.name) aborted: \(abort.reason.prefix(500))")
            try session.send(ErrorMessage(id: id, code: .cancelled, message: "upload aborted: \(abort.reason.prefix(500))",
                                          hint: "nothing was kept on the NAS"))
            return
        }
        guard let commit = next.message(UploadCommit.self), commit.id == id else {
            throw ProtocolError.outOfSequence("expected upload.commit or upload.abort")
        }
        if let e = received.error ?? receivedFiles?.error { throw e }
        let manifest = commit.manifest
        // Only the agent's signature makes a backup: a stolen controller key can neither plant one
        // nor pass off other bytes under a signed manifest.
        switch manifest.signatureStatus(trusting: store.trustedKeys) {
        case .trusted:
            break
        case .untrusted:
            throw ErrorMessage(id: id, code: .untrusted,
                               message: "refusing \(request.name): its manifest is signed by \(manifest.validSigner?.fingerprint ?? "an unknown key"), which this NAS does not trust",
                               hint: "if that is infra-core's agent key (`akbackup-agent key --public` there), trust it: sudo akbackup-receiver trust-agent-key KEY; nothing was kept")
        case .invalid, .unsigned:
            throw ErrorMessage(id: id, code: .untrusted,
                               message: "refusing \(request.name): its manifest is \(manifest.signature == nil ? "not signed" : "not validly signed") by an agent",
                               hint: "only akbackup-agent makes backups; nothing was kept")
        }
        guard manifest.name == request.name, manifest.size == received.size, manifest.sha256 == received.sha256 else {
            throw ErrorMessage(id: id, code: .untrusted,
                               message: "refusing \(request.name): the signed manifest describes \(manifest.name) (\(manifest.size) bytes, sha256 \(manifest.sha256.prefix(12))…), the NAS received \(received.size) bytes with sha256 \(received.sha256.prefix(12))…",
                               hint: "the data was damaged or altered on the way; nothing was kept; run the backup again")
        }
        // The set is what the signature says: a files member it describes, or none at all.
        switch (manifest.files, receivedFiles) {
        case (nil, nil):
            break
        case (let member?, let got?) where member.size == got.size && member.sha256 == got.sha256:
            break
        case (let member?, nil):
            throw ErrorMessage(id: id, code: .untrusted, message: "refusing \(request.name): its manifest describes \(member.name), which was not sent",
                               hint: "nothing was kept; install the same akbackup version everywhere and run the backup again")
        case (nil, .some):
            throw ErrorMessage(id: id, code: .untrusted, message: "refusing \(request.name): a files member was sent that its signed manifest does not describe",
                               hint: "nothing was kept; run the backup again")
        case (let member?, let got?):
            throw ErrorMessage(id: id, code: .untrusted,
                               message: "refusing \(request.name): the signed manifest describes \(member.name) as \(member.size) bytes with sha256 \(member.sha256.prefix(12))…, the NAS received \(got.size) bytes with sha256 \(got.sha256.prefix(12))…",
                               hint: "the data was damaged or altered on the way; nothing was kept; run the backup again")
        }
        guard fsync(dump) == 0 else { throw describeWriteError(errno, written: received.size, id: id) }
        if let f = files, fsync(f.fd) != 0 { throw describeWriteError(errno, written: receivedFiles?.size ?? 0, id: id) }
        // The dump first, the files member next, the manifest last: a set is listed as signed (and
        // restorable) only once its manifest exists, and by then every member it names has its final
        // name; a files member never exists without its dump (an interrupted prune's rule, §14.5).
        try link(partialPath, to: finalPath, id: id)
        unlink(partialPath)
        if let f = files, let member = manifest.files {
            try link(f.path, to: store.path(member.name), id: id)
            linkedFiles = store.path(member.name)
            unlink(f.path)
        }
        try publishManifest(manifest, id: id)
        published = true
        let filesNote = manifest.files.map { ", with \($0.name) (\($0.size) bytes)" } ?? ""
        log("stored \(request.name) (\(received.size) bytes, sha256 \(received.sha256)\(filesNote), signed by \(manifest.validSigner?.fingerprint ?? "?"))")
        try session.send(UploadResult(id: id, name: request.name, size: received.size, sha256: received.sha256))
    }

    struct StreamWritten {
        var size: Int64
        var sha256: String
        var error: ErrorMessage?
    }

    /// Created exclusively and locked under the directory's lock: the stale-partial sweep (which
    /// takes the same lock) never sees the file unlocked, however young.
    private func createPartial(_ path: String, id: UInt64) throws -> Int32 {
        do {
            return try store.whileHoldingDirectoryLock {
                let fd = try FileIO.createExclusive(path, mode: 0o600)
                flock(fd, LOCK_EX)
                return fd
            }
        } catch let e as FileIOError {
            throw ErrorMessage(id: id, code: .ioError, message: e.summary, hint: e.hint)
        }
    }

    /// One data stream into `fd`, to its empty frame. Write errors are remembered and the stream is
    /// drained, so the session stays in sequence and the controller gets one clear answer.
    private func receiveStream(into fd: Int32, name: String, id: UInt64, session: ServerSession) throws -> StreamWritten {
        var hasher = SHA256()
        var written: Int64 = 0
        var writeError: ErrorMessage?
        while true {
            guard let item = try session.receive() else {
                log("link lost during the upload of \(name); removed the partial file")
                throw TransportError(.io, host: "controller", "link lost during the upload of \(name)", hint: "nothing was kept")
            }
            switch item {
            case .chunk(let bytes):
                guard writeError == nil else { continue }
                if let code = FileIO.writeAll(fd, bytes) {
                    writeError = describeWriteError(code, written: written, id: id)
                    ftruncate(fd, 0)
                    continue
                }
                hasher.update(data: bytes)
                written += Int64(bytes.count)
            case .endOfData:
                return StreamWritten(size: written, sha256: Hex.encode(hasher.finalize()), error: writeError)
            case .message(let m):
                throw ProtocolError.outOfSequence("\(m.type) inside upload data")
            }
        }
    }

    private func link(_ from: String, to: String, id: UInt64) throws {
        // link() fails if the final name exists, so a concurrent upload can never be overwritten.
        guard Glibc.link(from, to) == 0 else {
            throw ErrorMessage(id: id, code: .ioError, message: "cannot publish \(to): \(String(cString: strerror(errno)))",
                               hint: "check \(store.directory)")
        }
    }

    private func publishManifest(_ manifest: Manifest, id: UInt64) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let manifestPath = store.path(BackupStore.manifestName(for: manifest.name))
        do {
            try FileIO.fsyncDirectory(store.directory)
            try FileIO.writeAtomically(manifestPath, bytes: [UInt8](try encoder.encode(manifest)), mode: 0o600, replace: true,
                                       temp: manifestPath + ".partial")
        } catch let e as FileIOError {
            throw ErrorMessage(id: id, code: e.isNoSpace ? .noSpace : .ioError,
                               message: "stored the artifact but could not write its manifest: \(e.summary)",
                               hint: "free space on the NAS; without its manifest the backup cannot be restored without --trust-unsigned")
        }
    }

    private func describeWriteError(_ code: Int32, written: Int64, id: UInt64) -> ErrorMessage {
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
