import Foundation
import XCTest

/// The lab that `deploy/lab/lab up` brings up on this machine (see deploy/lab/lab).
///
/// Names are fixed (the lab prints them with `deploy/lab/lab env`); an `AKLAB_*`
/// variable in the test's environment overrides each one.
enum Lab {
    static let operatorUser = env("AKLAB_OPERATOR", "akoperator")
    static let operatorHome = env("AKLAB_OPERATOR_HOME", "/home/akoperator")
    static let infraNamespace = env("AKLAB_INFRA_NS", "ak-infra")
    static let nasNamespace = env("AKLAB_NAS_NS", "ak-nas")
    static let infraAddress = env("AKLAB_INFRA_ADDR", "10.77.0.2")
    static let nasAddress = env("AKLAB_NAS_ADDR", "10.77.0.6")
    static let smallDir = env("AKLAB_SMALL_DIR", "/volume1/small")
    static let stackDir = env("AKLAB_STACK_DIR", "/opt/stacks/caddy-auth")
    static let nasBackupDir = env("AKLAB_NAS_BACKUP_DIR", "/volume1/backups/apps/authentik")
    static let agentUser = env("AKLAB_AGENT_USER", "akagent")
    static let nasUser = env("AKLAB_NAS_USER", "aknas")
    /// ssh aliases in the operator's ~/.ssh/config.
    static let infraAlias = "infra-core"
    static let nasAlias = "nas"
    /// Where the packages install the programs (the lab installs the .debs, like a real host).
    static let binDir = env("AKLAB_BIN_DIR", "/usr/bin")
    static let controllerBinary = "\(binDir)/akbackup"
    static let agentBinary = "\(binDir)/akbackup-agent"
    static let receiverBinary = "\(binDir)/akbackup-receiver"

    /// The repository root (this file is Tests/EndToEndTests/Lab.swift).
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var labScript: String { repoRoot.appendingPathComponent("deploy/lab/lab").path }
    static var sampleDataScript: String { repoRoot.appendingPathComponent("deploy/lab/sample-data").path }

    private static func env(_ name: String, _ fallback: String) -> String {
        if let v = ProcessInfo.processInfo.environment[name], !v.isEmpty { return v }
        return fallback
    }

    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Call first in every lab test. If the lab is not up: fails under CI=true,
    /// otherwise skips with instructions.
    static func require(file: StaticString = #filePath, line: UInt = #line) throws {
        if let problem = whyNotUp() {
            let message = "the akbackup lab is not up (\(problem)); start it as root with: deploy/lab/lab up"
            if isCI { throw LabError(message) }  // a thrown error fails the test
            throw XCTSkip(message, file: file, line: line)
        }
    }

    /// nil when the lab looks usable, otherwise a short reason.
    static func whyNotUp() -> String? {
        if getuid() != 0 { return "the end-to-end tests must run as root (they use ip netns, runuser, docker)" }
        if !FileManager.default.fileExists(atPath: "/run/netns/\(infraNamespace)") { return "no namespace \(infraNamespace)" }
        if !FileManager.default.fileExists(atPath: "/run/netns/\(nasNamespace)") { return "no namespace \(nasNamespace)" }
        // Containers may be settling (e.g. postgres health "starting" after a
        // test restarted it): give status a bounded while to turn good.
        let deadline = Date().addingTimeInterval(60)
        var result = try? run([labScript, "status"], timeout: 30)
        while let r = result, r.status != 0, Date() < deadline,
              !r.stdout.contains("DOWN"), !r.stdout.contains("NOT MOUNTED") {
            Thread.sleep(forTimeInterval: 0.5)
            result = try? run([labScript, "status"], timeout: 30)
        }
        guard let status = result else { return "could not run \(labScript) status" }
        if status.status != 0 {
            let down = status.stdout.split(separator: "\n").filter {
                $0.contains("DOWN") || $0.contains("NOT") || ($0.hasPrefix("container") && !$0.hasSuffix(" running")
                                                                   && !$0.hasSuffix("running/healthy"))
            }
            return "lab status: " + (down.isEmpty ? "exit \(status.status)" : down.joined(separator: "; "))
        }
        return nil
    }

    static var binariesInstalled: Bool {
        FileManager.default.isExecutableFile(atPath: agentBinary) && FileManager.default.isExecutableFile(atPath: receiverBinary)
    }

    // MARK: running programs

    /// Run `argv` (argv[0] is looked up in PATH unless absolute), wait at most
    /// `timeout` seconds, capture stdout/stderr. Throws only if it cannot start
    /// or times out; a non-zero exit is reported in the result.
    @discardableResult
    static func run(_ argv: [String], stdin: Data? = nil, environment: [String: String]? = nil,
                    timeout: TimeInterval = 120) throws -> CommandResult {
        precondition(!argv.isEmpty)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        if let environment { p.environment = environment }
        // Files, not pipes: no deadlock however much the child writes.
        let outURL = tempFile("out"), errURL = tempFile("err")
        defer { try? FileManager.default.removeItem(at: outURL); try? FileManager.default.removeItem(at: errURL) }
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer { try? out.close(); try? err.close() }
        p.standardOutput = out
        p.standardError = err
        let inPipe = Pipe()
        p.standardInput = stdin == nil ? FileHandle.nullDevice : inPipe
        try p.run()
        if let stdin {
            let writer = inPipe.fileHandleForWriting
            DispatchQueue.global().async {
                writer.write(stdin)
                try? writer.close()
            }
        }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning {
            if Date() > deadline {
                p.terminate()
                p.waitUntilExit()
                throw LabError("timed out after \(Int(timeout))s: \(argv.joined(separator: " "))")
            }
            usleep(20_000)
        }
        p.waitUntilExit()
        return CommandResult(argv: argv, status: p.terminationStatus,
                             stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                             stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }

    /// argv prefix that runs a program as `user` with a clean HOME (like a login).
    static func asUser(_ user: String, home: String) -> [String] {
        ["runuser", "-u", user, "--", "env", "HOME=\(home)", "USER=\(user)", "LOGNAME=\(user)"]
    }

    /// Run as the operator on the "laptop" (root namespace).
    @discardableResult
    static func runAsOperator(_ argv: [String], stdin: Data? = nil, timeout: TimeInterval = 120) throws -> CommandResult {
        try run(asUser(operatorUser, home: operatorHome) + argv, stdin: stdin, timeout: timeout)
    }

    /// Run as akagent on infra-core, in the stack directory (like the runbook's `cd`).
    @discardableResult
    static func runAsAgentInStack(_ argv: [String], timeout: TimeInterval = 120) throws -> CommandResult {
        let script = "cd \"$1\" && shift && exec \"$@\""
        return try run(["ip", "netns", "exec", infraNamespace] + asUser(agentUser, home: "/home/\(agentUser)")
                       + ["bash", "-c", script, "_", stackDir] + argv, timeout: timeout)
    }

    /// OpenSSH options the tests use: never prompt, only trust known_hosts.
    static let strictSSH = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "UpdateHostKeys=no",
                            "-o", "ConnectTimeout=10"]

    // MARK: polling

    /// Poll `condition` until it is true or `timeout` passes; then fail with `what`.
    static func waitUntil(_ what: String, timeout: TimeInterval = 60, interval: TimeInterval = 0.2,
                          file: StaticString = #filePath, line: UInt = #line,
                          _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var lastError: Error?
        while Date() < deadline {
            do {
                if try condition() { return }
            } catch {
                lastError = error
            }
            Thread.sleep(forTimeInterval: interval)
        }
        let message = "timed out after \(Int(timeout))s waiting for: \(what)" + (lastError.map { " (last error: \($0))" } ?? "")
        XCTFail(message, file: file, line: line)
        throw LabError(message)
    }

    // MARK: docker / stack helpers

    static func containerHealth(_ name: String) throws -> String {
        let r = try run(["docker", "inspect", "--format", "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", name],
                        timeout: 30)
        return r.status == 0 ? r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : "missing"
    }

    static func containerState(_ name: String) throws -> String {
        let r = try run(["docker", "inspect", "--format", "{{.State.Status}}", name], timeout: 30)
        return r.status == 0 ? r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : "missing"
    }

    static func containerIP(_ name: String) throws -> String {
        let r = try run(["docker", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name],
                        timeout: 30)
        let ip = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard r.status == 0, !ip.isEmpty else { throw LabError("no IP for container \(name): \(r.stderr)") }
        return ip
    }

    /// HTTP status of GET url, fetched from inside infra-core's namespace
    /// (container IPs are only routable there). 0 if nothing answered.
    static func httpStatusFromInfra(_ url: String) throws -> Int {
        let py = """
        import sys, urllib.request, urllib.error
        try:
            print(urllib.request.urlopen(sys.argv[1], timeout=5).status)
        except urllib.error.HTTPError as e:
            print(e.code)
        except Exception:
            print(0)
        """
        let r = try run(["ip", "netns", "exec", infraNamespace, "python3", "-c", py, url], timeout: 30)
        return Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// Run SQL in the lab database over the container's trusted local socket.
    /// psql on the maintenance database `postgres` (CREATE/DROP DATABASE cannot run in the one dropped).
    static func psqlAdmin(_ sql: String) throws -> CommandResult {
        try run(["docker", "exec", "-i", "authentik-postgres", "psql", "-X", "-At", "-U", "authentik", "-d", "postgres",
                 "-v", "ON_ERROR_STOP=1"], stdin: Data(sql.utf8), timeout: 120)
    }

    static func psql(_ sql: String) throws -> CommandResult {
        try run(["docker", "exec", "-i", "authentik-postgres", "psql", "-X", "-At", "-U", "authentik", "-d", "authentik",
                 "-v", "ON_ERROR_STOP=1"], stdin: Data(sql.utf8), timeout: 120)
    }

    private static func tempFile(_ tag: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("aklab-\(tag)-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        return url
    }
}

struct CommandResult: CustomStringConvertible {
    let argv: [String]
    let status: Int32
    let stdout: String
    let stderr: String
    var ok: Bool { status == 0 }
    var description: String {
        "`\(argv.joined(separator: " "))` exited \(status)\nstdout: \(stdout.prefix(2000))\nstderr: \(stderr.prefix(2000))"
    }
}

struct LabError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension XCTestCase {
    /// Every backup, manifest and receipt this test adds on the NAS (and receipt in the operator's
    /// archive) is removed when it ends, whatever its outcome: each test starts from what the lab had.
    func removeWhatThisTestStores() {
        let dirs = [Lab.nasBackupDir, Lab.nasBackupDir + "/receipts", Lab.operatorHome + "/.local/state/akbackup/receipts"]
        let before = dirs.map { Set(Lab.regularFiles(in: $0)) }
        addTeardownBlock {
            for (dir, old) in zip(dirs, before) {
                for name in Set(Lab.regularFiles(in: dir)).subtracting(old) {
                    try? FileManager.default.removeItem(atPath: "\(dir)/\(name)")
                }
            }
        }
    }
}

extension Lab {
    /// Names of the regular files directly in `dir` (none when it does not exist).
    static func regularFiles(in dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { name in
            var st = stat()
            return lstat("\(dir)/\(name)", &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
        }
    }
}
