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
}
