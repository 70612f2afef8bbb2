import AKBase
import AKProtocol
import Foundation
import ProtocolSession
import Transport

/// `akbackup doctor`: every check on every host, each failure with a hint.
public struct DoctorReport: Encodable, Sendable {
    public struct HostReport: Encodable, Sendable {
        public var role: String
        public var host: String
        public var ok: Bool
        public var checks: [Check]
    }

    public var ok: Bool
    public var controller: String
    public var hosts: [HostReport]
}

public enum Doctor {
    public static func run(sessions: HostSessions) -> DoctorReport {
        var hosts: [DoctorReport.HostReport] = []
        for role in [Role.agent, Role.receiver] {
            let remote = sessions.config.remote(role)
            var checks: [Check] = []
            do {
                let connection = try sessions.connection(role)
                checks += connection.transportChecks
                let h = connection.hello
                let same = h.software == AKVersion.software
                checks.append(Check(name: "remote program", ok: true,
                                    detail: "akbackup-\(h.role.rawValue) \(h.software), protocol \(h.protocolVersion), host \(h.host)"
                                        + (same ? "" : " (this controller is \(AKVersion.software))"),
                                    hint: same ? nil : "the protocol matches, but install the same akbackup version everywhere when you can",
                                    warning: same ? nil : true))
                checks += try connection.session.probe().checks
            } catch let e as HintedError {
                checks.append(Check(name: "reach \(role.rawValue)", ok: false, detail: e.summary, hint: e.hint))
            } catch {
                checks.append(Check(name: "reach \(role.rawValue)", ok: false, detail: "\(error)", hint: "run with a working ssh config for \(remote.host)"))
            }
            hosts.append(.init(role: role.rawValue, host: remote.host, ok: checks.allSatisfy(\.ok), checks: checks))
        }
        return DoctorReport(ok: hosts.allSatisfy(\.ok), controller: "akbackup \(AKVersion.software), protocol \(AKVersion.protocolVersion)", hosts: hosts)
    }

    public static func renderText(_ report: DoctorReport) -> String {
        var out = "\(report.controller)\n"
        for host in report.hosts {
            out += "\(host.host) (\(host.role))\n"
            let width = max(16, host.checks.map(\.name.count).max() ?? 0)
            for check in host.checks {
                let mark = !check.ok ? "FAIL" : (check.warning == true ? "WARN" : "ok  ")
                out += "  \(mark)  \(check.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(check.detail)\n"
                if (!check.ok || check.warning == true), let hint = check.hint {
                    out += "        \(String(repeating: " ", count: width))  hint: \(hint)\n"
                }
            }
        }
        out += report.ok ? "all checks passed\n" : "some checks failed\n"
        return out
    }
}

/// Pretty, stable JSON for `--json` output.
public func renderJSON<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    return String(decoding: try! encoder.encode(value), as: UTF8.self)
}
