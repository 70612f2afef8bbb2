import AKBase
import AKProtocol
import Foundation
import ProtocolSession
import Transport

/// What the operator asked for.
public struct RestoreOptions: Sendable {
    public var artifact = "latest"
    public var mode: RestoreMode = .swap
    /// Restore a dump no trusted agent key signed (made by hand, or from a key the agent does not trust).
    public var trustUnsigned = false
    public var force = false
    public var healthTimeout = 120
    /// The database and Authentik's files (when the set has them), or the database only (`--db-only`).
    public var scope: RestoreScope = .all
    public init() {}
}

/// What the operator is shown before anything changes, and asked to confirm.
public struct RestorePlan: Sendable {
    public var artifact: ArtifactInfo
    /// What the NAS read when it verified the file now.
    public var verified: VerifyResult
    /// The verdict on the manifest's signature against the agent's own trusted keys.
    public var signature: SignatureStatus
    public var facts: AgentFacts
    public var mode: RestoreMode
    /// Authentik's files that go along (a trusted set's files member, unless --db-only).
    public var files: FilesMember? {
        guard signature == .trusted, mode != .replace, scope != .database else { return nil }
        return verified.manifest?.files
    }
    public var scope: RestoreScope = .all

    /// The size and hash the agent must see: the signed manifest's, or (unsigned) what the NAS read.
    public var expectedSize: Int64 { signature == .trusted ? verified.manifest!.size : verified.size }
    public var expectedSHA256: String { signature == .trusted ? verified.manifest!.sha256 : verified.sha256 }

    public func render() -> String {
        let m = verified.manifest
        let database = facts.database
        let services = facts.appServices.joined(separator: " and ")
        var out = "Restore plan\n"
        out += "  artifact          \(artifact.name) (\(ByteFormat.human(verified.size)), sha256 \(verified.sha256.prefix(12))…)\n"
        switch signature {
        case .trusted:
            out += "  signed by         \(m?.validSigner?.fingerprint ?? "?") (an agent key \(m?.source.host ?? "infra-core") trusts)\n"
        case .untrusted:
            out += "  signed by         \(m?.validSigner?.fingerprint ?? "?") — NOT a key the agent trusts; restoring because of --trust-unsigned\n"
        case .unsigned, .invalid:
            out += "  signed by         nobody — restoring because of --trust-unsigned: checked against the hash the NAS read and by the replay filter only\n"
        }
        out += "  made              \(m?.startedAt ?? artifact.modifiedAt) on \(m?.source.host ?? "unknown host")\n"
        out += "  its Authentik     \(m?.source.authentikVersion ?? "unknown")\n"
        out += "  running Authentik \(facts.authentikVersion ?? "unknown")\n"
        if let m, signature == .trusted {
            let rows = m.rowCounts.values.reduce(0, +)
            out += "  content           \(m.rowCounts.count) tables, \(rows) rows"
            if let users = m.rowCounts["public.authentik_core_user"] { out += ", \(users) users" }
            out += "\n"
        }
        if let f = verified.manifest?.files {
            let what = f.mounts.map { "\($0.containerPath) \($0.files) files \(ByteFormat.human($0.bytes))" }.joined(separator: ", ")
            if let files {
                out += "  Authentik's files \(what)\n"
                out += mode == .test ? "                    unpacked into scratch on infra-core and checked against the manifest\n"
                    : "                    unpacked beside the live directories while Authentik runs, swapped in with the database;\n                    the current ones are kept for --undo\n"
            } else {
                out += "  Authentik's files \(what): NOT restored (\(scope == .database ? "--db-only" : mode == .replace ? "--replace restores the database only" : "the set is not signed by a trusted key"))\n"
            }
        }
        switch mode {
        case .swap where scope == .files:
            out += "  how               only Authentik's files: \(services) stop for a few seconds while they are swapped in;\n"
            out += "                    the database is not touched\n"
        case .swap:
            out += "  how               check the bytes on infra-core, replay into a staging database while Authentik runs, validate, then swap:\n"
            out += "                    \(services) stop for a few seconds; the current \(database) is kept for --undo\n"
        case .replace:
            out += "  how               check the bytes, keep an undo copy of \(database) on infra-core, stop \(services),\n"
            out += "                    DROP and recreate \(database), replay, start: downtime lasts the whole replay\n"
        case .test:
            out += "  how               check the bytes on infra-core, replay into a scratch database, validate, drop it; nothing live changes\n"
        }
        return out
    }
}

/// The controller's half of restore, restore-test and undo: preflight on the NAS, plan, stream the
/// artifact NAS → agent, and keep the agent's signed receipt on the NAS and locally.
public struct RestoreRunner {
    public var sessions: HostSessions
    public var options: RestoreOptions
    public var archive: ReceiptArchive

    public init(sessions: HostSessions, options: RestoreOptions, archive: ReceiptArchive = ReceiptArchive()) {
        self.sessions = sessions
        self.options = options
        self.archive = archive
    }

    /// Checks the artifact on the NAS (hash, gzip, trailer, signature) and returns the plan. Changes nothing.
    public func plan() throws -> RestorePlan {
        let receiver = try sessions.receiver()
        let verified = try receiver.call(VerifyRequest(id: receiver.makeID(), name: options.artifact), expecting: VerifyResult.self)
        guard verified.ok || (options.scope == .database && verified.onlyFilesFailed) else {
            if verified.onlyFilesFailed {
                throw RemoteError(host: receiver.host, code: .failed,
                                  message: "\(verified.name) is not restorable as a whole: \(verified.reason ?? "its files member failed"); nothing was changed",
                                  hint: "its database dump is whole: restore it alone with --db-only, or pick another backup (`akbackup list`)")
            }
            throw RemoteError(host: receiver.host, code: .failed,
                              message: "\(verified.name) is CORRUPT: \(verified.reason ?? "unknown reason"); nothing was changed",
                              hint: "pick another backup (`akbackup list`) and run `akbackup verify NAME` on it")
        }
        let facts = try sessions.agentFacts()
        let trusted = facts.trustedKeys.compactMap { AgentPublicKey(text: $0) }
        let signature = verified.manifest?.signatureStatus(trusting: trusted) ?? .unsigned
        switch signature {
        case .trusted:
            break
        case .invalid:
            throw Failure("\(verified.name)'s manifest was altered after the agent signed it; nothing was changed",
                          hint: "do not restore it; check the NAS and pick another backup (`akbackup list`)")
        case .untrusted where !options.trustUnsigned:
            let signer = verified.manifest?.validSigner
            throw Failure("\(verified.name) is signed by \(signer?.fingerprint ?? "an unknown key"), which \(sessions.config.agent.host)'s agent does not trust; nothing was changed",
                          hint: "if that is the key \(sessions.config.agent.host) had before it was rebuilt, trust it there: `sudo akbackup-agent trust-key \(signer?.text ?? "KEY")`")
        case .unsigned where !options.trustUnsigned:
            throw Failure("\(verified.name) carries no agent signature (made by hand?); nothing was changed",
                          hint: "pass --trust-unsigned to restore it anyway: it is then checked against the hash the NAS read now, and by the agent's replay filter")
        default:
            break
        }
        let artifact = ArtifactInfo(name: verified.name, size: verified.size, modifiedAt: verified.manifest?.finishedAt ?? "unknown",
                                    manifest: verified.manifest, signature: signature)
        let plan = RestorePlan(artifact: artifact, verified: verified, signature: signature, facts: facts, mode: options.mode, scope: options.scope)
        if options.scope == .files, plan.files == nil {
            throw Failure("\(verified.name) holds no files of Authentik\(signature == .trusted ? "" : " that a trusted agent key signed"); nothing was changed",
                          hint: "restore its database without --files-only, or pick a backup with files (`akbackup list`)")
        }
        return plan
    }

    /// Runs the restore the plan describes. Returns the agent's receipt (also stored on the NAS and locally).
    public func execute(_ plan: RestorePlan, progress: ((String) -> Void)? = nil) throws -> Receipt {
        let receiver = try sessions.receiver()
        let agent = try sessions.agent()
        // The NAS opens the artifact first, so the bytes are on their way when the agent asks.
        let fetchID = receiver.makeID()
        let withFiles = plan.files != nil
        try receiver.send(FetchRequest(id: fetchID, name: plan.artifact.name, files: withFiles))
        let fetch = try receiver.expect(FetchStarted.self, id: fetchID)
        guard fetch.name == plan.artifact.name, fetch.size == plan.verified.size, !withFiles || fetch.filesSize == plan.files?.size else {
            throw RemoteError(host: receiver.host, code: .failed, message: "\(plan.artifact.name) changed on the NAS since it was verified",
                              hint: "run `akbackup verify \(plan.artifact.name)` and try again")
        }
        let restoreID = agent.makeID()
        try agent.send(RestoreRequest(id: restoreID, mode: options.mode, artifact: plan.artifact.name,
                                      size: plan.expectedSize, sha256: plan.expectedSHA256,
                                      manifest: plan.verified.manifest, trustUnsigned: options.trustUnsigned,
                                      force: options.force, healthTimeout: options.healthTimeout,
                                      requestedBy: RequestedBy(user: NSUserName(), host: ProcessInfo.processInfo.hostName),
                                      scope: withFiles ? plan.scope : .database))
        let ready = try agent.expect(RestoreReady.self, id: restoreID)
        // Warnings are shown whatever the output format: they are about what is about to change.
        for w in ready.warnings {
            if let progress { progress("warning: \(w)") } else { FileHandle.standardError.write(Data("warning: \(Terminal.safe(w))\n".utf8)) }
        }
        progress?("sending \(plan.artifact.name) to \(agent.remoteHello?.host ?? agent.host), which checks it before anything changes")
        try relay(from: receiver, fetchID: fetchID, to: agent, restoreID: restoreID)
        switch (options.mode, plan.scope) {
        case (.test, _): progress?("replaying into a scratch database and validating")
        case (_, .files): progress?("unpacking Authentik's files beside the live ones, then swapping them in")
        default: progress?("replaying into \(ready.targetDatabase) and validating")
        }
        let result = try agent.expect(RestoreResult.self, id: restoreID) { p in
            progress?("  replayed \(ByteFormat.human(p.bytes)) of \(ByteFormat.human(plan.expectedSize))")
        }
        archive.record(result.receipt, trustedKeys: plan.facts.trustedKeys.compactMap { AgentPublicKey(text: $0) },
                       receiver: receiver, progress: progress)
        return result.receipt
    }

    /// `akbackup restore --undo`.
    public func undo() throws -> Receipt {
        let agent = try sessions.agent()
        let facts = try sessions.agentFacts()
        let result = try agent.call(UndoRequest(id: agent.makeID(), healthTimeout: options.healthTimeout,
                                                requestedBy: RequestedBy(user: NSUserName(), host: ProcessInfo.processInfo.hostName)),
                                    expecting: RestoreResult.self)
        archive.record(result.receipt, trustedKeys: facts.trustedKeys.compactMap { AgentPublicKey(text: $0) },
                       receiver: try? sessions.receiver(), progress: nil)
        return result.receipt
    }

    /// Moves the NAS's artifact frames to the agent; the agent checks size and hash as the stream ends.
    private func relay(from receiver: ClientSession, fetchID: UInt64, to agent: ClientSession, restoreID: UInt64) throws {
        var sending = false
        while true {
            let item = try receiver.receive(context: "reading the artifact")
            switch item {
            case .chunk(let bytes):
                try agent.sendChunk(bytes)
            case .endOfData:
                try agent.endData()
                sending = false
            case .message(let m):
                if let h = m.as(DataHeader.self), h.id == fetchID, !sending {
                    try agent.send(DataHeader(id: restoreID, stream: h.stream == "files" ? "files" : "artifact"))
                    sending = true
                } else if let r = m.as(FetchResult.self), r.id == fetchID, !sending {
                    return
                } else if let e = m.as(ErrorMessage.self) {
                    // The agent's spool never reaches the promised hash: it changes nothing.
                    if sending { try? agent.endData() }
                    throw RemoteError(host: receiver.host, e)
                } else {
                    throw receiver.unexpected(m, wanted: "artifact data")
                }
            }
        }
    }
}

/// Where receipts are kept: `~/.local/state/akbackup/receipts` on this machine first, then the NAS.
/// The operation is over either way, so a failure here is a warning, never a failed restore.
public struct ReceiptArchive: Sendable {
    public var directory: String

    public init(directory: String = ReceiptArchive.defaultDirectory()) {
        self.directory = directory
    }

    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let x = environment["XDG_STATE_HOME"], !x.isEmpty { return x + "/akbackup/receipts" }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.local/state/akbackup/receipts"
    }

    /// `<operation>-<startedAt without ":">-<outcome>-<8 hex>.json`
    public static func name(for receipt: Receipt) -> String {
        let stamp = receipt.startedAt.replacingOccurrences(of: ":", with: "")
        return "\(receipt.operation)-\(stamp)-\(receipt.outcome.rawValue)-\(UUID().uuidString.prefix(8).lowercased()).json"
    }

    public func record(_ receipt: Receipt, trustedKeys: [AgentPublicKey], receiver: ClientSession?, progress: ((String) -> Void)?) {
        let warn: (String) -> Void = { FileHandle.standardError.write(Data("warning: \(Terminal.safe($0))\n".utf8)) }
        if receipt.signatureStatus(trusting: trustedKeys) != .trusted {
            warn("the agent's receipt is not signed by a key it trusts: it will not count as evidence")
        }
        let name = ReceiptArchive.name(for: receipt)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try FileIO.writeAtomically(directory + "/" + name, bytes: [UInt8](try encoder.encode(receipt)), mode: 0o600, replace: false)
        } catch {
            warn("could not keep the receipt in \(directory): \((error as? HintedError)?.summary ?? "\(error)")")
        }
        guard let receiver else {
            warn("the receipt was not stored on the NAS (no connection); it is in \(directory)/\(name)")
            return
        }
        do {
            _ = try receiver.call(ReceiptStore(id: receiver.makeID(), name: name, receipt: receipt))
        } catch let e as HintedError {
            warn("the receipt was not stored on the NAS: \(e.summary); it is in \(directory)/\(name)")
        } catch {
            warn("the receipt was not stored on the NAS: \(error); it is in \(directory)/\(name)")
        }
    }
}

extension Receipt {
    public func summary() -> String {
        var out = "\(operation): \(outcome.rawValue.uppercased())"
        if let a = artifact { out += "  \(a)" }
        out += "\n  \(message)\n"
        if let d = downtimeSeconds { out += String(format: "  downtime %.1f s\n", d) }
        if let v = validation {
            out += "  validation: \(v.ok ? "OK" : "FAILED"), \(v.rowCounts.count) tables"
            if let kinds = v.schemaChecked { out += " and \(kinds.count) kinds of schema objects" }
            out += " checked"
            if !v.problems.isEmpty { out += ": " + v.problems.prefix(3).joined(separator: "; ") }
            out += "\n"
        }
        for step in steps {
            let name = step.name.count >= 48 ? step.name : step.name.padding(toLength: 48, withPad: " ", startingAt: 0)
            out += "    \(step.ok ? "ok  " : "FAIL") \(name) "
                + String(format: "%6.1f s", step.seconds) + (step.detail.map { "  \($0)" } ?? "") + "\n"
        }
        if let s = signature, let key = AgentPublicKey(text: s.key) { out += "  signed by the agent key \(key.fingerprint)\n" }
        return out
    }
}
