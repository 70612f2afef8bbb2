import AKBase
import AKProtocol
import Foundation
import ProcessRunner
#if canImport(Glibc)
import Glibc
#endif

/// One heartbeat ping: the full URL (a secret) and an optional text body.
public struct PingRequest: Equatable, Sendable {
    public var url: String
    public var body: String?
    /// Seconds one attempt may take.
    public var timeout: Int

    public init(url: String, body: String?, timeout: Int) {
        self.url = url
        self.body = body
        self.timeout = timeout
    }
}

/// Why a ping was not delivered. `summary` may quote the URL; the notifier redacts it.
public struct PingFailure: Error, Equatable, Sendable {
    public var summary: String
    /// Set when the operator can fix it (curl missing); a refused or timed-out ping needs none.
    public var hint: String?

    public init(_ summary: String, hint: String? = nil) {
        self.summary = summary
        self.hint = hint
    }
}

/// Delivers a ping over HTTP. The seam lets tests script the network.
public protocol PingSender: Sendable {
    /// Nil when the server took it.
    func send(_ request: PingRequest) -> PingFailure?
}

/// Heartbeats in the healthchecks.io convention, for the scheduled jobs (`backup`, `restore-test`):
/// `URL/start` when the run begins, the bare `URL` when it succeeds, `URL/fail` when it fails (any
/// non-zero exit), the last of the run's output (at most `maxBody` bytes) as the POST body. A silent
/// check (no success ping in its period) is what alerts; a ping that cannot be sent is a warning
/// on stderr and never changes the run's exit code. The URL is a secret — anyone who has it can
/// fake the heartbeat — so warnings show only its scheme and host.
public struct Notifier: Sendable {
    public enum Event: Equatable, Sendable {
        case start, success, failure
        /// Appended to the configured URL's path.
        var suffix: String {
            switch self {
            case .start: return "/start"
            case .success: return ""
            case .failure: return "/fail"
            }
        }
    }

    /// healthchecks.io keeps the first 100 kB of a body; the tail of a run's output is what matters.
    public static let maxBody = 10_000

    let url: String
    let timeout: Int
    let sender: PingSender
    let warn: @Sendable (String) -> Void

    /// Nil when no ping URL is configured.
    public init?(config: NotifyConfig, sender: PingSender = CurlPingSender(),
                 warn: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) {
        guard let url = config.pingURL else { return nil }
        self.url = url
        self.timeout = config.pingTimeout
        self.sender = sender
        self.warn = warn
    }

    /// Sends one ping; never throws. Returns whether it was delivered (for tests).
    @discardableResult
    public func ping(_ event: Event, body: String? = nil) -> Bool {
        let request = PingRequest(url: Notifier.url(url, suffix: event.suffix), body: body.map(Notifier.tail), timeout: timeout)
        guard let failure = sender.send(request) else { return true }
        let what = event == .start ? "start" : (event == .success ? "success" : "failure")
        var text = "warning: heartbeat ping (\(what)) to \(Notifier.redact(url)) failed: \(redacting(failure.summary))"
        if let hint = failure.hint { text += "\nhint: \(hint)" }
        warn(Terminal.safe(text))
        return false
    }

    /// The configured URL with `suffix` added to its path (before any query string).
    static func url(_ base: String, suffix: String) -> String {
        guard !suffix.isEmpty else { return base }
        let q = base.firstIndex(of: "?") ?? base.endIndex
        var path = String(base[..<q])
        while path.hasSuffix("/") { path.removeLast() }
        return path + suffix + base[q...]
    }

    /// `https://hc-ping.com/…`: the scheme and host only.
    public static func redact(_ url: String) -> String {
        guard let c = URLComponents(string: url), let scheme = c.scheme, let host = c.host else { return "the ping URL" }
        return "\(scheme)://\(host)\(c.port.map { ":\($0)" } ?? "")/…"
    }

    private func redacting(_ message: String) -> String {
        var m = message
        let path = URLComponents(string: url)?.path ?? ""
        for secret in [url, path].filter({ $0.count > 1 }) { m = m.replacingOccurrences(of: secret, with: Notifier.redact(url)) }
        return m
    }

    /// The last `maxBody` bytes, starting at a line when one starts there.
    static func tail(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard bytes.count > maxBody else { return text }
        var cut = Array(bytes.suffix(maxBody))
        if let nl = cut.firstIndex(of: 0x0A), nl < cut.count - 1 { cut.removeFirst(nl + 1) }
        return String(decoding: cut, as: UTF8.self)
    }

    /// An http(s) URL with a host, without spaces, control characters, quotes or backslashes (no
    /// ping URL has them; the config curl reads would have to escape them).
    public static func isUsableURL(_ s: String) -> Bool {
        guard let c = URLComponents(string: s), let scheme = c.scheme?.lowercased(), scheme == "https" || scheme == "http",
              let host = c.host, !host.isEmpty else { return false }
        return !s.unicodeScalars.contains { $0.value <= 0x20 || $0.value == 0x7F || $0 == "\"" || $0 == "\\" }
    }
}

/// Sends pings with curl (on every Debian; FoundationNetworking would add libcurl to the static
/// binary). The URL is a secret, so it never appears in curl's argv (which every local user can read
/// in /proc): curl reads it, and the body, from a config on its stdin (`--config -`).
public struct CurlPingSender: PingSender {
    public var curl: String
    /// Added to curl's environment (tests: no proxy for 127.0.0.1).
    public var environment: [String: String]

    public init(curl: String = "curl", environment: [String: String] = [:]) {
        self.curl = curl
        self.environment = environment
    }

    /// curl's argv: options only, nothing secret. `-q` first: no ~/.curlrc changes what is sent.
    public static func arguments(curl: String = "curl", timeout: Int, hasBody: Bool) -> [String] {
        var argv = [curl, "-q", "--config", "-", "--silent", "--show-error", "--fail", "--proto", "=http,https",
                    "--max-time", String(timeout), "--retry", "2", "--retry-max-time", String(timeout * 2),
                    "--output", "/dev/null", "--user-agent", "akbackup/\(AKVersion.software)"]
        if hasBody { argv += ["--header", "Content-Type: text/plain; charset=utf-8"] }
        return argv
    }

    /// The config curl reads from stdin: `url = "…"` and, with a body, `data-raw = "…"` (raw: a body
    /// starting with @ is not a file name). Quoted values escape backslash, quote and line ends.
    public static func config(for request: PingRequest) -> String {
        var text = "url = \"\(quote(request.url))\"\n"
        if let body = request.body { text += "data-raw = \"\(quote(Terminal.safe(body)))\"\n" }
        return text
    }

    static func quote(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    public func send(_ request: PingRequest) -> PingFailure? {
        let argv = CurlPingSender.arguments(curl: curl, timeout: request.timeout, hasBody: request.body != nil)
        do {
            // Three attempts of `timeout` seconds and curl's back-off between them, with room to spare.
            let result = try ChildProcess.run(argv, environment: environment, stdin: Array(CurlPingSender.config(for: request).utf8),
                                              timeout: TimeInterval(request.timeout * 3 + 10))
            if result.timedOut { return PingFailure("curl timed out") }
            guard result.status == 0 else {
                let said = result.stderrLastLine.trimmingCharacters(in: .whitespaces)
                return PingFailure(said.isEmpty ? "curl: \(result.termination.summary)" : said)
            }
            return nil
        } catch let e as SpawnError {
            return PingFailure("cannot start \(curl): \(String(cString: strerror(e.code)))",
                               hint: "install curl (apt-get install curl), or remove ping_url from [notify] in the config")
        } catch {
            return PingFailure("\(error)")
        }
    }
}
