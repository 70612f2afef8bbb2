import AKBase
import AKProtocol
import Foundation
import ProtocolSession
import Transport

/// The agent's half of `akbackup restore` and `restore-test`.
///
/// No byte reaches psql before it is proven: the artifact is spooled to a private file on this host,
/// its size and SHA-256 checked against a manifest this agent's trusted keys signed (or, with
/// `--trust-unsigned`, against the hash the NAS read), and only then replayed — through the replay
/// filter, into a staging database, with psql restricted. The live database is never touched until the
/// staging copy is validated; the swap that follows is owned by this process and finishes or rolls
/// back by itself, whatever happens to the controller.
struct RestoreJob {
    let context: AgentContext
    let controller: String

    /// What the agent concluded about the artifact before receiving it.
    struct Provenance {
        /// The manifest, only when a trusted key signed it (its facts count then).
        var manifest: Manifest?
        var size: Int64
        var sha256: String
        var signed: Bool { manifest != nil }
    }

    func run(_ request: RestoreRequest, session: ServerSession) throws {
        let id = request.id
        let began = context.clock()
        let operation = request.mode == .test ? "restore-test" : "restore"
        let lock = try OperationLock.acquire(stateDir: context.config.stateDir, host: context.hostName, operation: operation, controller: controller)
        defer { lock.release() }
        let key = try context.requireSigningKey()
        let db = try context.database()
        let provenance = try provenance(of: request)
        var steps = StepLog()

        let running = context.app.runningVersion()
        var warnings: [String] = []
        if !provenance.signed {
            warnings.append("\(request.artifact) is not signed by a trusted agent key: restoring it because of --trust-unsigned; it is checked against the hash the NAS read and passes the replay filter, but its contents are not proven to be this agent's")
        }
        if let backupVersion = provenance.manifest?.source.authentikVersion, let running {
            let order = AuthentikVersion.compare(backupVersion, running)
            if order == .orderedDescending && request.mode != .test {
                guard request.force else {
                    throw ErrorMessage(id: id, code: .failed,
                                       message: "refusing to restore a backup of Authentik \(backupVersion) under the running \(running): Authentik cannot migrate a database backwards",
                                       hint: "restore a backup made by \(running) or older, upgrade the image first, or pass --force if you know better")
                }
                warnings.append("forced: the backup is from Authentik \(backupVersion), newer than the running \(running)")
            } else if order == .orderedAscending {
                warnings.append("the backup is from Authentik \(backupVersion); the running \(running) will migrate it forward when it starts")
            }
        }
        let stamp = context.stamp()
        // Authentik's files (§15): only from a set a trusted key signed, and only where they have a place here.
        let scope = request.scope ?? .database
        let member = scope.files ? provenance.manifest?.files : nil
        if request.scope == .files {
            guard member != nil else {
                throw ErrorMessage(id: id, code: .failed, message: "\(request.artifact) holds no files of Authentik\(provenance.manifest == nil ? " a trusted key signed" : "")",
                                   hint: "restore its database (without --files-only); nothing was changed")
            }
            guard request.mode == .swap else {
                throw ErrorMessage(id: id, code: .badRequest, message: "--files-only restores files into the live stack; it cannot be combined with \(request.mode == .test ? "a restore test" : "--replace")",
                                   hint: "a restore test always checks the files of a set; nothing was changed")
            }
        }
        if let member, request.mode == .replace {
            warnings.append("--replace restores the database only: Authentik's files (\(member.mounts.map(\.containerPath).joined(separator: ", "))) are left as they are")
        }
        if let fingerprint = provenance.manifest?.secretKeyFingerprint, request.mode != .test,
           let running = EnvFile.secretKeyFingerprint(config: context.config), running != fingerprint {
            warnings.append("\(context.config.secretKeyVariable) in \(context.config.envPath) is not the one the backup was made with: all sessions will be signed out, and secrets Authentik encrypted with the old key will not decrypt; put the old key back in the .env first if you have it (Infisical)")
        }
        let filesRestore = try member.flatMap { m -> FilesRestore? in
            guard request.mode == .swap else { return nil }
            return try FilesRestore.plan(member: m, hostMounts: try context.files.mounts(), stamp: stamp, files: context.files)
        }
        try steps.run("drop leftover staging databases") { try dropLeftovers(db) }
        if request.mode != .replace, scope.database, let warning = try roomForCopy(db: db, manifest: provenance.manifest) { warnings.append(warning) }
        let restrict = Replayer.supportsRestrict(psqlVersion: db.toolVersion("psql"))
        if !restrict { warnings.append("psql in \(context.config.postgresContainer) is older than the August 2025 releases and cannot be put in restricted mode; the replay filter alone keeps psql meta-commands out") }

        let live = db.liveDatabase
        let target = request.mode == .replace ? live : (request.mode == .swap ? AgentDatabases.staging(stamp) : AgentDatabases.scratch(stamp))
        // Room for the spool is checked before the controller is told to send.
        let spool = try Spool.create(stateDir: context.config.stateDir, expectedSize: provenance.size)
        let filesSpool = try member.map { try Spool.create(stateDir: context.config.stateDir, expectedSize: provenance.size + $0.size) }
        try session.send(RestoreReady(id: id, targetDatabase: target, runningAuthentikVersion: running, warnings: warnings))

        // The bytes, into the private spool, checked before anything changes.
        try steps.run("receive and check \(request.artifact)") { try receive(into: spool, id: id, expected: provenance, session: session) }
        if let member, let filesSpool {
            try steps.run("receive and check \(member.name)") {
                try receive(into: filesSpool, id: id, expected: Provenance(manifest: nil, size: member.size, sha256: member.sha256), session: session, stream: "files")
            }
        }
        try steps.run("check every statement of \(request.artifact)") { try Replayer.check(spool) }
        if request.mode != .replace, session.peerGone {
            throw TransportError(.io, host: "controller", "the controller went away before the restore could start", hint: "nothing was changed")
        }
        // Authentik's files, unpacked and checked while the app runs: a restore test into scratch,
        // a restore beside the live directories (swapped in the window below).
        var filesFailure: String?
        if let member, let filesSpool, request.mode == .test {
            filesFailure = steps.replay("unpack and check \(member.name) in scratch") {
                testFiles(member, spool: filesSpool, stamp: stamp)
            }
        }
        var filesPrepared: FilesRestore?
        defer { if let f = filesPrepared { f.discard() } }
        if let filesRestore, let member, let filesSpool {
            filesPrepared = filesRestore
            try steps.run("unpack \(member.name) beside \(filesRestore.targets.map(\.hostPath).joined(separator: ", "))") {
                try filesRestore.prepare(read: { try filesSpool.readAll($0) }, member: member)
            }
        }

        var appGuard = AppGuard(app: context.app, log: context.log)
        defer { appGuard.restoreIfNeeded() }
        var undoPoint: String?
        var validation: ValidationReport?
        var outcome: RestoreOutcome
        var message: String
        var downtime: Double?
        // A staging or scratch database this job made is dropped on every way out, unless the swap took it.
        var dropOnExit: String?
        defer { if let t = dropOnExit { try? db.dropDatabase(t) } }
        if !scope.database, let files = filesPrepared {
            // --files-only: Authentik's files alone, in a window of their own; the database stays as it is.
            let swap = SwapWindow(context: context, db: db)
                .swapFilesOnly(files, healthTimeout: healthTimeout(request.healthTimeout), steps: &steps, appGuard: &appGuard)
            (outcome, message, downtime) = (swap.outcome, swap.message, swap.downtime)
            if swap.filesMoved {
                files.finish()
                filesPrepared = nil
            }
        } else {
            switch request.mode {
            case .swap, .test:
                try steps.run("create \(target)") { try db.createDatabase(target) }
                dropOnExit = target
            case .replace:
                let copy = try steps.run("undo copy of \(live)") {
                    try UndoCopy.make(db: db, stateDir: context.config.stateDir, stamp: stamp, now: context.clock())
                }
                undoPoint = "\(context.config.stateDir)/undo/\(copy.file)"
                // From here the services are down: nothing may kill this process before they are up again.
                context.shield()
                try steps.run("stop services") { try appGuard.stop() }
                try steps.run("drop and recreate \(live)") {
                    try db.dropDatabase(live)
                    try db.createDatabase(live)
                }
            }

            // Replay. Before the swap window, a controller that goes away cancels it (nothing live changed);
            // in replace mode the agent owns the downtime and finishes.
            let stopIfGone = request.mode != .replace
            var failure = steps.replay("replay \(request.artifact) into \(target)") {
                Replayer(db: db, log: context.log).replay(
                    spool, into: target, restrict: restrict,
                    progress: { bytes in try? session.send(ProgressReport(id: id, phase: "replay", bytes: bytes)) },
                    shouldStop: { stopIfGone && session.peerGone })
            }
            if failure == nil, let f = filesFailure { failure = f }
            if failure == nil {
                do {
                    let report = try steps.run("validate \(target)") { try Validator(db: db).validate(database: target, manifest: provenance.manifest) }
                    validation = report
                    if !report.ok { failure = "validation failed: " + report.problems.prefix(5).joined(separator: "; ") }
                } catch {
                    failure = "validation could not run: \(describe(error))"
                }
            }

            // A restore test always ends here, and so does a swap whose candidate failed: live was never touched.
            switch (request.mode, failure) {
            case (.test, _), (.swap, .some):
                if steps.runQuietly("drop \(target)", { try db.dropDatabase(target) }) { dropOnExit = nil }
                outcome = failure == nil ? .tested : .failed
                message = failure.map { "\($0); the live database and the services were not touched" }
                    ?? "restore test passed: \(validation?.rowCounts.count ?? 0) tables\(validation?.schemaChecked.map { " and \($0.count) kinds of schema objects" } ?? "") match the manifest; scratch database dropped"
                    + (member.map { m in "; Authentik's files (\(m.mounts.map { "\($0.containerPath) \($0.files) files" }.joined(separator: ", "))) unpacked and match the manifest" } ?? "")
            case (.swap, .none):
                if session.peerGone {
                    throw TransportError(.io, host: "controller", "the controller went away before the swap", hint: "the live database was not touched")
                }
                _ = steps.runQuietly("analyze \(target)") { _ = try db.query("ANALYZE", database: target) }
                dropOnExit = nil
                let pre = AgentDatabases.preRestore(stamp)
                let swap = SwapWindow(context: context, db: db)
                    .swapIn(candidate: target, keepLiveAs: pre, failedName: AgentDatabases.failed(stamp),
                            healthTimeout: healthTimeout(request.healthTimeout), steps: &steps, appGuard: &appGuard, files: filesPrepared)
                (outcome, message, downtime) = (swap.outcome, swap.message, swap.downtime)
                if outcome == .restored { undoPoint = pre }
                if let f = filesPrepared {
                    // Swapped in, or moved back by the rollback: nothing of it is a leftover now.
                    if swap.filesMoved {
                        f.finish()
                        filesPrepared = nil
                        if outcome == .restored { message += "; Authentik's files restored, the previous ones kept as " + f.previousPaths.joined(separator: ", ") }
                    }
                }
            case (.replace, _):
                if failure == nil {
                    _ = steps.runQuietly("analyze \(target)") { _ = try db.query("ANALYZE", database: target) }
                }
                let health = appGuard.startAndWaitHealthy(timeout: healthTimeout(request.healthTimeout), steps: &steps)
                let ok = failure == nil && health.ok
                outcome = ok ? .restored : .failed
                message = ok ? "restored \(request.artifact) by drop-and-recreate; the previous database is kept as \(undoPoint ?? "an undo copy") (akbackup restore --undo)"
                    : "replace restore failed: \(failure ?? health.detail); the previous database is kept as \(undoPoint ?? "an undo copy"): put it back with `akbackup restore --undo`"
                downtime = appGuard.downtime()
            }
        }
        if outcome.succeeded {
            // Under this job's lock, after the outcome is settled: a drop that fails is a failed step
            // in the receipt, never a failed restore. What this restore kept for --undo is protected.
            UndoPruning(context: context, db: db).applyAfterSuccess(protected: Set([undoPoint].compactMap { $0 }), steps: &steps)
        }
        var receipt = Receipt(operation: operation, artifact: request.artifact, sha256: provenance.sha256, artifactSigned: provenance.signed,
                              operatorName: request.requestedBy.user, controllerHost: request.requestedBy.host, agentHost: context.hostName,
                              startedAt: Timestamp.string(began), finishedAt: Timestamp.string(context.clock()), steps: steps.steps,
                              validation: validation, downtimeSeconds: downtime, outcome: outcome, message: message, undoPoint: undoPoint)
        try receipt.sign(with: key.privateKey)
        answer(session, RestoreResult(id: id, receipt: receipt))
    }

    /// Decides, before a byte arrives, whether this artifact may be restored and what it must hash to.
    func provenance(of request: RestoreRequest) throws -> Provenance {
        let decided = try signature(of: request)
        // Unsigned content into live is this host's decision, not the controller's: a stolen laptop
        // key must not be able to replace Authentik's database with data of its choosing.
        if !decided.signed && request.mode != .test && !context.config.allowUnsignedRestores {
            throw ErrorMessage(id: request.id, code: .untrusted,
                               message: "\(context.hostName) does not restore a dump no trusted agent key signed into the live database",
                               hint: "a restore-test of it is allowed; to restore it, an administrator of \(context.hostName) sets allow_unsigned_restores = true in \(AgentConfig.defaultPath)")
        }
        return decided
    }

    private func signature(of request: RestoreRequest) throws -> Provenance {
        guard ArtifactName.isValid(request.artifact) else {
            throw ErrorMessage(id: request.id, code: .badRequest, message: "refusing artifact name \"\(String(request.artifact.prefix(80)))\"",
                               hint: "names look like authentik-db-2026-01-31T020000Z.sql.gz")
        }
        let unsignedHint = "to restore it anyway, pass --trust-unsigned: it is then checked only against the hash the NAS read, and by the replay filter"
        guard let manifest = request.manifest else {
            guard request.trustUnsigned else {
                throw ErrorMessage(id: request.id, code: .untrusted, message: "\(request.artifact) has no manifest, so no agent signed it (made by hand?)", hint: unsignedHint)
            }
            return Provenance(manifest: nil, size: request.size, sha256: request.sha256)
        }
        guard manifest.name == request.artifact else {
            throw ErrorMessage(id: request.id, code: .badRequest, message: "the manifest describes \(String(manifest.name.prefix(80))), not \(request.artifact)",
                               hint: "the NAS's files do not match; run `akbackup verify \(request.artifact)`")
        }
        switch manifest.signatureStatus(trusting: context.trustedKeys()) {
        case .trusted:
            guard request.size == manifest.size, request.sha256 == manifest.sha256 else {
                throw ErrorMessage(id: request.id, code: .badRequest, message: "the request's size and hash differ from the signed manifest's",
                                   hint: "this controller is not akbackup's or is damaged; nothing was changed")
            }
            return Provenance(manifest: manifest, size: manifest.size, sha256: manifest.sha256)
        case .invalid:
            throw ErrorMessage(id: request.id, code: .untrusted,
                               message: "the manifest of \(request.artifact) was altered after it was signed: its signature does not match",
                               hint: "do not restore it; check the NAS and pick another backup (`akbackup list`)")
        case .untrusted:
            guard request.trustUnsigned else {
                let signer = manifest.validSigner
                throw ErrorMessage(id: request.id, code: .untrusted,
                                   message: "\(request.artifact) is signed by \(signer?.fingerprint ?? "an unknown key"), a key this agent does not trust",
                                   hint: "if that is the key \(context.hostName) had before it was rebuilt, trust it on \(context.hostName): `sudo akbackup-agent trust-key \(signer?.text ?? "KEY")`; otherwise do not restore it")
            }
            return Provenance(manifest: nil, size: request.size, sha256: request.sha256)
        case .unsigned:
            guard request.trustUnsigned else {
                throw ErrorMessage(id: request.id, code: .untrusted, message: "\(request.artifact) carries no agent signature", hint: unsignedHint)
            }
            return Provenance(manifest: nil, size: request.size, sha256: request.sha256)
        }
    }

    /// A restore test of the files: unpacked into scratch in the state directory, checked, removed.
    func testFiles(_ member: FilesMember, spool: Spool, stamp: String) -> String? {
        let scratch = (context.config.stateDir as NSString).appendingPathComponent("files-test-\(stamp)")
        defer { try? context.files.removeTree(scratch) }
        guard mkdir(scratch, 0o700) == 0 else { return "cannot create \(scratch): \(String(cString: strerror(errno)))" }
        do {
            _ = try FilesArchive.unpack(read: { try spool.readAll($0) }, into: scratch, mounts: member.mounts)
        } catch {
            return "Authentik's files do not unpack: \((error as? HintedError)?.summary ?? "\(error)")"
        }
        let problems = FilesArchive.check(unpackedAt: scratch, against: member.mounts)
        return problems.isEmpty ? nil : "Authentik's files differ from the manifest: " + problems.prefix(3).joined(separator: "; ")
    }

    /// The artifact's data stream, into the spool; then size and hash must be what was promised.
    func receive(into spool: Spool, id: UInt64, expected: Provenance, session: ServerSession, stream: String? = nil) throws {
        guard let first = try session.receive(), let header = first.message(DataHeader.self), header.id == id,
              stream == nil || header.stream == stream else {
            throw ProtocolError.outOfSequence("expected the \(stream ?? "artifact")'s data for restore \(id)")
        }
        while true {
            guard let item = try session.receive() else {
                throw TransportError(.io, host: "controller", "the link was lost while receiving the artifact", hint: "nothing was changed")
            }
            switch item {
            case .chunk(let bytes):
                guard spool.size + Int64(bytes.count) <= expected.size else {
                    throw ErrorMessage(id: id, code: .untrusted, message: "the artifact is longer than the \(expected.size) bytes its manifest describes",
                                       hint: "it is not the file the agent made; nothing was changed")
                }
                try spool.append(bytes)
            case .endOfData:
                let digest = spool.digest()
                guard spool.size == expected.size, digest == expected.sha256 else {
                    throw ErrorMessage(id: id, code: .untrusted,
                                       message: "the artifact received is not the one described: \(spool.size) bytes with sha256 \(digest.prefix(12))…, expected \(expected.size) bytes with \(expected.sha256.prefix(12))…",
                                       hint: "it was damaged or altered on the way or on the NAS; nothing was changed (`akbackup verify` checks the NAS's copy)")
                }
                return
            case .message(let m):
                throw ProtocolError.outOfSequence("\(m.type) inside the artifact's data")
            }
        }
    }

    private func healthTimeout(_ asked: Int) -> TimeInterval {
        TimeInterval(min(asked, context.config.maxHealthTimeout))
    }

    private func answer(_ session: ServerSession, _ result: RestoreResult) {
        context.log("\(result.receipt.outcome.rawValue): \(result.receipt.message)")
        do {
            try session.send(result)
        } catch {
            // The controller is gone; the work is done either way and the log says how it ended.
            context.log("could not report the result to the controller: \(error)")
        }
    }

    private func dropLeftovers(_ db: DatabaseServer) throws {
        // Only under the lock: no other restore can be using them.
        for leftover in try db.ownDatabases() where leftover.name.hasPrefix("authentik_restore_") || leftover.name.hasPrefix("authentik_restoretest_") {
            context.log("dropping leftover \(leftover.name)")
            try db.dropDatabase(leftover.name)
        }
    }

    /// Refuses when the data volume cannot hold a second copy; a warning when it cannot be told.
    private func roomForCopy(db: DatabaseServer, manifest: Manifest?) throws -> String? {
        guard let available = db.freeBytes(), let liveSize = try? db.databaseSize(db.liveDatabase) else {
            return "could not tell the free space of the database volume"
        }
        let base = max(liveSize, manifest?.uncompressedSize ?? 0)
        let needed = base + base / 10
        guard available >= needed else {
            throw ErrorMessage(id: nil, code: .noSpace,
                               message: "the database volume has \(ByteFormat.human(available)) free; a staging copy needs about \(ByteFormat.human(needed))",
                               hint: "free space, or use `akbackup restore --replace` (drop and recreate, after an undo copy on this host)")
        }
        return nil
    }
}

extension StepLog {
    /// A replay step: its failure is the step's detail, not a thrown error.
    mutating func replay(_ name: String, _ body: () -> String?) -> String? {
        let start = Date()
        let failure = body()
        record(name, ok: failure == nil, detail: failure, since: start)
        return failure
    }
}

/// Authentik versions are calendar versions: 2025.10.1, 2024.12.3-rc1.
enum AuthentikVersion {
    static func compare(_ a: String, _ b: String) -> ComparisonResult {
        let pa = a.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        let pb = b.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        for i in 0..<max(pa.count, pb.count) {
            let x = i < pa.count ? pa[i] : 0, y = i < pb.count ? pb[i] : 0
            if x != y { return x < y ? .orderedAscending : .orderedDescending }
        }
        return .orderedSame
    }
}
