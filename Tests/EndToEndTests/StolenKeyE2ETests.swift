import AKBase
import AKProtocol
import ControllerCore
import Crypto
import Foundation
import ProtocolSession
import Transport
import XCTest

/// Someone holds the operator's SSH key and speaks the protocol directly, with messages of their own
/// choosing. What the forced commands let them do must leave history and the live database intact.
final class StolenKeyE2ETests: XCTestCase {
    var sshConfig = ""

    override func setUpWithError() throws {
        try Lab.require()
        removeWhatThisTestStores()
        sshConfig = NSTemporaryDirectory() + "akbackup-stolen-\(UUID().uuidString).ssh_config"
        let home = Lab.operatorHome
        func host(_ alias: String, _ address: String, _ user: String, key: String) -> String {
            "Host \(alias)\n    HostName \(address)\n    User \(user)\n    IdentityFile \(home)/.ssh/\(key)\n    IdentitiesOnly yes\n"
                + "    IdentityAgent none\n    UserKnownHostsFile \(home)/.ssh/known_hosts\n    UpdateHostKeys no\n"
        }
        try (host("infra-core", Lab.infraAddress, Lab.agentUser, key: "id_ed25519") + host("nas", Lab.nasAddress, Lab.nasUser, key: "id_ed25519")
             + host("infra-impatient", Lab.infraAddress, Lab.agentUser, key: "id_infra_impatient"))
            .write(toFile: sshConfig, atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: sshConfig)
        guard Lab.whyNotUp() == nil else { return }
        try RestoreFixture.dropAkbackupDatabases()
        RestoreFixture.removeUndoCopies()
    }

    func session(_ role: Role, host: String? = nil) throws -> ClientSession {
        var config = ControllerConfig()
        config.sshConfigFile = sshConfig
        if let host { config.agent.host = host }
        return try SSHConnector(config: config).connect(role: role, remote: config.remote(role)).session
    }

    /// A manifest for `bytes` under `name`, signed by `key` (or not at all).
    func manifest(for bytes: [UInt8], name: String, signedBy key: Curve25519.Signing.PrivateKey?) throws -> Manifest {
        var m = Manifest(name: name, sha256: Hex.encode(SHA256.hash(data: bytes)), size: Int64(bytes.count), uncompressedSize: 1,
                         startedAt: Timestamp.now(), finishedAt: Timestamp.now(),
                         source: SourceFacts(host: "infra-core", database: "authentik", postgresVersion: "15", pgDumpVersion: "15",
                                             authentikVersion: "2025.10.1", latestMigration: nil),
                         rowCounts: ["public.authentik_core_user": 1], compression: "gzip")
        if let key { try m.sign(with: key) }
        return m
    }

    func testUploadsTheAgentDidNotSignAreRefusedAndLeaveNothing() throws {
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: Lab.nasBackupDir))
        let bytes = try RestoreFixture.gzip(Array("-- a planted backup\nDROP TABLE authentik_core_user;\n".utf8))
        for (index, (label, key)) in ([("unsigned", nil), ("signed by another key", Curve25519.Signing.PrivateKey())] as [(String, Curve25519.Signing.PrivateKey?)]).enumerated() {
            let nas = try session(.receiver)
            defer { nas.close() }
            let name = ArtifactName.make(at: Date().addingTimeInterval(-Double(index)))   // names are per second
            let id = nas.makeID()
            _ = try nas.call(UploadRequest(id: id, name: name), expecting: UploadReady.self)
            try nas.send(DataHeader(id: id, stream: "dump"))
            try nas.sendChunk(bytes)
            try nas.endData()
            XCTAssertThrowsError(try nas.call(UploadCommit(id: id, manifest: try manifest(for: bytes, name: name, signedBy: key))), label) { e in
                XCTAssertEqual((e as? RemoteError)?.code, .untrusted, "\(label): \(e)")
            }
        }
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: Lab.nasBackupDir)), before, "nothing new on the NAS")
    }

    /// No request names a backup to delete: `prune` takes no names (one smuggled in is not read), pin and
    /// unpin only write or remove a pin, and an upload cannot take an existing name. The backup and its
    /// manifest stay byte for byte.
    func testNoRequestCanDeleteOrReplaceANamedBackup() throws {
        let real = try RestoreFixture.freshBackup()
        let dir = Lab.nasBackupDir
        let manifestName = String(real.dropLast(".sql.gz".count)) + ".json"
        func digests() throws -> [String] {
            try [real, manifestName].map { RestoreFixture.sha256Hex(Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\($0)")))) }
        }
        let before = try digests()

        do {
            let nas = try session(.receiver)
            defer { nas.close() }
            let smuggled = #"{"dryRun":false,"id":1,"name":"\#(real)","names":["\#(real)"],"remove":["\#(real)"],"type":"prune"}"#
            try nas.framed.channel.write(Frame.encode(Array(smuggled.utf8)))
            _ = try? nas.receive(context: "test")
        }
        for name in [real, manifestName, "../authentik/\(real)", "\(real)/..", "*"] {
            let nas = try session(.receiver)
            defer { nas.close() }
            _ = try? nas.call(PinRequest(id: nas.makeID(), name: name, pinned: false, reason: nil, requestedBy: nil))
        }
        do {
            let nas = try session(.receiver)
            defer { nas.close() }
            XCTAssertThrowsError(try nas.call(UploadRequest(id: nas.makeID(), name: real), expecting: UploadReady.self), "an existing name is not reused")
        }
        XCTAssertEqual(try digests(), before, "the named backup is whole")
    }

    func testOutOfRangeNumbersAreAClearProtocolErrorNotACrash() throws {
        for request in [Message(BackupRequest(id: 1, threads: 0)),
                        Message(UndoRequest(id: 1, healthTimeout: 1_000_000, requestedBy: RequestedBy(user: "x", host: "y"))),
                        Message(RestoreRequest(id: 1, mode: .test, artifact: "authentik-db-2026-01-01T000000Z.sql.gz", size: -5,
                                               sha256: String(repeating: "0", count: 64), manifest: nil, trustUnsigned: true, force: false,
                                               healthTimeout: 5, requestedBy: RequestedBy(user: "x", host: "y")))] {
            let agent = try session(.agent)
            // Our own sender refuses to send these (range checks apply on sending too): a hostile client
            // writes the frame itself.
            XCTAssertThrowsError(try agent.send(request))
            try agent.framed.channel.write(MessageCodec.frame(request))
            // The agent answers with a protocol error naming the field, then ends the session.
            let answer: String
            do {
                let item = try agent.receive(context: "test")
                let error = try XCTUnwrap(item.message(ErrorMessage.self), "not an error: \(item)")
                XCTAssertEqual(error.code, .protocolError)
                answer = error.message
            } catch {
                answer = "\(error)"
            }
            XCTAssertTrue(answer.contains("invalid value at"), answer)
            let end = agent.close()
            XCTAssertEqual(end.exitStatus, 2, "a protocol violation, not a crash: \(end.summary)")
            XCTAssertNil(end.signal)
        }
        XCTAssertTrue(try RestoreFixture.agentLockIsFree())
    }

    func testABackupNobodyReadsIsGivenUpAndTheLockFreed() throws {
        try RestoreFixture.withLargerDatabase {
            // infra-impatient's agent has a 5 s peer timeout: a write the controller does not take for
            // that long ends it.
            let agent = try session(.agent, host: "infra-impatient")
            let id = agent.makeID()
            try agent.send(BackupRequest(id: id))
            _ = try agent.expect(BackupStarted.self, id: id)
            // ...and never read again.
            try Lab.waitUntil("the agent gave up and released the lock", timeout: 90, interval: 0.5) {
                try RestoreFixture.agentLockIsFree()
            }
            agent.close()
        }
    }

    func testAReplaceWithBytesOfTheirChoiceIsRefusedBeforeAnythingIsDropped() throws {
        let before = try RestoreFixture.liveContent()
        let serverStarted = try RestoreFixture.startedAt("authentik-server")
        let bytes = try RestoreFixture.gzip(Array("SET statement_timeout = 0;\nDROP TABLE public.authentik_core_user;\n".utf8))
        let name = "authentik-db-2001-04-01T000000Z.sql.gz"
        for trustUnsigned in [false, true] {
            let agent = try session(.agent)
            defer { agent.close() }
            let id = agent.makeID()
            try agent.send(RestoreRequest(id: id, mode: .replace, artifact: name, size: Int64(bytes.count), sha256: Hex.encode(SHA256.hash(data: bytes)),
                                          manifest: try manifest(for: bytes, name: name, signedBy: Curve25519.Signing.PrivateKey()),
                                          trustUnsigned: trustUnsigned, force: true, healthTimeout: 5, requestedBy: RequestedBy(user: "mallory", host: "x")))
            do {
                _ = try agent.expect(RestoreReady.self, id: id)
                try agent.send(DataHeader(id: id, stream: "artifact"))
                try agent.sendChunk(bytes)
                try agent.endData()
                _ = try agent.expect(RestoreResult.self, id: id)
                XCTFail("trustUnsigned \(trustUnsigned): a replace with planted bytes ran")
            } catch let e as RemoteError {
                XCTAssertEqual(e.code, .untrusted, "trustUnsigned \(trustUnsigned): \(e)")
            }
        }
        XCTAssertEqual(try RestoreFixture.liveContent(), before, "live was never dropped")
        XCTAssertEqual(try RestoreFixture.startedAt("authentik-server"), serverStarted, "the services never stopped")
        XCTAssertEqual(RestoreFixture.undoCopies(), [], "nothing even got as far as the undo copy")
    }
}
