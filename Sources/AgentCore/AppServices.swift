import AKBase
import AKProtocol
import Foundation
import ProcessRunner
#if canImport(Glibc)
import Glibc
#endif

/// Whether Authentik answers, and what it said.
public struct Health: Sendable, Equatable {
    public var ok: Bool
    public var detail: String
    public init(ok: Bool, detail: String) {
        self.ok = ok
        self.detail = detail
    }
}

/// Authentik's app services (server and worker): the other seam of the agent's jobs. The real one
/// (`ComposeApp`) drives `docker compose`; tests use a scripted fake.
public protocol AppServices: Sendable {
    var names: [String] { get }
    func stop() throws
    func start() throws
    /// Polls until both services run and the ready endpoint answers 2xx, or `timeout` passes.
    func waitHealthy(timeout: TimeInterval) -> Health
    /// The Authentik version the running image is, when it says.
    func runningVersion() -> String?
}

/// The Compose stack of the runbook: `docker compose -f FILE -p PROJECT stop|up -d SERVICES`.
public struct ComposeApp: AppServices {
    public let config: AgentConfig

    public init(config: AgentConfig) { self.config = config }

    public var names: [String] { config.appServices }

    func compose(_ action: [String], timeout: TimeInterval = 180) throws {
        let c = config
        let argv = c.composeCommand + ["-f", c.composePath, "-p", c.effectiveComposeProject] + action
        let r = try ChildProcess.run(argv, timeout: timeout)
        guard r.status == 0, !r.timedOut else {
            throw ErrorMessage(id: nil, code: .failed,
                               message: "`\(argv.joined(separator: " "))` failed: \(r.timedOut ? "timed out" : r.stderrLastLine)",
                               hint: "check the stack in \(c.composeDir) (docker compose ps) and compose_command in \(AgentConfig.defaultPath)")
        }
    }

    public func stop() throws { try compose(["stop"] + config.appServices) }
    public func start() throws { try compose(["up", "-d"] + config.appServices) }

    /// `docker inspect` state of a container: ("running", "healthy"), or nil when it does not exist.
    public func containerState(_ name: String) -> (status: String, health: String?)? {
        guard let r = try? ChildProcess.run([config.docker, "inspect", "--format",
                                             "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", name], timeout: 30),
              r.status == 0 else { return nil }
        let parts = r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
        return (parts.first ?? "unknown", parts.count > 1 ? parts[1] : nil)
    }

    public func runningVersion() -> String? {
        let format = "{{index .Config.Labels \"org.opencontainers.image.version\"}}|{{range .Config.Env}}{{println .}}{{end}}"
        guard let r = try? ChildProcess.run([config.docker, "inspect", "--format", format, config.serverContainer], timeout: 30),
              r.status == 0 else { return nil }
        let text = r.stdoutText
        let parts = text.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
        if let label = parts.first, !label.isEmpty, label != "<no value>" { return String(label) }
        for line in text.split(separator: "\n") where line.hasPrefix("AUTHENTIK_VERSION=") {
            return String(line.dropFirst("AUTHENTIK_VERSION=".count))
        }
        return nil
    }

    func isHealthy() -> Health {
        for name in [config.serverContainer, config.workerContainer] {
            guard let state = containerState(name), state.status == "running" else {
                return Health(ok: false, detail: "\(name) is not running")
            }
        }
        guard let url = healthEndpoint() else { return Health(ok: false, detail: "no address for \(config.serverContainer)") }
        guard let code = HTTPProbe.status(host: url.host, port: url.port, path: url.path, timeout: 2) else {
            return Health(ok: false, detail: "\(url.host):\(url.port) does not answer")
        }
        return Health(ok: (200..<300).contains(code), detail: "ready endpoint answered \(code)")
    }

    public func waitHealthy(timeout: TimeInterval) -> Health {
        let deadline = Date().addingTimeInterval(timeout)
        var last = Health(ok: false, detail: "not checked")
        while Date() < deadline {
            last = isHealthy()
            if last.ok { return last }
            usleep(200_000)
        }
        return Health(ok: false, detail: "not healthy after \(Int(timeout)) s: \(last.detail)")
    }

    func healthEndpoint() -> (host: String, port: Int, path: String)? {
        if !config.healthURL.isEmpty, let u = URLComponents(string: config.healthURL), let h = u.host {
            return (h, u.port ?? 80, u.path.isEmpty ? "/" : u.path)
        }
        let format = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
        guard let r = try? ChildProcess.run([config.docker, "inspect", "--format", format, config.serverContainer], timeout: 30),
              r.status == 0,
              let ip = r.stdoutText.split(separator: " ").first(where: { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty })
        else { return nil }
        return (String(ip).trimmingCharacters(in: .whitespacesAndNewlines), 9000, "/-/health/ready/")
    }
}

/// A minimal HTTP/1.0 GET, enough to read a status code with a hard timeout.
enum HTTPProbe {
    static func status(host: String, port: Int, path: String, timeout: TimeInterval) -> Int? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let ai = result else { return nil }
        defer { freeaddrinfo(result) }
        let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: \(host)\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { return nil }
        var buffer = [UInt8](repeating: 0, count: 512)
        var received: [UInt8] = []
        while received.count < 64 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 512, 0) }
            if n <= 0 { break }
            received += buffer[0..<n]
        }
        let line = String(decoding: received, as: UTF8.self)
        let parts = line.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/") else { return nil }
        return Int(parts[1])
    }
}
