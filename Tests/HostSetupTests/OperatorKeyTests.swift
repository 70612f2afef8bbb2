import AKBase
@testable import HostSetup
import XCTest

// Keys made with ssh-keygen for these tests only (no private half is kept anywhere).
let ed25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICmm0DHlbZtan4H+aLXdqe4EIMzOq35AW6SD+cJIrsDx op@laptop"
let ed25519Other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJW9YbC9Fa0Y9YaPuS2lfn8wlVI+60N+StRHOv719pNi second"
let ecdsa = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNNOdDGnYrTxpAJfJYPxWWi4MpQgYHWt2WQmYnCz+licIoTPmp80XsBehzPtOF4Iv38Oef/DpytbXQXXhaqg76Q= op@ec"
let rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCw5/eLOquAJ9l16DHpbAy3 op@rsa"

final class OperatorKeyTests: XCTestCase {
    func refusal(_ text: String) -> Failure? {
        do {
            _ = try OperatorKey(parsing: text, source: "op.pub")
            return nil
        } catch let e as Failure {
            return e
        } catch {
            XCTFail("unexpected \(error)")
            return nil
        }
    }

    func testAnEd25519PublicKeyFileIsTakenWithItsComment() throws {
        let key = try OperatorKey(parsing: ed25519 + "\n", source: "op.pub")
        XCTAssertEqual(key.type, "ssh-ed25519")
        XCTAssertEqual(key.blob, "AAAAC3NzaC1lZDI1NTE5AAAAICmm0DHlbZtan4H+aLXdqe4EIMzOq35AW6SD+cJIrsDx")
        XCTAssertEqual(key.comment, "op@laptop")
    }

    func testECDSAWorksAndCommentsBlankLinesAndCRLFAreIgnored() throws {
        let key = try OperatorKey(parsing: "# the operator\r\n\r\n" + ecdsa + "\r\n", source: "op.pub")
        XCTAssertEqual(key.type, "ecdsa-sha2-nistp256")
        XCTAssertEqual(key.comment, "op@ec")
        XCTAssertEqual(try OperatorKey(parsing: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICmm0DHlbZtan4H+aLXdqe4EIMzOq35AW6SD+cJIrsDx", source: "x").comment, "")
    }

    func testRSAIsRefusedWithTheLibssh2Hint() throws {
        let e = try XCTUnwrap(refusal(rsa))
        XCTAssertTrue(e.summary.contains("RSA"), e.summary)
        XCTAssertTrue(e.hint.contains("libssh2 1.10") && e.hint.contains("8.8") && e.hint.contains("ed25519"), e.hint)
    }

    func testAPrivateKeyIsRefusedWithoutRepeatingIt() throws {
        let secret = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
        let e = try XCTUnwrap(refusal("-----BEGIN OPENSSH PRIVATE KEY-----\n\(secret)\n-----END OPENSSH PRIVATE KEY-----\n"))
        XCTAssertTrue(e.summary.contains("private key"), e.summary)
        XCTAssertFalse(e.summary.contains(secret) || e.hint.contains(secret))
        XCTAssertNotNil(refusal("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"))
        XCTAssertNotNil(refusal("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n"))
    }

    func testOneKeyExactly() throws {
        XCTAssertTrue(try XCTUnwrap(refusal(ed25519 + "\n" + ed25519Other + "\n")).summary.contains("2 keys"))
        XCTAssertTrue(try XCTUnwrap(refusal("\n# nothing\n")).summary.contains("no public key"))
        XCTAssertTrue(try XCTUnwrap(refusal("")).summary.contains("no public key"))
    }

    func testOtherTypesAndShapesAreRefused() throws {
        XCTAssertTrue(try XCTUnwrap(refusal("sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t x")).summary.contains("security-key"))
        XCTAssertNotNil(refusal("ssh-dss AAAAB3NzaC1kc3MAAACBAP x"))
        XCTAssertNotNil(refusal("ssh-ed25519-cert-v01@openssh.com AAAA x"))
        // An authorized_keys line with options is not a .pub file.
        XCTAssertTrue(try XCTUnwrap(refusal("command=\"/bin/sh\" " + ed25519)).summary.contains("does not look like"))
        XCTAssertTrue(try XCTUnwrap(refusal("ssh-ed25519")).summary.contains("no key data"))
        XCTAssertNotNil(refusal("---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n---- END SSH2 PUBLIC KEY ----\n"))
    }

    func testKeyDataMustBeAKeyOfTheNamedType() throws {
        // Truncated, not base64, or an ECDSA blob labelled ed25519.
        XCTAssertTrue(try XCTUnwrap(refusal("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICmm0DHlbZtan4H+aLXdqe4EIMzO x")).summary.contains("not a valid"))
        XCTAssertNotNil(refusal("ssh-ed25519 %%%not-base64%%% x"))
        let ecBlob = ecdsa.split(separator: " ")[1]
        XCTAssertNotNil(refusal("ssh-ed25519 \(ecBlob) x"))
        XCTAssertNotNil(refusal("ecdsa-sha2-nistp384 \(ecBlob) x"))
    }

    func testControlCharactersInTheCommentAreRefused() {
        XCTAssertNotNil(refusal(ed25519 + "\u{1b}[2J"))
    }
}
