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
