@testable import AgentCore
import AgentHarness
import AKProtocol
import XCTest

final class DotEnvTests: XCTestCase {
    func testReadsTheFormsComposeAccepts() {
        let text = """
        # Host-local env file (not in git).
        AUTHENTIK_DB_PASSWORD=s3cr3t#notacomment
        export AUTHENTIK_SECRET_KEY="quoted \\"value\\" here"
        PG_USER='lit$ral \\n'
          SPACED = padded value # trailing comment
        EMPTY=
        not a line
        WINDOWS=crlf\r
        """
        let env = DotEnv.parse(text)
        XCTAssertEqual(env["AUTHENTIK_DB_PASSWORD"], "s3cr3t#notacomment")
        XCTAssertEqual(env["AUTHENTIK_SECRET_KEY"], "quoted \"value\" here")
        XCTAssertEqual(env["PG_USER"], "lit$ral \\n")
        XCTAssertEqual(env["SPACED"], "padded value")
        XCTAssertEqual(env["EMPTY"], "")
        XCTAssertEqual(env["WINDOWS"], "crlf")
        XCTAssertNil(env["not a line"])
        XCTAssertEqual(env.count, 6)
    }

    func testLaterDefinitionWins() {
        XCTAssertEqual(DotEnv.parse("A=1\nA=2\n")["A"], "2")
    }
}

final class AgentConfigTests: XCTestCase {
    func testDefaultsAreTheRunbooks() throws {
        let c = try AgentConfig.load(path: "/nonexistent/agent.toml")
        XCTAssertEqual(c.composeDir, "/opt/stacks/caddy-auth")
        XCTAssertEqual(c.envPath, "/opt/stacks/caddy-auth/.env")
        XCTAssertEqual(c.effectiveComposeProject, "caddy-auth")
        XCTAssertEqual(c.postgresContainer, "authentik-postgres")
        XCTAssertEqual(c.appServices, ["authentik-server", "authentik-worker"])
        XCTAssertEqual(c.passwordVariable, "AUTHENTIK_DB_PASSWORD")
    }

    func testDefaultsTextParsesAndUncommentedGivesTheSameConfig() throws {
        let dir = try temporaryDirectory()
        let path = dir + "/agent.toml"
        let uncommented = AgentConfig.defaultsText.split(separator: "\n").map { line in
            line.hasPrefix("#") && line.contains(" = ") ? String(line.dropFirst()) : String(line)
        }.joined(separator: "\n")
        try uncommented.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(try AgentConfig.load(path: path), AgentConfig())
    }

    func testUnknownKeyIsAnErrorNamingKeyAndFile() throws {
        let path = try temporaryDirectory() + "/agent.toml"
        try "compose_dir = \"/srv/auth\"\npostgres_contianer = \"pg\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try AgentConfig.load(path: path)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("postgres_contianer"), text)
            XCTAssertTrue(text.contains(path + ":2"), text)
            XCTAssertTrue(text.contains("hint:"), text)
        }
    }

    func testWrongTypeIsAnError() throws {
        let path = try temporaryDirectory() + "/agent.toml"
        try "app_services = \"authentik-server\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try AgentConfig.load(path: path)) { error in
            XCTAssertTrue("\(error)".contains("must be an array of strings"), "\(error)")
        }
    }

    func testPasswordIsReadFromTheEnvFileAndMissingVariableExplained() throws {
        let dir = try temporaryDirectory()
        var config = AgentConfig()
        config.composeDir = dir
        try "AUTHENTIK_DB_PASSWORD=\"pw with spaces\"\n".write(toFile: dir + "/.env", atomically: true, encoding: .utf8)
        XCTAssertEqual(try EnvFile.databasePassword(config: config), "pw with spaces")
        config.passwordVariable = "OTHER"
        XCTAssertThrowsError(try EnvFile.databasePassword(config: config)) { error in
            let e = error as! ErrorMessage
            XCTAssertTrue(e.message.contains("has no OTHER"), e.message)
            XCTAssertFalse(e.message.contains("pw with spaces"))
            XCTAssertFalse(e.hint.isEmpty)
        }
    }
}

func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "akbackup-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
