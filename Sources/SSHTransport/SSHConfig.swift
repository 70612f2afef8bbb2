import Foundation
import Transport

/// What we need from ssh_config for one host alias, already resolved.
public struct SSHEndpoint: Sendable, Equatable {
    public var alias: String
    public var hostName: String
    public var user: String
    public var port: Int
    public var identityFiles: [String]          // ~ and tokens expanded
    public var identitiesOnly: Bool
    public var identityAgent: String?           // a socket path, "none", or nil for $SSH_AUTH_SOCK
    public var userKnownHostsFiles: [String]
    public var connectTimeout: Int?             // seconds
    public var serverAliveInterval: Int         // seconds, 0 = off
    public var serverAliveCountMax: Int

    public init(alias: String, hostName: String? = nil, user: String? = nil, port: Int = 22,
                identityFiles: [String] = [], identitiesOnly: Bool = false, identityAgent: String? = nil,
                userKnownHostsFiles: [String] = [], connectTimeout: Int? = nil,
                serverAliveInterval: Int = 0, serverAliveCountMax: Int = 3) {
        self.alias = alias
        self.hostName = hostName ?? alias
        self.user = user ?? SSHConfigResolver.localUser()
        self.port = port
        self.identityFiles = identityFiles
        self.identitiesOnly = identitiesOnly
        self.identityAgent = identityAgent
        self.userKnownHostsFiles = userKnownHostsFiles
        self.connectTimeout = connectTimeout
        self.serverAliveInterval = serverAliveInterval
        self.serverAliveCountMax = serverAliveCountMax
    }
}

/// Resolves a host alias the way `ssh` would, since libssh2 does not read ssh_config.
public enum SSHConfigResolver {
    /// Uses `ssh -G` (which applies Host/Match/Include exactly as OpenSSH does) when ssh is
    /// installed, else a small reader of ~/.ssh/config for the keywords we use.
    public static func resolve(alias: String, configFile: String? = nil) throws -> SSHEndpoint {
        if let ssh = findSSH() {
            var argv = [ssh, "-G"]
            if let configFile { argv += ["-F", configFile] }
            argv.append(alias)
            let ch = try SubprocessChannel(arguments: argv, peerName: "ssh -G")
            var out: [UInt8] = []
            do {
                try ch.closeWrite()
                while true {
                    let chunk = try ch.read(maxLength: 65536)
                    if chunk.isEmpty { break }
                    out += chunk
                }
            } catch {
                ch.close()
                throw error
            }
            let t = ch.close()
            guard t.exitStatus == 0 else {
                throw TransportError(.resolve, host: alias,
                                     "ssh -G \(alias) failed (\(t.summary)): \(t.stderrTail.joined(separator: "\n"))",
                                     hint: "check \(configFile ?? "~/.ssh/config") for syntax errors")
            }
            return try parseSSHG(String(decoding: out, as: UTF8.self), alias: alias)
        }
        let file = configFile ?? (homeDirectory() + "/.ssh/config")
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        return try parseConfigFile(text, alias: alias)
    }

    static func findSSH() -> String? {
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/ssh") { return "/usr/bin/ssh" }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let p = "\(dir)/ssh"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// Parses `ssh -G` output: one lowercase `key value` per line, defaults included.
    public static func parseSSHG(_ text: String, alias: String, home: String? = nil, localUser: String? = nil) throws -> SSHEndpoint {
        var values: [String: String] = [:]
        var identityFiles: [String] = []
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard let sp = line.firstIndex(of: " ") else { continue }
            let key = String(line[..<sp]).lowercased()
            let value = String(line[line.index(after: sp)...]).trimmingCharacters(in: .whitespaces)
            if key == "identityfile" { identityFiles.append(value) } else if values[key] == nil { values[key] = value }
        }
        return try endpoint(from: values, identityFiles: identityFiles, alias: alias,
                            home: home ?? homeDirectory(), localUser: localUser ?? self.localUser())
    }

    /// The fallback reader: `Host` blocks with `*`, `?`, `!` patterns; the first value obtained
    /// wins, except IdentityFile, which accumulates. `Match` blocks are skipped (not evaluated).
    public static func parseConfigFile(_ text: String, alias: String, home: String? = nil, localUser: String? = nil) throws -> SSHEndpoint {
        var values: [String: String] = [:]
        var identityFiles: [String] = []
        var active = true
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let (key, value) = splitKeyword(line)
            switch key {
            case "host":
                active = hostMatches(alias, patterns: value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init))
                continue
            case "match":
                active = false
                continue
            default: break
            }
            guard active else { continue }
            if key == "identityfile" { identityFiles.append(unquote(value)) }
            else if values[key] == nil { values[key] = key == "userknownhostsfile" ? value : unquote(value) }
        }
        let home = home ?? homeDirectory()
        if identityFiles.isEmpty {
            identityFiles = ["~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"]
        }
        if values["userknownhostsfile"] == nil { values["userknownhostsfile"] = "~/.ssh/known_hosts ~/.ssh/known_hosts2" }
        return try endpoint(from: values, identityFiles: identityFiles, alias: alias, home: home,
                            localUser: localUser ?? self.localUser())
    }

    private static func splitKeyword(_ line: String) -> (String, String) {
        // `Keyword value` or `Keyword=value`
        var key = ""
        var idx = line.startIndex
        while idx < line.endIndex, !" \t=".contains(line[idx]) { key.append(line[idx]); idx = line.index(after: idx) }
        var rest = line[idx...].drop(while: { $0 == " " || $0 == "\t" })
        if rest.first == "=" { rest = rest.dropFirst().drop(while: { $0 == " " || $0 == "\t" }) }
        return (key.lowercased(), String(rest).trimmingCharacters(in: .whitespaces))
    }

    private static func unquote(_ s: String) -> String {
        if s.count >= 2, s.hasPrefix("\""), s.hasSuffix("\"") { return String(s.dropFirst().dropLast()) }
        return s
    }

    /// OpenSSH Host semantics: any positive match and no negated match.
    public static func hostMatches(_ host: String, patterns: [String]) -> Bool {
        var matched = false
        for p in patterns {
            if p.hasPrefix("!") {
                if globMatch(String(p.dropFirst()), host) { return false }
            } else if globMatch(p, host) {
                matched = true
            }
        }
        return matched
    }

    static func globMatch(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.lowercased()), t = Array(text.lowercased())
        func m(_ i: Int, _ j: Int) -> Bool {
            if i == p.count { return j == t.count }
            if p[i] == "*" { return m(i + 1, j) || (j < t.count && m(i, j + 1)) }
            if j < t.count && (p[i] == "?" || p[i] == t[j]) { return m(i + 1, j + 1) }
            return false
        }
        return m(0, 0)
    }

    private static func endpoint(from v: [String: String], identityFiles: [String], alias: String,
                                 home: String, localUser: String) throws -> SSHEndpoint {
        for key in ["proxyjump", "proxycommand"] {
            if let value = v[key], value.lowercased() != "none" {
                throw TransportError(.unsupportedConfig, host: alias,
                                     "ssh config for \(alias) sets \(key == "proxyjump" ? "ProxyJump" : "ProxyCommand") \(value), which akbackup's libssh2 transport cannot follow",
                                     hint: "make \(alias) directly reachable (e.g. a VPN or port forward set up outside akbackup) and remove the proxy from its Host block")
            }
        }
        let hostName = v["hostname"] ?? alias
        let user = v["user"] ?? localUser
        let port = Int(v["port"] ?? "22") ?? 22
        let tokens: [Character: String] = ["d": home, "u": localUser, "h": hostName, "r": user,
                                           "p": String(port), "n": alias, "%": "%"]
        func expand(_ s: String) -> String {
            var s = s
            if s == "~" { s = home } else if s.hasPrefix("~/") { s = home + s.dropFirst() }
            var out = ""
            var it = s.makeIterator()
            while let c = it.next() {
                if c == "%", let n = it.next() { out += tokens[n] ?? "%\(n)" } else { out.append(c) }
            }
            return out
        }
        func int(_ key: String) -> Int? { v[key].flatMap { Int($0) } }
        let agent: String? = {
            guard let a = v["identityagent"] else { return nil }
            if a == "SSH_AUTH_SOCK" || a == "$SSH_AUTH_SOCK" { return nil }
            return a.lowercased() == "none" ? "none" : expand(a)
        }()
        let knownHosts = (v["userknownhostsfile"] ?? "~/.ssh/known_hosts ~/.ssh/known_hosts2")
            .split(separator: " ").map { expand(unquote(String($0))) }
        return SSHEndpoint(alias: alias, hostName: hostName, user: user, port: port,
                           identityFiles: identityFiles.map(expand),
                           identitiesOnly: v["identitiesonly"]?.lowercased() == "yes",
                           identityAgent: agent,
                           userKnownHostsFiles: knownHosts,
                           connectTimeout: int("connecttimeout"),
                           serverAliveInterval: int("serveraliveinterval") ?? 0,
                           serverAliveCountMax: int("serveralivecountmax") ?? 3)
    }

    public static func homeDirectory() -> String {
        if let h = ProcessInfo.processInfo.environment["HOME"], !h.isEmpty { return h }
        if let pw = getpwuid(getuid()), let d = pw.pointee.pw_dir { return String(cString: d) }
        return "/"
    }

    public static func localUser() -> String {
        if let pw = getpwuid(getuid()), let n = pw.pointee.pw_name { return String(cString: n) }
        return ProcessInfo.processInfo.environment["USER"] ?? "root"
    }
}
