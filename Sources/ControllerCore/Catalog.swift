import AKProtocol
import Foundation
import ProtocolSession

/// `akbackup list` and `akbackup verify`: questions the receiver answers from its directory.
public enum Catalog {
    public static func list(config: ControllerConfig, connector: Connector) throws -> ListResult {
        let session = try connector.connect(role: .receiver, remote: config.receiver).session
        defer { session.close() }
        let answer = try session.call(.list(ListRequest(id: session.makeID())))
        guard case .listResult(let result) = answer else { throw session.unexpected(answer, wanted: "list.result") }
        return result
    }

    public static func verify(name: String, config: ControllerConfig, connector: Connector) throws -> VerifyResult {
        let session = try connector.connect(role: .receiver, remote: config.receiver).session
        defer { session.close() }
        let answer = try session.call(.verify(VerifyRequest(id: session.makeID(), name: name)))
        guard case .verifyResult(let result) = answer else { throw session.unexpected(answer, wanted: "verify.result") }
        return result
    }

    public static func renderList(_ result: ListResult) -> String {
        guard !result.artifacts.isEmpty else { return "no backups yet\n" }
        var rows = [["NAME", "CREATED (UTC)", "SIZE", "SHA256", "AUTHENTIK"]]
        for a in result.artifacts {
            let created = a.manifest?.startedAt ?? a.modifiedAt
            rows.append([a.name, created, ByteFormat.human(a.size),
                         a.manifest.map { String($0.sha256.prefix(12)) } ?? "-",
                         a.manifest == nil ? "(no manifest: made by hand)" : (a.manifest?.source.authentikVersion ?? "unknown")])
        }
        let widths = (0..<rows[0].count).map { col in rows.map { $0[col].count }.max() ?? 0 }
        var out = rows.map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
        if let free = result.freeBytes { out += "\(result.artifacts.count) backup(s); \(ByteFormat.human(free)) free on the NAS\n" }
        return out
    }

    public static func renderVerify(_ r: VerifyResult) -> String {
        if r.ok {
            let what = r.hasManifest ? "hash matches the manifest, gzip intact, dump complete" : "no manifest; gzip intact, dump complete"
            return "OK  \(r.name)  \(ByteFormat.human(r.size))  sha256 \(r.sha256.prefix(12))…  (\(what); \(r.rowCounts.count) tables)\n"
        }
        return "CORRUPT  \(r.name): \(r.reason ?? "unknown reason")\n"
    }
}
