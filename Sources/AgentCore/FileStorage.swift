import AKBase
import ProcessRunner
import Foundation

/// Which of Authentik's directories a backup takes: the bind mounts of its server and worker
/// containers (from `docker inspect`) whose container path is file storage (`/media`, since 2025.12
/// `/data`), custom templates (`/templates`), certificates (`/certs`) or blueprints (under
/// `/blueprints`). Found by the agent on its own host; the controller never names a path. Pure:
/// `docker inspect` output in, a list out.
public struct FileMount: Sendable, Equatable, Codable {
    /// Where the app sees it (`/media`, `/templates`, …): what the manifest records.
    public var containerPath: String
    /// Where it is on infra-core: what the agent reads and restores.
    public var hostPath: String
    /// The containers that mount it (server and worker usually share /media).
    public var containers: [String]

    public init(containerPath: String, hostPath: String, containers: [String]) {
        self.containerPath = containerPath
        self.hostPath = hostPath
        self.containers = containers
    }
}

public enum FileStorage {
    /// Container paths that are Authentik's files (Authentik's backup guide).
    public static let storagePaths = ["/media", "/data", "/templates", "/certs"]
    public static let blueprintsRoot = "/blueprints"

    /// Host paths never taken, whatever the config says: the Docker socket gives root on infra-core.
    public static let neverTaken = ["/var/run/docker.sock", "/run/docker.sock"]

    public static func isAuthentikFiles(_ containerPath: String) -> Bool {
        let p = normalized(containerPath)
        return storagePaths.contains(p) || p == blueprintsRoot || p.hasPrefix(blueprintsRoot + "/")
    }

    /// `docker inspect` output (a JSON array of containers) → the mounts to back up, by container path.
    /// `exclude`: container or host paths the agent's config leaves out.
    public static func mounts(inspectJSON: Data, exclude: [String] = []) throws -> [FileMount] {
        struct Container: Decodable {
            var Name: String
            var Mounts: [Mount]?
        }
        struct Mount: Decodable {
            var `Type`: String
            var Source: String
            var Destination: String
        }
        let containers = try JSONDecoder().decode([Container].self, from: inspectJSON)
        let excluded = Set(exclude.map(normalized))
        var byDestination: [String: FileMount] = [:]
        for c in containers {
            let name = c.Name.hasPrefix("/") ? String(c.Name.dropFirst()) : c.Name
            for m in c.Mounts ?? [] where m.Type == "bind" {
                let destination = normalized(m.Destination)
                let source = normalized(m.Source)
                guard isAuthentikFiles(destination), !neverTaken.contains(source), source.hasPrefix("/"), source != "/",
                      !excluded.contains(destination), !excluded.contains(source) else { continue }
                if var known = byDestination[destination] {
                    // Two containers mounting different host directories at one path: take neither silently.
                    guard known.hostPath == source else {
                        throw FileStorageError.conflict(containerPath: destination, hostPaths: [known.hostPath, source].sorted())
                    }
                    if !known.containers.contains(name) { known.containers.append(name) }
                    byDestination[destination] = known
                } else {
                    byDestination[destination] = FileMount(containerPath: destination, hostPath: source, containers: [name])
                }
            }
        }
        return byDestination.values.sorted { $0.containerPath < $1.containerPath }
    }

    /// The configured "CONTAINER_PATH=HOST_PATH" entries (checked when the config was read) added to
    /// the mounts found, replacing one found at the same container path.
    public static func including(_ found: [FileMount], _ entries: [String], containers: [String]) -> [FileMount] {
        var byPath = Dictionary(found.map { ($0.containerPath, $0) }, uniquingKeysWith: { a, _ in a })
        for entry in entries {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            byPath[normalized(parts[0])] = FileMount(containerPath: normalized(parts[0]), hostPath: normalized(parts[1]), containers: containers)
        }
        return byPath.values.sorted { $0.containerPath < $1.containerPath }
    }

    /// `/media/` and `/media//x/..` are `/media`; no `..` survives (a mount at `/x/../media` is `/media`).
    static func normalized(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { _ = parts.popLast(); continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }
}

public enum FileStorageError: Error, Equatable, CustomStringConvertible {
    case conflict(containerPath: String, hostPaths: [String])

    public var description: String {
        switch self {
        case .conflict(let path, let hosts):
            return "Authentik's containers mount different directories at \(path): \(hosts.joined(separator: " and "))"
        }
    }
}

/// Authentik's files on this host, the third seam of the agent's jobs: which mounts there are, and
/// the two things the agent's non-root login cannot do by itself — read a file only the container
/// user may read, give restored entries their owners back (and remove them again) — done through
/// Docker, argv only. Tests use `NoAppFiles` or a fake over temporary directories.
public protocol AppFiles: Sendable {
    /// The mounts to back up; empty when the stack has none (or `files = false`).
    func mounts() throws -> [FileMount]
    /// Streams `relative` under `mount` through a container that mounts it.
    func readThrough(_ mount: FileMount, relative: String, sink: ([UInt8]) throws -> Void) throws
    /// Sets the owners of entries under `root` (a directory this agent made): paths relative to it, by "uid:gid".
    func setOwners(root: String, owners: [String: [String]]) throws
    /// Removes `path` (a tree this agent made or moved aside), whoever its entries belong to now.
    func removeTree(_ path: String) throws
}

/// A stack without file mounts (and the unit tests' default).
public struct NoAppFiles: AppFiles {
    public init() {}
    public func mounts() throws -> [FileMount] { [] }
    public func readThrough(_ mount: FileMount, relative: String, sink: ([UInt8]) throws -> Void) throws {
        throw Failure("cannot read \(mount.hostPath)/\(relative)", hint: "give the agent's login read access")
    }
    public func setOwners(root: String, owners: [String: [String]]) throws {}
    public func removeTree(_ path: String) throws { try FileManager.default.removeItem(atPath: path) }
}

/// The real host: `docker inspect` for the mounts; `docker exec` into the running container for a
/// file the agent cannot read; a throwaway container of the server's own image (no network, only the
/// directory in question mounted) for owners and removal.
public struct DockerFiles: AppFiles {
    public let config: AgentConfig
    public init(config: AgentConfig) { self.config = config }

    public func mounts() throws -> [FileMount] {
        guard config.files else { return [] }
        let r = try ChildProcess.run([config.docker, "inspect", "--type", "container", config.serverContainer, config.workerContainer], timeout: 30)
        guard r.status == 0 else {
            throw Failure("cannot inspect \(config.serverContainer) and \(config.workerContainer): \(r.stderrLastLine)",
                          hint: "check the stack (docker compose ps), server_container / worker_container in \(AgentConfig.defaultPath), or set files = false there")
        }
        do {
            return FileStorage.including(try FileStorage.mounts(inspectJSON: Data(r.stdout), exclude: config.filesExclude),
                                         config.filesInclude, containers: [config.serverContainer, config.workerContainer])
        } catch let e as FileStorageError {
            throw Failure("\(e)", hint: "leave one of them out with files_exclude in \(AgentConfig.defaultPath)")
        }
    }

    public func readThrough(_ mount: FileMount, relative: String, sink: ([UInt8]) throws -> Void) throws {
        // The path comes from this host's own directory listing, never from the wire.
        let container = mount.containers.first ?? config.serverContainer
        let child = try ChildProcess.spawn([config.docker, "exec", "--user", "0", container, "cat", "--", mount.containerPath + "/" + relative])
        do {
            try child.readAll { try sink($0) }
        } catch {
            _ = child.terminate()
            throw error
        }
        let end = child.wait(timeout: 60) ?? child.terminate(timedOut: true)
        if let failure = end.failure {
            throw Failure("cannot read \(mount.hostPath)/\(relative) (not as \(NSUserName()), not through \(container)): \(failure)",
                          hint: "make it readable for \(NSUserName()), or leave its directory out with files_exclude in \(AgentConfig.defaultPath)")
        }
    }

    /// The server's image, by ID (a retagged image is still the one running).
    func image() throws -> String {
        let r = try ChildProcess.run([config.docker, "inspect", "--type", "container", "--format", "{{.Image}}", config.serverContainer], timeout: 30)
        let id = r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard r.status == 0, !id.isEmpty else {
            throw Failure("cannot find the image of \(config.serverContainer): \(r.stderrLastLine)", hint: "check the stack (docker compose ps)")
        }
        return id
    }

    /// `docker run` of the server's image as root, with no network and only `dir` mounted at /akbackup.
    func helper(_ dir: String, image: String, entrypoint: String, _ args: [String]) -> [String] {
        [config.docker, "run", "--rm", "-i", "--pull", "never", "--network", "none", "--user", "0:0", "--entrypoint", entrypoint,
         "-v", dir + ":/akbackup", image] + args
    }

    public func setOwners(root: String, owners: [String: [String]]) throws {
        guard !owners.isEmpty else { return }
        let image = try image()
        for (owner, paths) in owners.sorted(by: { $0.key < $1.key }) {
            // Owner strings come from this agent's own unpacker ("uid:gid", digits); paths go on stdin.
            guard owner.allSatisfy({ $0.isNumber || $0 == ":" }) else { continue }
            var input: [UInt8] = []
            for p in paths { input += Array("/akbackup/\(p)".utf8) + [0] }
            let r = try ChildProcess.run(helper(root, image: image, entrypoint: "xargs", ["-0", "-r", "chown", "-h", owner, "--"]),
                                         stdin: input, timeout: 600)
            guard r.status == 0, !r.timedOut else {
                throw Failure("cannot give \(paths.count) restored entries their owner \(owner): \(r.timedOut ? "timed out" : r.stderrLastLine)",
                              hint: "the agent sets owners through a container of \(config.serverContainer)'s image; check that docker run works for \(NSUserName())")
            }
        }
    }

    public func removeTree(_ path: String) throws {
        if (try? FileManager.default.removeItem(atPath: path)) != nil { return }
        guard FileManager.default.fileExists(atPath: path) else { return }
        let parent = (path as NSString).deletingLastPathComponent, name = (path as NSString).lastPathComponent
        let r = try ChildProcess.run(helper(parent, image: try image(), entrypoint: "rm", ["-rf", "--", "/akbackup/" + name]), timeout: 600)
        guard r.status == 0, !r.timedOut else {
            throw Failure("cannot remove \(path): \(r.timedOut ? "timed out" : r.stderrLastLine)", hint: "remove it by hand: sudo rm -rf \(path)")
        }
    }
}
