import AKProtocol
import Foundation
import ProtocolSession
import Transport

/// `akbackup doctor`: every check on every host, each failure with a hint.
public struct DoctorReport: Encodable {
    public struct HostReport: Encodable {
        public var role: String
        public var host: String
        public var ok: Bool
        public var checks: [Check]
    }

    public var ok: Bool
    public var hosts: [HostReport]
}

public enum Doctor {
    public static func run(config: ControllerConfig, connector: Connector) -> DoctorReport {
        var hosts: [DoctorReport.HostReport] = []
        for role in [Role.agent, Role.receiver] {
            let remote = config.remote(role)
            var checks: [Check] = []
            do {
                let connection = try connector.connect(role: role, remote: remote)
                defer { connection.session.close() }
                checks += connection.transportChecks
                let h = connection.hello
                checks.append(Check(name: "remote program", ok: true,
                                    detail: "akbackup-\(h.role.rawValue) \(h.software), protocol \(h.protocolVersion), host \(h.host)"))
                checks += try connection.session.probe().checks
            } catch let e as HintedError {
                checks.append(Check(name: "reach \(role.rawValue)", ok: false, detail: e.summary, hint: e.hint))
            } catch {
                checks.append(Check(name: "reach \(role.rawValue)", ok: false, detail: "\(error)", hint: "run with a working ssh config for \(remote.host)"))
            }
            hosts.append(.init(role: role.rawValue, host: remote.host, ok: checks.allSatisfy(\.ok), checks: checks))
        }
        return DoctorReport(ok: hosts.allSatisfy(\.ok), hosts: hosts)
    }

    public static func renderText(_ report: DoctorReport) -> String {
        var out = ""
        for host in report.hosts {
            out += "\(host.host) (\(host.role))\n"
            let width = max(16, host.checks.map(\.name.count).max() ?? 0)
            for check in host.checks {
                let mark = check.ok ? "ok  " : "FAIL"
                out += "  \(mark)  \(check.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(check.detail)\n"
                if !check.ok, let hint = check.hint {
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
