import AKBase
@testable import HostSetup
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class AuthorizedKeysTests: XCTestCase {
    let key = try! OperatorKey(parsing: ed25519, source: "op.pub")
    let other = try! OperatorKey(parsing: ed25519Other, source: "other.pub")
    var line: String { try! AuthorizedKeys.forcedCommandLine(command: ["/usr/bin/akbackup-agent", "serve"], key: key) }

    func testTheLineIsTheForcedCommandWithRestrict() throws {
        XCTAssertEqual(line, "command=\"/usr/bin/akbackup-agent serve\",restrict " + ed25519)
        let withConfig = try AuthorizedKeys.forcedCommandLine(command: ["/usr/local/bin/akbackup-receiver", "serve", "--config", "/etc/akbackup/r-2.toml"],
                                                              key: other)
        XCTAssertEqual(withConfig, "command=\"/usr/local/bin/akbackup-receiver serve --config /etc/akbackup/r-2.toml\",restrict " + ed25519Other)
    }

    func testAPathSshdOrTheShellWouldReadDifferentlyIsRefused() {
        for bad in ["/opt/my tools/akbackup-agent", "/x\"y", "/x;rm", "/x$(id)", "/x\\y", "/x`id`", ""] {
            XCTAssertThrowsError(try AuthorizedKeys.forcedCommandLine(command: [bad, "serve"], key: key), bad)
        }
    }

    func testAddingToNothingAndToAFileWithoutFinalNewline() {
        XCTAssertEqual(AuthorizedKeys.adding(line, for: key, to: "").contents, line + "\n")
        XCTAssertEqual(AuthorizedKeys.adding(line, for: key, to: "").change, .added)
        let r = AuthorizedKeys.adding(line, for: key, to: "# mine\n" + ed25519Other)
        XCTAssertEqual(r.contents, "# mine\n" + ed25519Other + "\n" + line + "\n")
        XCTAssertEqual(r.change, .added)
    }

    func testAddingTwiceChangesNothing() {
        let once = AuthorizedKeys.adding(line, for: key, to: ed25519Other + "\n").contents
        let twice = AuthorizedKeys.adding(line, for: key, to: once)
        XCTAssertEqual(twice.change, .unchanged)
        XCTAssertEqual(twice.contents, once)
    }

    /// sshd uses the first line that matches a key: an unrestricted line for the same key must go,
    /// or the forced command would never apply.
    func testOlderLinesForTheSameKeyAreReplacedInPlace() {
        let before = [
            "# keys of this login",
            ed25519,                                                   // unrestricted: a shell
            ed25519Other,
            "no-pty,command=\"/usr/local/bin/akbackup-agent serve\" " + ed25519,   // another prefix
            "command=\"echo \\\"quoted words\\\" x\",restrict " + ed25519,          // options with quotes and blanks
            "",
        ].joined(separator: "\n")
        let r = AuthorizedKeys.adding(line, for: key, to: before)
        XCTAssertEqual(r.change, .replaced(3))
        XCTAssertEqual(r.contents, ["# keys of this login", line, ed25519Other].joined(separator: "\n") + "\n")
        XCTAssertEqual(AuthorizedKeys.adding(line, for: key, to: r.contents).change, .unchanged)
    }

    func testADuplicatedLineIsMadeOne() {
        let r = AuthorizedKeys.adding(line, for: key, to: line + "\n" + line + "\n")
        XCTAssertEqual(r.change, .replaced(2))
        XCTAssertEqual(r.contents, line + "\n")
    }

    func testOtherKeysCommentsAndBlankLinesStayAsTheyWere() {
        let before = "\n#  spaced   comment\n\t" + ed25519Other + "   \n\nfrom=\"10.0.0.1\" " + ed25519Other + "\n"
        let r = AuthorizedKeys.adding(line, for: key, to: before)
        XCTAssertEqual(r.contents, before + line + "\n")
    }

    func testKeyDataOfLines() {
        XCTAssertEqual(AuthorizedKeys.keyData(of: ed25519), key.blob)
        XCTAssertEqual(AuthorizedKeys.keyData(of: line), key.blob)
        XCTAssertEqual(AuthorizedKeys.keyData(of: "restrict,command=\"a b \\\" c\" " + ed25519Other), other.blob)
        XCTAssertNil(AuthorizedKeys.keyData(of: "# " + ed25519))
        XCTAssertNil(AuthorizedKeys.keyData(of: "   "))
        XCTAssertNil(AuthorizedKeys.keyData(of: "garbage"))
    }
}

/// The file side, in a temporary home owned by whoever runs the tests (root in CI: then the owner
/// is still this process's own uid, so no real login is touched).
final class AuthorizedKeysFileTests: XCTestCase {
    var home = ""
    let key = try! OperatorKey(parsing: ed25519, source: "op.pub")
    var line: String { try! AuthorizedKeys.forcedCommandLine(command: ["/usr/bin/akbackup-agent", "serve"], key: key) }

    override func setUpWithError() throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("akbackup-home-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: false)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: home)
    }

    func mode(_ path: String) -> mode_t {
        var st = stat()
        XCTAssertEqual(lstat(path, &st), 0, path)
        return st.st_mode & 0o7777
    }

    func install() throws -> AuthorizedKeysFile.Outcome {
        try AuthorizedKeysFile.install(line: line, key: key, home: home, uid: getuid(), gid: getgid())
    }

    func testCreatesSshDirAndFileWithSshdsModesThenChangesNothing() throws {
        let first = try install()
        XCTAssertEqual(first.change, .added)
        XCTAssertEqual(mode(home + "/.ssh"), 0o700)
        XCTAssertEqual(mode(home + "/.ssh/authorized_keys"), 0o600)
        XCTAssertEqual(try String(contentsOfFile: home + "/.ssh/authorized_keys", encoding: .utf8), line + "\n")
        let second = try install()
        XCTAssertEqual(second.change, .unchanged)
        XCTAssertEqual(second.notes, [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: home + "/.ssh"), ["authorized_keys"], "no temp file left")
    }

    func testKeepsOtherKeysAndPutsModesRight() throws {
        try FileManager.default.createDirectory(atPath: home + "/.ssh", withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        try (ed25519Other + "\n").write(toFile: home + "/.ssh/authorized_keys", atomically: false, encoding: .utf8)
        chmod(home + "/.ssh/authorized_keys", 0o664)
        XCTAssertEqual(try install().change, .added)
        XCTAssertEqual(try String(contentsOfFile: home + "/.ssh/authorized_keys", encoding: .utf8), ed25519Other + "\n" + line + "\n")
        XCTAssertEqual(mode(home + "/.ssh"), 0o700)
        XCTAssertEqual(mode(home + "/.ssh/authorized_keys"), 0o600)
        // Already there, but group-writable again: sshd would ignore the file, so the mode is fixed.
        chmod(home + "/.ssh/authorized_keys", 0o660)
        let again = try install()
        XCTAssertEqual(again.change, .unchanged)
        XCTAssertEqual(mode(home + "/.ssh/authorized_keys"), 0o600)
        XCTAssertFalse(again.notes.isEmpty)
    }

    func testNeverWritesThroughALinkedSshDir() throws {
        let elsewhere = home + "-elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        XCTAssertEqual(symlink(elsewhere, home + "/.ssh"), 0)
        XCTAssertThrowsError(try install()) { error in
            XCTAssertTrue((error as? Failure)?.summary.contains("symbolic link") == true, "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: elsewhere), [])
    }

    func testNeverWritesThroughALinkedFile() throws {
        let target = home + "/target"
        try "precious\n".write(toFile: target, atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: home + "/.ssh", withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        XCTAssertEqual(symlink(target, home + "/.ssh/authorized_keys"), 0)
        XCTAssertThrowsError(try install()) { error in
            XCTAssertTrue((error as? Failure)?.summary.contains("symbolic link") == true, "\(error)")
        }
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "precious\n")
    }

    func testAMissingHomeIsAClearError() throws {
        XCTAssertThrowsError(try AuthorizedKeysFile.install(line: line, key: key, home: home + "/nope", uid: getuid(), gid: getgid())) { error in
            XCTAssertTrue((error as? Failure)?.summary.contains("home directory") == true, "\(error)")
        }
    }
}

final class AuthorizeTests: XCTestCase {
    func testTheForcedCommandNamesANonDefaultConfig() {
        XCTAssertEqual(Authorize.serveCommand(executable: "/usr/bin/akbackup-agent", config: "/etc/akbackup/agent.toml", defaultConfig: "/etc/akbackup/agent.toml"),
                       ["/usr/bin/akbackup-agent", "serve"])
        XCTAssertEqual(Authorize.serveCommand(executable: "/usr/bin/akbackup-agent", config: "/etc/akbackup/../akbackup/lab.toml", defaultConfig: "/etc/akbackup/agent.toml"),
                       ["/usr/bin/akbackup-agent", "serve", "--config", "/etc/akbackup/lab.toml"])
    }

    func testOwnExecutableIsAnAbsoluteResolvedPath() throws {
        let path = try Authorize.ownExecutable()
        XCTAssertTrue(path.hasPrefix("/"))
        XCTAssertEqual((path as NSString).resolvingSymlinksInPath, path)
    }

    func testReadKeyRefusesAPrivateKeyFileAndReadsAPublicOne() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("akbackup-keys-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try (ed25519 + "\n").write(toFile: dir + "/op.pub", atomically: false, encoding: .utf8)
        try "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n".write(toFile: dir + "/op", atomically: false, encoding: .utf8)
        XCTAssertEqual(try Authorize.readKey(dir + "/op.pub").comment, "op@laptop")
        XCTAssertThrowsError(try Authorize.readKey(dir + "/op"))
        XCTAssertThrowsError(try Authorize.readKey(dir + "/missing.pub"))
        XCTAssertThrowsError(try Authorize.readKey(dir))
    }
}
