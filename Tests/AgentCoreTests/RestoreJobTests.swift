@testable import AgentCore
import AgentHarness
import AKBase
import AKProtocol
import Compression
import Foundation
import ProtocolSession
import Transport
import Crypto
import XCTest

/// The agent's restore over an in-process session, with the database server and the app services
/// scripted: what reaches psql, when, and what is left behind on every path.
final class RestoreJobTests: XCTestCase {
    let artifactName = "authentik-db-2027-01-15T080000Z.sql.gz"
    var requestedBy: RequestedBy { RequestedBy(user: "alice", host: "laptop") }

    func artifact(_ sql: [UInt8] = FakeDatabase.dump(rows: 3)) -> [UInt8] { Gzip.member(sql) }

    struct Outcome {
        var result: RestoreResult?
        var error: RemoteError?
        var db: FakeDatabase
        var app: FakeApp
        var agent: InProcessAgent
    }

    /// Sends `request`, then (after restore.ready) `bytes` as the artifact stream.
    func restore(mode: RestoreMode = .test, bytes: [UInt8]? = nil, manifest: Manifest?, trustUnsigned: Bool = false,
                 size: Int64? = nil, sha256: String? = nil, trustedKeys: [String] = [], allowUnsigned: Bool = false,
                 configure: (FakeDatabase, FakeApp) -> Void = { _, _ in }) throws -> Outcome {
        let db = FakeDatabase(), app = FakeApp()
        db.state.update { $0.artifactModel = FakeDatabase.sample }
        configure(db, app)
        let agent = try InProcessAgent(context: Harness.context(db: db, app: app, trustedKeys: trustedKeys) { $0.allowUnsignedRestores = allowUnsigned })
        let bytes = bytes ?? artifact()
        let id = agent.client.makeID()
        try agent.client.send(RestoreRequest(id: id, mode: mode, artifact: artifactName, size: size ?? manifest?.size ?? Int64(bytes.count),
                                             sha256: sha256 ?? manifest?.sha256 ?? Hex.encode(SHA256Digest.of(bytes)),
                                             manifest: manifest, trustUnsigned: trustUnsigned, force: false, healthTimeout: 5, requestedBy: requestedBy))
        do {
            _ = try agent.client.expect(RestoreReady.self, id: id)
            try agent.client.send(DataHeader(id: id, stream: "artifact"))
            try agent.client.sendChunk(bytes)
            try agent.client.endData()
            let result = try agent.client.expect(RestoreResult.self, id: id)
            return Outcome(result: result, error: nil, db: db, app: app, agent: agent)
        } catch let e as RemoteError {
            return Outcome(result: nil, error: e, db: db, app: app, agent: agent)
        }
    }

    func testSignedArtifactIsProvenThenReplayedRestrictedInOneTransaction() throws {
        let bytes = artifact()
        let o = try restore(bytes: bytes, manifest: try Harness.manifest(for: bytes))
        let r = try XCTUnwrap(o.result?.receipt, "\(String(describing: o.error))")
        XCTAssertEqual(r.outcome, .tested, r.message)
        XCTAssertEqual(r.artifactSigned, true)
        XCTAssertEqual(r.signatureStatus(trusting: [Harness.key.publicKey]), .trusted, "the agent signs its receipt")
        XCTAssertEqual(r.validation?.schemaChecked?.count, SchemaDigest.kinds.count)
        let target = try XCTUnwrap(o.db.calls.first { $0.hasPrefix("create ") }).dropFirst(7)
        let sent = o.db.replayed(String(target))
        let lines = sent.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertTrue(lines[0].hasPrefix("\\restrict "), "psql is restricted before it reads anything: \(lines[0])")
        XCTAssertFalse(lines[0].contains("abc123"), "never the dump's own key")
        XCTAssertEqual(lines[1], "BEGIN;")
        XCTAssertTrue(sent.hasSuffix("COMMIT;\n"))
        XCTAssertFalse(sent.contains("\\unrestrict"), "no \\unrestrict from the input reaches psql")
        XCTAssertEqual(o.db.databases.keys.sorted(), ["authentik", "postgres"], "the scratch database was dropped")
        XCTAssertEqual(o.app.calls, [], "the services were never touched")
    }

    func testNothingIsCreatedBeforeTheWholeArtifactIsProven() throws {
        let bytes = artifact()
        var tampered = bytes
        tampered[tampered.count / 2] ^= 0xFF
        let o = try restore(bytes: tampered, manifest: try Harness.manifest(for: bytes))
        XCTAssertEqual(o.error?.code, .untrusted, "\(String(describing: o.error))")
        XCTAssertTrue(o.error?.message.contains("not the one described") == true, o.error?.message ?? "")
        XCTAssertFalse(o.db.calls.contains { $0.hasPrefix("create") || $0.hasPrefix("replay") }, "\(o.db.calls)")
    }

    func testMoreBytesThanSignedAreRefusedWhileReceiving() throws {
        let bytes = artifact()
        let o = try restore(bytes: bytes + [1, 2, 3], manifest: try Harness.manifest(for: bytes))
        XCTAssertEqual(o.error?.code, .untrusted)
        XCTAssertTrue(o.error?.message.contains("longer than") == true, o.error?.message ?? "")
        XCTAssertFalse(o.db.calls.contains { $0.hasPrefix("create") })
    }

    func testUnsignedArtifactIsRefusedUnlessTheOperatorTrustsIt() throws {
        let bytes = artifact()
        let refused = try restore(bytes: bytes, manifest: try Harness.manifest(for: bytes, signedBy: nil))
        XCTAssertEqual(refused.error?.code, .untrusted)
        XCTAssertTrue(refused.error?.hint.contains("--trust-unsigned") == true)
        XCTAssertEqual(refused.db.calls.filter { $0.hasPrefix("create") }, [])

        let trusted = try restore(bytes: bytes, manifest: try Harness.manifest(for: bytes, signedBy: nil), trustUnsigned: true)
        let r = try XCTUnwrap(trusted.result?.receipt)
        XCTAssertEqual(r.outcome, .tested, r.message)
        XCTAssertEqual(r.artifactSigned, false)
        XCTAssertNil(r.validation?.schemaChecked, "an unsigned manifest's facts prove nothing: only the key tables are checked")
    }

    /// A stolen laptop key may say --trust-unsigned; only the agent's own config lets unsigned content into live.
    func testUnsignedContentReachesLiveOnlyWhenTheAgentAllowsIt() throws {
        let bytes = artifact()
        for mode in [RestoreMode.swap, .replace] {
            let refused = try restore(mode: mode, bytes: bytes, manifest: nil, trustUnsigned: true)
            XCTAssertEqual(refused.error?.code, .untrusted, "\(mode)")
            XCTAssertTrue(refused.error?.hint.contains("allow_unsigned_restores = true") == true, refused.error?.hint ?? "")
            XCTAssertFalse(refused.db.calls.contains { $0.hasPrefix("create") || $0.hasPrefix("drop") || $0.hasPrefix("dump") }, "\(refused.db.calls)")
            XCTAssertEqual(refused.app.calls, [])
            let allowed = try restore(mode: mode, bytes: bytes, manifest: nil, trustUnsigned: true, allowUnsigned: true)
            XCTAssertEqual(allowed.result?.receipt.outcome, .restored, "\(mode): \(String(describing: allowed.error))")
        }
    }

    func testAManifestSignedByAnUnknownKeyNamesTheKeyToTrust() throws {
        let bytes = artifact()
        let o = try restore(bytes: bytes, manifest: try Harness.manifest(for: bytes, signedBy: Harness.otherKey))
        XCTAssertEqual(o.error?.code, .untrusted)
        XCTAssertTrue(o.error?.hint.contains("akbackup-agent trust-key \(Harness.otherKey.publicKey.text)") == true, o.error?.hint ?? "")
        // Disaster recovery: once the old key is trusted, its backups restore.
        let after = try restore(bytes: bytes, manifest: try Harness.manifest(for: bytes, signedBy: Harness.otherKey),
                                trustedKeys: [Harness.otherKey.publicKey.text])
        XCTAssertEqual(after.result?.receipt.outcome, .tested, "\(String(describing: after.error))")
    }

    func testATamperedManifestIsRefusedEvenWithTrustUnsigned() throws {
        let bytes = artifact()
        var manifest = try Harness.manifest(for: bytes)
        manifest.rowCounts["public.authentik_core_user"] = 99
        let o = try restore(bytes: bytes, manifest: manifest, trustUnsigned: true)
        XCTAssertEqual(o.error?.code, .untrusted)
        XCTAssertTrue(o.error?.message.contains("altered") == true, o.error?.message ?? "")
    }

    func testARequestThatDisagreesWithTheSignedManifestIsRefused() throws {
        let bytes = artifact()
        let o = try restore(bytes: bytes, manifest: try Harness.manifest(for: bytes), size: Int64(bytes.count + 1))
        XCTAssertEqual(o.error?.code, .badRequest)
        XCTAssertEqual(o.db.calls.filter { $0.hasPrefix("create") }, [])
    }

    func testValidationFailureDropsStagingAndLeavesLiveAndServices() throws {
        let bytes = artifact()
        let o = try restore(mode: .swap, bytes: bytes, manifest: try Harness.manifest(for: bytes)) { db, _ in
            db.state.update { $0.artifactModel.rowCounts["public.authentik_core_user"] = 2 }
        }
        let r = try XCTUnwrap(o.result?.receipt)
        XCTAssertEqual(r.outcome, .failed)
        XCTAssertTrue(r.message.contains("public.authentik_core_user has 2 rows, the manifest says 3"), r.message)
        XCTAssertEqual(o.db.databases["authentik"], FakeDatabase.sample)
        XCTAssertEqual(o.db.databases.keys.sorted(), ["authentik", "postgres"])
        XCTAssertEqual(o.app.calls, [])
    }

    func testChangedSchemaObjectsFailValidation() throws {
        let bytes = artifact()
        let o = try restore(bytes: bytes, manifest: try Harness.manifest(for: bytes)) { db, _ in
            db.state.update { $0.artifactModel.digests["functions"] = String(repeating: "b", count: 64) }
        }
        let r = try XCTUnwrap(o.result?.receipt)
        XCTAssertEqual(r.outcome, .failed)
        XCTAssertTrue(r.message.contains("schema objects differ from the backup's: functions"), r.message)
    }

    func testSwapRestoresAndKeepsTheUndoPoint() throws {
        let bytes = artifact()
        let o = try restore(mode: .swap, bytes: bytes, manifest: try Harness.manifest(for: bytes))
        let r = try XCTUnwrap(o.result?.receipt, "\(String(describing: o.error))")
        XCTAssertEqual(r.outcome, .restored, r.message)
        let undo = try XCTUnwrap(r.undoPoint)
        XCTAssertTrue(AgentDatabases.isOwn(undo))
        XCTAssertNotNil(o.db.databases[undo])
        XCTAssertEqual(o.app.calls, ["stop", "start", "health"])
        XCTAssertFalse(o.app.state.read { $0.stoppedWithoutShield })
    }

    func testReplaceTakesAVerifiedUndoCopyBeforeDroppingAnything() throws {
        let bytes = artifact()
        let o = try restore(mode: .replace, bytes: bytes, manifest: try Harness.manifest(for: bytes))
        let r = try XCTUnwrap(o.result?.receipt, "\(String(describing: o.error))")
        XCTAssertEqual(r.outcome, .restored, r.message)
        let calls = o.db.calls
        let dump = try XCTUnwrap(calls.firstIndex { $0.hasPrefix("dump authentik") })
        let drop = try XCTUnwrap(calls.firstIndex { $0 == "drop authentik" })
        XCTAssertLessThan(dump, drop, "the undo copy comes before the drop: \(calls)")
        let undo = try XCTUnwrap(r.undoPoint)
        XCTAssertTrue(FileManager.default.fileExists(atPath: undo), undo)
        var inflated: [UInt8] = []
        let inflater = GzipInflater()
        try inflater.push(try FileIO.readFile(undo, limit: 1 << 20)) { inflated += $0 }
        try inflater.finish()
        XCTAssertEqual(inflated, FakeDatabase.dump(rows: 3), "the undo copy is the live database's dump")
        XCTAssertEqual(o.app.calls.first, "stop")
        XCTAssertFalse(o.app.state.read { $0.stoppedWithoutShield })
    }

    func testReplaceIsRefusedWhenNoUndoCopyCanBeMade() throws {
        let bytes = artifact()
        let o = try restore(mode: .replace, bytes: bytes, manifest: try Harness.manifest(for: bytes)) { db, _ in
            db.state.update { $0.dumpText = Array("-- no trailer\n".utf8) }
        }
        XCTAssertNotNil(o.error, "a replace without an undo copy must not run")
        XCTAssertFalse(o.db.calls.contains("drop authentik"), "\(o.db.calls)")
        XCTAssertEqual(o.app.calls, [], "the services were never stopped")
    }

    /// Regression: a controller gone before restore.ready left a staging database behind (the agent
    /// died on the failed write). Now nothing is created before the artifact is proven.
    func testControllerGoneBeforeTheArtifactArrivesChangesNothing() throws {
        let db = FakeDatabase(), app = FakeApp()
        let agent = try InProcessAgent(context: Harness.context(db: db, app: app))
        let bytes = artifact()
        let manifest = try Harness.manifest(for: bytes)
        let id = agent.client.makeID()
        try agent.client.send(RestoreRequest(id: id, mode: .swap, artifact: artifactName, size: manifest.size, sha256: manifest.sha256, manifest: manifest,
                                             trustUnsigned: false, force: false, healthTimeout: 5, requestedBy: requestedBy))
        _ = try agent.client.expect(RestoreReady.self, id: id)
        try agent.client.send(DataHeader(id: id, stream: "artifact"))
        try agent.client.sendChunk(Array(bytes.prefix(10)))
        agent.client.close()
        XCTAssertNotNil(agent.waitForEnd(), "the agent ends when the controller goes away")
        XCTAssertFalse(db.calls.contains { $0.hasPrefix("create") || $0.hasPrefix("replay") }, "\(db.calls)")
        XCTAssertEqual(app.calls, [])
    }

    func testTheVersionGuardRefusesANewerAuthentik() throws {
        let bytes = artifact()
        var manifest = try Harness.manifest(for: bytes, signedBy: nil)
        manifest.source.authentikVersion = "2099.1.0"
        try manifest.sign(with: Harness.key.privateKey)
        let o = try restore(mode: .swap, bytes: bytes, manifest: manifest)
        XCTAssertEqual(o.error?.code, .failed)
        XCTAssertTrue(o.error?.message.contains("cannot migrate a database backwards") == true, o.error?.message ?? "")
    }
}

enum SHA256Digest {
    static func of(_ bytes: [UInt8]) -> [UInt8] {
        var h = Crypto.SHA256()
        h.update(data: bytes)
        return Array(h.finalize())
    }
}
