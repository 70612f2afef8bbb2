import AKProtocol
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One operation at a time per host. An flock on a file in the agent's state directory: the
/// kernel releases it when the holding process dies, so a killed agent never blocks forever.
/// The file's content says who holds it, for the refusal message.
public final class OperationLock {
    private let fd: Int32
    public let path: String

    struct Holder: Codable {
        var operation: String
        var pid: Int32
        var since: String
        var controller: String
    }

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    public static func acquire(stateDir: String, host: String, operation: String, controller: String) throws -> OperationLock {
        do {
            try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        } catch {
            throw ErrorMessage(id: nil, code: .failed, message: "cannot create the agent state directory \(stateDir) as \(NSUserName())",
                               hint: "create it: sudo install -d -o \(NSUserName()) \(stateDir) (deploy/agent/install does this)")
        }
        let path = (stateDir as NSString).appendingPathComponent("operation.lock")
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ErrorMessage(id: nil, code: .failed, message: "cannot open \(path): \(String(cString: strerror(errno)))",
                               hint: "give \(NSUserName()) write access to \(stateDir)")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = pread(fd, &buffer, buffer.count, 0)
            close(fd)
            let holder = n > 0 ? try? JSONDecoder().decode(Holder.self, from: Data(buffer[0..<n])) : nil
            let who = holder.map { "\($0.operation) (pid \($0.pid), since \($0.since), from \($0.controller))" } ?? "another operation"
            throw ErrorMessage(id: nil, code: .busy, message: "\(host) is busy: \(who) holds the lock",
                               hint: "wait for it to finish and try again; the lock is released as soon as that process ends")
        }
        let holder = Holder(operation: operation, pid: getpid(), since: Timestamp.now(), controller: controller)
        let data = (try? JSONEncoder().encode(holder)) ?? Data()
        ftruncate(fd, 0)
        _ = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return OperationLock(fd: fd, path: path)
    }

    public func release() {
        ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
    }
}
