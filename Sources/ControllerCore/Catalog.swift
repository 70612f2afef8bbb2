import AKBase
import AKProtocol
import Foundation
import ProtocolSession

/// `akbackup list` and `akbackup verify`: questions the receiver answers from its directory.
public enum Catalog {
    /// Every artifact, newest first, fetched a page at a time.
    public static func list(sessions: HostSessions) throws -> ListResult {
        let session = try sessions.receiver()
        var all: [ArtifactInfo] = []
        var last: ListResult?
        repeat {
            let page = try session.call(ListRequest(id: session.makeID(), offset: all.count, limit: ProtocolLimits.maxPage),
                                        expecting: ListResult.self)
            all += page.artifacts
            last = page
            if page.artifacts.isEmpty { break }
        } while all.count < last!.total
        return ListResult(id: last?.id ?? 0, artifacts: all, total: last?.total ?? 0, freeBytes: last?.freeBytes)
    }

    public static func verify(name: String, sessions: HostSessions) throws -> VerifyResult {
        let session = try sessions.receiver()
        return try session.call(VerifyRequest(id: session.makeID(), name: name), expecting: VerifyResult.self)
    }

    public static func renderList(_ result: ListResult) -> String {
        guard !result.artifacts.isEmpty else { return "no backups yet\n" }
        let pins = result.artifacts.contains { $0.pin != nil }
        var rows = [["NAME", "CREATED (UTC)", "SIZE", "FILES", "SHA256", "AUTHENTIK", "SIGNED"] + (pins ? ["PINNED"] : [])]
        for a in result.artifacts {
            let created = a.manifest?.startedAt ?? a.modifiedAt
            // A set is one row: its files member (§15) is a column, not a backup of its own.
            rows.append([a.name, created, ByteFormat.human(a.size), a.manifest?.files.map { ByteFormat.human($0.size) } ?? "-",
                         a.manifest.map { String($0.sha256.prefix(12)) } ?? "-",
                         a.manifest == nil ? "(no manifest: made by hand)" : (a.manifest?.source.authentikVersion ?? "unknown"),
                         signatureWord(a.signature ?? .unsigned)] + (pins ? [a.pin.map { "yes: \($0.reason)" } ?? ""] : []))
        }
        let widths = (0..<rows[0].count).map { col in rows.map { $0[col].count }.max() ?? 0 }
        var out = rows.map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
        out += "\(result.total) backup(s)"
        if let free = result.freeBytes { out += "; \(ByteFormat.human(free)) free on the NAS" }
        return out + "\n"
    }

    static func signatureWord(_ s: SignatureStatus) -> String {
        switch s {
        case .trusted: return "yes"
        case .untrusted: return "UNTRUSTED KEY"
        case .invalid: return "INVALID"
        case .unsigned: return "no"
        }
    }

    public static func renderVerify(_ r: VerifyResult) -> String {
        if r.ok {
            let what = r.hasManifest ? "hash matches the manifest, gzip intact, dump complete" : "no manifest; gzip intact, dump complete"
            var line = "OK  \(r.name)  \(ByteFormat.human(r.size))  sha256 \(r.sha256.prefix(12))…  (\(what); \(r.rowCounts.count) tables; signed: \(signatureWord(r.signature)))\n"
            if let files = r.manifest?.files, let size = r.filesSize {
                line += "OK  \(files.name)  \(ByteFormat.human(size))  sha256 \(r.filesSHA256?.prefix(12) ?? "?")…  (hash matches the manifest, gzip intact; "
                    + files.mounts.map { "\($0.containerPath) \($0.files) files" }.joined(separator: ", ") + ")\n"
            }
            return line
        }
        return "CORRUPT  \(r.name): \(r.reason ?? "unknown reason")\n"
    }
}
