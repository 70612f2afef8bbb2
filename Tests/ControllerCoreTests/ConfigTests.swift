@testable import ControllerCore
import HostConfig
import XCTest

final class ConfigFileTests: XCTestCase {
    func testParsesTheSubset() throws {
        let file = try ConfigFile(text: """
        # comment
        top = 'literal \\n'
        [agent]
        host = "infra-core"   # trailing
        retries = 3
        enabled = true
        services = ["a", 'b' ,"c\\"d"]
        """, path: "x.toml")
        XCTAssertEqual(try file.string("top"), "literal \\n")
        XCTAssertEqual(try file.string("agent.host"), "infra-core")
        XCTAssertEqual(try file.integer("agent.retries"), 3)
        XCTAssertEqual(try file.boolean("agent.enabled"), true)
        XCTAssertEqual(try file.strings("agent.services"), ["a", "b", "c\"d"])
    }

    func testSyntaxErrorsNameFileAndLine() {
        for (text, fragment) in [("a = unquoted", "strings need quotes"), ("a = \"open", "unterminated"),
                                 ("[t\nb=1", "expected \"]\""), ("a = 1\na = 2", "set twice"), ("= 1", "key name")] {
            XCTAssertThrowsError(try ConfigFile(text: text, path: "c.toml")) { error in
                let e = error as! ConfigError
                XCTAssertEqual(e.file, "c.toml")
                XCTAssertNotNil(e.line)
                XCTAssertTrue(e.message.contains(fragment), "\(text): \(e.message)")
            }
        }
    }
}

final class ControllerConfigTests: XCTestCase {
    func testZeroConfigurationIsTheRunbooksWorld() throws {
        let c = try ControllerConfig.load(explicitPath: nil, environment: ["HOME": "/nonexistent"])
        XCTAssertEqual(c.agent.host, "infra-core")
        XCTAssertEqual(c.receiver.host, "nas")
        XCTAssertEqual(c.agent.command, "akbackup-agent serve")
        XCTAssertEqual(c.receiver.command, "akbackup-receiver serve")
    }

    func testExplicitFileMustExist() {
        XCTAssertThrowsError(try ControllerConfig.load(explicitPath: "/nonexistent/c.toml", environment: [:]))
        XCTAssertThrowsError(try ControllerConfig.load(explicitPath: nil, environment: ["AKBACKUP_CONFIG": "/nonexistent/c.toml"]))
    }

    func testOverridesAndUnknownKeys() throws {
        let dir = NSTemporaryDirectory() + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/config.toml"
        try "[agent]\nhost = \"infra-core-2\"\n[receiver]\ncommand = \"/opt/ak/bin/akbackup-receiver serve\"\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let c = try ControllerConfig.load(explicitPath: path, environment: [:])
        XCTAssertEqual(c.agent.host, "infra-core-2")
        XCTAssertEqual(c.receiver.command, "/opt/ak/bin/akbackup-receiver serve")
        XCTAssertEqual(c.receiver.host, "nas")

        try "[agent]\nhots = \"x\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ControllerConfig.load(explicitPath: path, environment: [:])) { error in
            XCTAssertTrue("\(error)".contains("agent.hots"), "\(error)")
            XCTAssertTrue("\(error)".contains(path), "\(error)")
        }
        try "[ssh]\nidle_timeout = \"60\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ControllerConfig.load(explicitPath: path, environment: [:])) { error in
            XCTAssertTrue("\(error)".contains("must be an integer"), "\(error)")
        }
    }

    func write(_ text: String) throws -> String {
        let dir = NSTemporaryDirectory() + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/config.toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func assertConfigError(_ text: String, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let path = try write(text)
        XCTAssertThrowsError(try ControllerConfig.load(explicitPath: path, environment: [:]), file: file, line: line) { error in
            XCTAssertTrue(error is ConfigError, "\(error)", file: file, line: line)
            XCTAssertEqual(ExitStatus.of(error), .usage, file: file, line: line)
            for f in fragments { XCTAssertTrue("\(error)".contains(f), "\(error) lacks \(f)", file: file, line: line) }
        }
    }

    func testMonitoringDefaults() throws {
        let c = try ControllerConfig.load(explicitPath: nil, environment: ["HOME": "/nonexistent"])
        XCTAssertEqual(c.statusLimits, StatusLimits(warnBackupAgeHours: 25, maxBackupAgeHours: 26, warnRestoreTestAgeDays: 85, maxRestoreTestAgeDays: 92))
        XCTAssertNil(c.textfileDirectory)
        XCTAssertEqual(c.notify, NotifyConfig(pingURL: nil, pingTimeout: 10))
    }

    func testMonitoringKeys() throws {
        let c = try ControllerConfig.load(explicitPath: try write("""
        [status]
        max_backup_age_hours = 48
        warn_backup_age_hours = 30
        max_restore_test_age_days = 100
        warn_restore_test_age_days = 90
        textfile_dir = "/var/lib/prometheus/node-exporter"
        [notify]
        ping_url = "https://hc-ping.com/0b5e6c1a-1111-2222-3333-444455556666"
        ping_timeout = 5
        """), environment: [:])
        XCTAssertEqual(c.statusLimits, StatusLimits(warnBackupAgeHours: 30, maxBackupAgeHours: 48, warnRestoreTestAgeDays: 90, maxRestoreTestAgeDays: 100))
        XCTAssertEqual(c.textfileDirectory, "/var/lib/prometheus/node-exporter")
        XCTAssertEqual(c.notify, NotifyConfig(pingURL: "https://hc-ping.com/0b5e6c1a-1111-2222-3333-444455556666", pingTimeout: 5))

        // A stricter critical limit pulls an unset warning limit down with it.
        let strict = try ControllerConfig.load(explicitPath: try write("[status]\nmax_backup_age_hours = 13\nmax_restore_test_age_days = 31\n"), environment: [:])
        XCTAssertEqual(strict.statusLimits, StatusLimits(warnBackupAgeHours: 13, maxBackupAgeHours: 13, warnRestoreTestAgeDays: 31, maxRestoreTestAgeDays: 31))
    }

    func testMonitoringKeyErrors() throws {
        try assertConfigError("[status]\nwarn_backup_age_hours = 30\n", ["config.toml:2", "status.warn_backup_age_hours (30) is above status.max_backup_age_hours (26)"])
        try assertConfigError("[status]\nwarn_restore_test_age_days = 93\n", ["status.warn_restore_test_age_days (93) is above status.max_restore_test_age_days (92)"])
        try assertConfigError("[status]\nwarn_backup_age_hours = -1\n", ["status.warn_backup_age_hours must be 0…8760 hours"])
        try assertConfigError("[status]\nwarn_backup_age_hours = \"25\"\n", ["key \"status.warn_backup_age_hours\" must be an integer"])
        try assertConfigError("[status]\ntextfile_dir = 7\n", ["key \"status.textfile_dir\" must be a string"])
        try assertConfigError("[status]\ntextfile_dir = \"prom\"\n", ["status.textfile_dir must be an absolute path"])
        try assertConfigError("[status]\ntextfile = \"/x\"\n", ["unknown key \"status.textfile\"", "status.textfile_dir"])
        try assertConfigError("[notify]\nping = \"https://x/y\"\n", ["unknown key \"notify.ping\"", "notify.ping_url"])
        try assertConfigError("[notify]\nping_timeout = 0\n", ["notify.ping_timeout must be 1…120 seconds"])
        try assertConfigError("[notify]\nping_timeout = true\n", ["key \"notify.ping_timeout\" must be an integer"])
        // The URL is a secret: a bad one is refused without being quoted back.
        let secret = "hc-ping.com/0b5e6c1a-1111-2222-3333-444455556666"
        let path = try write("[notify]\nping_url = \"\(secret)\"\n")
        XCTAssertThrowsError(try ControllerConfig.load(explicitPath: path, environment: [:])) { error in
            XCTAssertTrue("\(error)".contains("notify.ping_url is not an http:// or https:// URL"), "\(error)")
            XCTAssertFalse("\(error)".contains("0b5e6c1a"), "\(error)")
        }
    }
}
