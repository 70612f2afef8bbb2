@testable import AgentCore
import AKBase
import Foundation
import ProcessRunner
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The package's layout: root makes the key in a state directory root owns and the agent's group
/// may write (2770); the logins the agent runs as read the key through that group.
final class SigningKeyModeTests: XCTestCase {
    var state = ""

    override func setUpWithError() throws {
        state = FileManager.default.temporaryDirectory.appendingPathComponent("akbackup-key-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: false)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: state)
    }

    func attributes(_ path: String) -> (mode: mode_t, gid: gid_t) {
        var st = stat()
        XCTAssertEqual(lstat(path, &st), 0, path)
        return (st.st_mode & 0o7777, st.st_gid)
    }

    func testWithoutAGroupTheKeyIsOwnerOnly() throws {
        let (key, created) = try SigningKey.initialize(stateDir: state)
        XCTAssertTrue(created)
        XCTAssertEqual(attributes(SigningKey.path(stateDir: state)).mode, 0o600)
        XCTAssertEqual(try SigningKey.load(stateDir: state)?.publicKey, key.publicKey)
    }

    func testWithAGroupTheKeyIsReadableByThatGroupOnlyAndStillLoads() throws {
        // Root may give the file any group (a number no group has proves it is set, not inherited);
        // anyone else, a group they are in.
        let group: gid_t = geteuid() == 0 ? 4242 : getgid()
        let (key, created) = try SigningKey.initialize(stateDir: state, group: group)
        XCTAssertTrue(created)
        let a = attributes(SigningKey.path(stateDir: state))
        XCTAssertEqual(a.mode, 0o640)
        XCTAssertEqual(a.gid, group)
        XCTAssertEqual(attributes(SigningKey.publicPath(stateDir: state)).mode, 0o644)
        XCTAssertEqual(try SigningKey.require(stateDir: state).publicKey, key.publicKey)
        // Never replaced, and its mode is left alone.
        let (again, createdAgain) = try SigningKey.initialize(stateDir: state)
        XCTAssertFalse(createdAgain)
        XCTAssertEqual(again.publicKey, key.publicKey)
        XCTAssertEqual(attributes(SigningKey.path(stateDir: state)).mode, 0o640)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: state).sorted(), ["signing.key", "signing.pub"], "no temp file left")
    }

    func testAGroupTheCreatorIsNotInIsRefusedAndLeavesNoKey() throws {
        if geteuid() != 0 {
            XCTAssertThrowsError(try SigningKey.initialize(stateDir: state, group: 0))
        } else {
            // Root may give a file any group: the refusal is what an ordinary login meets, so the
            // agent program runs as `nobody` here.
            let agent = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("akbackup-agent").path
            guard FileManager.default.isExecutableFile(atPath: agent) else { return XCTFail("\(agent) is not built: swift build first") }
            XCTAssertEqual(chmod(state, 0o777), 0)
            let config = state + ".toml"
            try "state_dir = \"\(state)\"\n".write(toFile: config, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: config) }
            XCTAssertEqual(chmod(config, 0o644), 0)
            let r = try ChildProcess.run(["runuser", "-u", "nobody", "--", agent, "key", "--init", "--group", "root", "--config", config], timeout: 30)
            XCTAssertEqual(r.status, 1, r.stderrText)
            XCTAssertTrue(r.stderrText.hasPrefix("error: ") && r.stderrText.contains("\nhint: "), r.stderrText)
        }
        XCTAssertNil(try SigningKey.load(stateDir: state))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: state), [])
    }
}
