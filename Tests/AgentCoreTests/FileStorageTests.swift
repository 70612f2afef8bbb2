import AgentCore
import Foundation
import XCTest

final class FileStorageTests: XCTestCase {
    func inspect(_ containers: [(String, [(type: String, source: String, destination: String)])]) -> Data {
        let array = containers.map { name, mounts in
            ["Name": "/" + name, "Mounts": mounts.map { ["Type": $0.type, "Source": $0.source, "Destination": $0.destination, "RW": true] }] as [String: Any]
        }
        return try! JSONSerialization.data(withJSONObject: array)
    }

    /// Authentik's own compose file: server and worker share ./media and ./custom-templates; the worker
    /// also has ./certs and the Docker socket.
    func testAuthentiksComposeFileGivesMediaTemplatesCertsAndABlueprint() throws {
        let data = inspect([
            ("authentik-server", [("bind", "/opt/authentik/media", "/media"), ("bind", "/opt/authentik/custom-templates", "/templates")]),
            ("authentik-worker", [("bind", "/var/run/docker.sock", "/var/run/docker.sock"), ("bind", "/opt/authentik/media", "/media"),
                                  ("bind", "/opt/authentik/certs", "/certs"), ("bind", "/opt/authentik/custom-templates", "/templates"),
                                  ("bind", "/opt/authentik/blueprints", "/blueprints/custom"), ("volume", "/var/lib/docker/volumes/x", "/data")]),
        ])
        let mounts = try FileStorage.mounts(inspectJSON: data)
        XCTAssertEqual(mounts.map(\.containerPath), ["/blueprints/custom", "/certs", "/media", "/templates"])
        XCTAssertEqual(mounts.first { $0.containerPath == "/media" }?.containers, ["authentik-server", "authentik-worker"])
        XCTAssertFalse(mounts.contains { $0.hostPath.contains("docker.sock") }, "the Docker socket is never taken")
        XCTAssertFalse(mounts.contains { $0.containerPath == "/data" }, "only bind mounts: a named volume is not a directory of the stack")
    }

    func testNewerAuthentikMountsData() throws {
        let data = inspect([("authentik-server", [("bind", "/srv/ak/data/", "/data/")])])
        XCTAssertEqual(try FileStorage.mounts(inspectJSON: data), [FileMount(containerPath: "/data", hostPath: "/srv/ak/data", containers: ["authentik-server"])])
    }

    func testOtherMountsTheSocketTheRootAndExclusionsAreLeftOut() throws {
        let data = inspect([("authentik-server", [("bind", "/etc/localtime", "/etc/localtime"), ("bind", "/", "/media"),
                                                  ("bind", "/run/docker.sock", "/certs"), ("bind", "/opt/t", "/templates"),
                                                  ("bind", "/opt/b", "/blueprints/../blueprints/custom"), ("bind", "/opt/x", "/mediax")])])
        XCTAssertEqual(try FileStorage.mounts(inspectJSON: data).map(\.containerPath), ["/blueprints/custom", "/templates"])
        XCTAssertEqual(try FileStorage.mounts(inspectJSON: data, exclude: ["/opt/t"]).map(\.containerPath), ["/blueprints/custom"])
        XCTAssertEqual(try FileStorage.mounts(inspectJSON: data, exclude: ["/blueprints/custom/"]).map(\.containerPath), ["/templates"])
    }

    func testTwoDirectoriesAtOnePathAreAnErrorNotAGuess() {
        let data = inspect([("authentik-server", [("bind", "/a/media", "/media")]), ("authentik-worker", [("bind", "/b/media", "/media")])])
        XCTAssertThrowsError(try FileStorage.mounts(inspectJSON: data)) { e in
            XCTAssertEqual(e as? FileStorageError, .conflict(containerPath: "/media", hostPaths: ["/a/media", "/b/media"]))
        }
    }

    func testAStackWithoutFileMountsHasNone() throws {
        XCTAssertEqual(try FileStorage.mounts(inspectJSON: inspect([("authentik-server", []), ("authentik-worker", [])])), [])
        XCTAssertEqual(try FileStorage.mounts(inspectJSON: Data("[{\"Name\":\"/authentik-server\",\"Mounts\":null}]".utf8)), [])
    }

    func testConfiguredDirectoriesAreAddedOrReplaceWhatWasFound() throws {
        let found = [FileMount(containerPath: "/media", hostPath: "/opt/stack/media", containers: ["authentik-server"])]
        let mounts = FileStorage.including(found, ["/certs=/srv/certs/", "/media=/srv/volumes/media/_data"], containers: ["s", "w"])
        XCTAssertEqual(mounts, [FileMount(containerPath: "/certs", hostPath: "/srv/certs", containers: ["s", "w"]),
                                FileMount(containerPath: "/media", hostPath: "/srv/volumes/media/_data", containers: ["s", "w"])])
    }

    func testAFilesIncludeEntryThatIsNotAuthentiksFilesIsAConfigError() throws {
        let path = NSTemporaryDirectory() + "agent-\(UUID().uuidString).toml"
        defer { try? FileManager.default.removeItem(atPath: path) }
        for bad in ["/etc=/etc", "/media", "media=/srv/m", "/media=relative", "/media=/srv/../etc"] {
            try "files_include = [\"\(bad)\"]\n".write(toFile: path, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try AgentConfig.load(path: path), bad) { XCTAssertTrue("\($0)".contains("files_include"), "\($0)") }
        }
        try "files_include = [\"/blueprints/custom=/srv/blueprints\"]\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(try AgentConfig.load(path: path).filesInclude, ["/blueprints/custom=/srv/blueprints"])
    }
}
