@testable import AgentCore
import AKProtocol
import Foundation
import ProtocolSession
import Transport
import XCTest

/// The agent's restore with `docker` replaced by a script that records every call and succeeds
/// with empty output: what the agent does to the database server when the controller misbehaves.
final class RestoreCleanupTests: XCTestCase {
    private var dir: URL!
    private var dockerLog: URL { dir.appendingPathComponent("docker.log") }

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("akbackup-restore-cleanup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    private func host() throws -> AgentHost {
        let docker = dir.appendingPathComponent("docker")
        try "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '\(dockerLog.path)'\n".write(to: docker, atomically: true, encoding: .utf8)
        chmod(docker.path, 0o755)
        let env = dir.appendingPathComponent("env")
        try "AUTHENTIK_DB_PASSWORD=secret\n".write(to: env, atomically: true, encoding: .utf8)
        var config = AgentConfig()
        config.docker = docker.path
        config.envFile = env.path
        config.stateDir = dir.appendingPathComponent("state").path
        return AgentHost(config: config)
    }

    private func calls() -> [String] {
        ((try? String(contentsOf: dockerLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// Regression: the controller killed right after the staging database was created (before the
    /// agent could send restore.ready) left the staging database behind until the next restore.
    func testControllerGoneBeforeRestoreReadyDropsTheStagingDatabase() throws {
        let job = RestoreJob(host: try host(), hostName: "infra-core", controller: "laptop", log: { _ in })
        let (agentEnd, controllerEnd) = InProcessPipe.makePair()
        controllerEnd.close()  // the controller is gone: the agent's next write fails
        let session = ServerSession(channel: agentEnd, hello: Hello(role: .agent, host: "infra-core"), log: { _ in })
        let request = RestoreRequest(id: 1, mode: .test, artifact: "authentik-db-2026-01-31T020000Z.sql.gz",
                                     sha256: String(repeating: "0", count: 64), manifest: nil, force: false, healthTimeout: 5)
        XCTAssertThrowsError(try job.run(request, session: session)) { error in
            XCTAssertTrue(error is TransportError, "\(error)")
        }
        let created = calls().compactMap { call -> String? in
            guard let r = call.range(of: #"CREATE DATABASE "authentik_restoretest_[0-9]{14}""#, options: .regularExpression) else { return nil }
            return String(call[r].dropFirst("CREATE DATABASE ".count))
        }
        XCTAssertEqual(created.count, 1, "\(calls())")
        let target = try XCTUnwrap(created.first)
        XCTAssertTrue(calls().contains { $0.contains("DROP DATABASE IF EXISTS \(target) WITH (FORCE)") },
                      "the staging database \(target) was not dropped: \(calls())")
        XCTAssertFalse(calls().contains { $0.contains("compose") }, "the services were touched: \(calls())")
    }
}
