import AKProtocol
import Foundation
import ProtocolSession
import Transport

/// What the operator asked for.
public struct RestoreOptions {
    public var artifact = "latest"
    public var mode: RestoreMode = .swap
    public var allowNoManifest = false
    public var force = false
    public var healthTimeout = 120
    public init() {}
}

/// What the operator is shown before anything changes, and asked to confirm.
public struct RestorePlan {
    public var artifact: ArtifactInfo
    /// The SHA-256 the NAS read when it verified the file: the stream must have it, manifest or not.
    public var verifiedSHA256: String
    public var runningAuthentikVersion: String?
    public var mode: RestoreMode
    public var services: [String]

    public func render(database: String) -> String {
        let m = artifact.manifest
        var out = "Restore plan\n"
        out += "  artifact          \(artifact.name) (\(ByteFormat.human(artifact.size)), sha256 \(m.map { String($0.sha256.prefix(12)) + "…" } ?? "unknown: no manifest"))\n"
        out += "  made              \(m?.startedAt ?? artifact.modifiedAt) on \(m?.source.host ?? "unknown host")\n"
        out += "  its Authentik     \(m?.source.authentikVersion ?? "unknown")\n"
        out += "  running Authentik \(runningAuthentikVersion ?? "unknown")\n"
        if let m {
            let rows = m.rowCounts.values.reduce(0, +)
            out += "  content           \(m.rowCounts.count) tables, \(rows) rows"
            if let users = m.rowCounts["public.authentik_core_user"] { out += ", \(users) users" }
            out += "\n"
        }
        switch mode {
        case .swap:
            out += "  how               replay into a staging database while Authentik runs, validate, then swap:\n"
            out += "                    \(services.joined(separator: " and ")) stop for a few seconds; the current \(database) is kept for --undo\n"
        case .replace:
            out += "  how               take a fresh backup (the undo point), stop \(services.joined(separator: " and ")),\n"
            out += "                    DROP and recreate \(database), replay, start: downtime lasts the whole replay\n"
        case .test:
            out += "  how               replay into a scratch database, validate, drop it; nothing live changes\n"
        }
        return out
    }
}

/// The controller's half of restore, restore-test and undo: preflight on the NAS, plan, stream the
/// artifact NAS → agent, and record a receipt on the NAS and locally.
public struct RestoreRunner {
    public var config: ControllerConfig
    public var connector: Connector
    public var options: RestoreOptions
    public var stateDirectory: String

    public init(config: ControllerConfig, connector: Connector, options: RestoreOptions, stateDirectory: String = RestoreRunner.defaultStateDirectory()) {
        self.config = config
        self.connector = connector
        self.options = options
        self.stateDirectory = stateDirectory
    }

    public static func defaultStateDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let x = environment["XDG_STATE_HOME"], !x.isEmpty { return x + "/akbackup" }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.local/state/akbackup"
    }

    /// Checks the artifact on the NAS (hash, gzip, trailer) and returns the plan. Changes nothing.
    public func plan() throws -> RestorePlan {
        let verified = try Catalog.verify(name: options.artifact, config: config, connector: connector)
        guard verified.ok else {
            throw RemoteError(host: config.receiver.host, code: .failed,
                              message: "\(verified.name) is CORRUPT: \(verified.reason ?? "unknown reason"); nothing was changed",
                              hint: "pick another backup (`akbackup list`) and run `akbackup verify NAME` on it")
        }
        let listing = try Catalog.list(config: config, connector: connector)
        guard var artifact = listing.artifacts.first(where: { $0.name == verified.name }) else {
            throw RemoteError(host: config.receiver.host, code: .notFound, message: "\(verified.name) disappeared from the NAS", hint: "run `akbackup list`")
        }
        artifact.manifest = verified.manifest
        if artifact.manifest == nil && !options.allowNoManifest {
            throw RemoteError(host: config.receiver.host, code: .failed,
                              message: "\(artifact.name) has no manifest (made by hand?): row counts cannot be checked",
                              hint: "pass --no-manifest to restore it anyway (validation then only checks the key tables)")
        }
        let agent = try connector.connect(role: .agent, remote: config.agent)
        defer { agent.session.close() }
        let checks = try agent.session.probe().checks
        let running = checks.first(where: { $0.name == "authentik version" })?.detail
        return RestorePlan(artifact: artifact, verifiedSHA256: verified.sha256, runningAuthentikVersion: running?.hasPrefix("unknown") == true ? nil : running,
                           mode: options.mode, services: ["authentik-server", "authentik-worker"])
    }

    /// Runs the restore the plan describes. Returns the receipt (also stored on the NAS and locally).
    public func execute(_ plan: RestorePlan, progress: ((String) -> Void)? = nil) throws -> Receipt {
        let began = Date()
        if options.mode == .replace {
            progress?("taking a fresh backup as the undo point")
            let undo = try BackupRunner(config: config, connector: connector).run()
            progress?("undo point: \(undo.name)")
        }
        let receiver = try connector.connect(role: .receiver, remote: config.receiver).session
        defer { receiver.close() }
        let agent = try connector.connect(role: .agent, remote: config.agent).session
        defer { agent.close() }

        // The NAS opens the artifact first: in --replace mode the agent drops live right after
        // restore.ready, so the bytes must already be on their way.
        let fetchID = receiver.makeID()
        try receiver.send(.fetch(FetchRequest(id: fetchID, name: plan.artifact.name)))
        _ = try receiver.expect("fetch.started", id: fetchID) { if case .fetchStarted(let m) = $0 { return m } else { return nil } }

        let restoreID = agent.makeID()
        let manifest = plan.artifact.manifest
        // Without a manifest the hash the NAS read during the preflight stands in for it, so the bytes
        // the agent replays are always checked end to end before it commits.
        try agent.send(.restore(RestoreRequest(id: restoreID, mode: options.mode, artifact: plan.artifact.name,
                                               sha256: manifest?.sha256 ?? plan.verifiedSHA256,
                                               manifest: manifest, force: options.force, healthTimeout: options.healthTimeout)))
        let ready: RestoreReady = try agent.expect("restore.ready", id: restoreID) {
            if case .restoreReady(let m) = $0 { return m } else { return nil }
        }
        for w in ready.warnings { progress?("warning: \(w)") }
        progress?("streaming \(plan.artifact.name) into \(ready.targetDatabase)")

        try relay(from: receiver, fetchID: fetchID, to: agent, restoreID: restoreID)
        progress?("validating and \(options.mode == .test ? "dropping the scratch database" : "swapping")")
        let result: RestoreResult = try agent.expect("restore.result", id: restoreID) {
            if case .restoreResult(let m) = $0 { return m } else { return nil }
        }
        let receipt = makeReceipt(operation: options.mode == .test ? "restore-test" : "restore", artifact: plan.artifact.name,
                                  sha256: manifest?.sha256 ?? plan.verifiedSHA256, agentHost: agent.remoteHello?.host ?? config.agent.host,
                                  began: began, result: result)
        record(receipt, receiver: receiver, progress: progress)
        return receipt
    }

    /// `akbackup restore --undo`.
    public func undo() throws -> Receipt {
        let began = Date()
        let agent = try connector.connect(role: .agent, remote: config.agent).session
        defer { agent.close() }
        let id = agent.makeID()
        let answer = try agent.call(.undo(UndoRequest(id: id, healthTimeout: options.healthTimeout)))
        guard case .restoreResult(let result) = answer else { throw agent.unexpected(answer, wanted: "restore.result") }
        let receipt = makeReceipt(operation: "undo", artifact: nil, sha256: nil, agentHost: agent.remoteHello?.host ?? config.agent.host,
                                  began: began, result: result)
        let receiver = try? connector.connect(role: .receiver, remote: config.receiver).session
        defer { receiver?.close() }
        record(receipt, receiver: receiver, progress: nil)
        return receipt
    }

    /// Moves the NAS's artifact frames to the agent; the agent checks the hash as the stream ends.
    private func relay(from receiver: ClientSession, fetchID: UInt64, to agent: ClientSession, restoreID: UInt64) throws {
        var sending = false
        while true {
            let item = try receiver.receive(context: "reading the artifact")
            switch item {
            case .message(.data(let h)) where h.id == fetchID:
                try agent.send(.data(DataHeader(id: restoreID, stream: "artifact")))
                sending = true
            case .chunk(let bytes):
                try agent.framed.sendChunk(bytes)
            case .endOfData:
                try agent.framed.endData()
                sending = false
            case .message(.fetchResult(let r)) where r.id == fetchID && !sending:
                return
            case .message(.error(let e)):
                // The agent drops its staging database when the stream ends short of the hash.
                if sending { try? agent.framed.endData() }
                throw RemoteError(host: receiver.host, e)
            case .message(let other):
                throw receiver.unexpected(other, wanted: "artifact data")
            }
        }
    }

    private func makeReceipt(operation: String, artifact: String?, sha256: String?, agentHost: String, began: Date, result: RestoreResult) -> Receipt {
        Receipt(operation: operation, artifact: artifact, sha256: sha256, operatorName: NSUserName(),
                controllerHost: ProcessInfo.processInfo.hostName, agentHost: agentHost, startedAt: Timestamp.string(began),
                finishedAt: Timestamp.now(), steps: result.steps, validation: result.validation,
                downtimeSeconds: result.downtimeSeconds, outcome: result.outcome, message: result.message)
    }

    /// Keeps the receipt locally first, then on the NAS. The operation is over either way, so a
    /// failure here is a warning on stderr, never a failed restore.
    private func record(_ receipt: Receipt, receiver: ClientSession?, progress: ((String) -> Void)?) {
        let stamp = receipt.startedAt.replacingOccurrences(of: ":", with: "")
        let name = "\(receipt.operation)-\(stamp)-\(receipt.outcome)-\(UUID().uuidString.prefix(8).lowercased()).json"
        let warn: (String) -> Void = { FileHandle.standardError.write(Data("warning: \($0)\n".utf8)) }
        let dir = stateDirectory + "/receipts"
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(receipt).write(to: URL(fileURLWithPath: dir + "/" + name), options: .atomic)
        } catch {
            warn("could not keep the receipt in \(dir): \(error.localizedDescription)")
        }
        guard let receiver else {
            warn("the receipt was not stored on the NAS (no connection); it is in \(dir)/\(name)")
            return
        }
        do {
            _ = try receiver.call(.receiptStore(ReceiptStore(id: receiver.makeID(), name: name, receipt: receipt)))
        } catch let e as HintedError {
            warn("the receipt was not stored on the NAS: \(e.summary); it is in \(dir)/\(name)")
        } catch {
            warn("the receipt was not stored on the NAS: \(error); it is in \(dir)/\(name)")
        }
    }
}

extension Receipt {
    public func summary() -> String {
        var out = "\(operation): \(outcome.uppercased())"
        if let a = artifact { out += "  \(a)" }
        out += "\n  \(message)\n"
        if let d = downtimeSeconds { out += String(format: "  downtime %.1f s\n", d) }
        if let v = validation {
            out += "  validation: \(v.ok ? "OK" : "FAILED"), \(v.rowCounts.count) tables checked"
            if !v.problems.isEmpty { out += ": " + v.problems.prefix(3).joined(separator: "; ") }
            out += "\n"
        }
        for step in steps {
            let name = step.name.count >= 48 ? step.name : step.name.padding(toLength: 48, withPad: " ", startingAt: 0)
            out += "    \(step.ok ? "ok  " : "FAIL") \(name) "
                + String(format: "%6.1f s", step.seconds) + (step.detail.map { "  \($0)" } ?? "") + "\n"
        }
        return out
    }
}
