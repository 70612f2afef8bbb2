import Foundation
import SSHTransport
import Transport

/// `akbackup trust HOST`: shows the host key's fingerprint, asks, then appends a hashed known_hosts line.
/// A key that differs from a trusted one is never replaced here: that is the operator's call.
public enum TrustHost {
    public static func run(alias: String, config: ControllerConfig, assumeYes: Bool,
                           ask: (String) -> String? = { prompt in
                               print(prompt, terminator: "")
                               fflush(nil)
                               return readLine()
                           }) throws -> ExitStatus {
        let endpoint = try SSHConfigResolver.resolve(alias: alias, configFile: config.sshConfigFile)
        let key = try SSHHostKeyProbe.fetch(endpoint: endpoint)
        let shown = endpoint.port == 22 ? endpoint.hostName : "[\(endpoint.hostName)]:\(endpoint.port)"
        let known = KnownHosts.entries(for: endpoint.hostName, port: endpoint.port, files: endpoint.userKnownHostsFiles)
        if known.contains(where: { $0.keyType == key.keyType && $0.keyBase64 == key.base64Blob }) {
            print("\(alias) (\(shown)): \(key.keyType) \(key.fingerprint) is already trusted")
            return .ok
        }
        if let other = known.first(where: { $0.keyType == key.keyType }) {
            throw TransportError(.hostKeyChanged, host: alias,
                                 "the \(key.keyType) key of \(shown) is now \(key.fingerprint) but \(other.file):\(other.line) holds another one",
                                 hint: "if the host was really reinstalled, remove the old entry with `ssh-keygen -R \(endpoint.hostName) -f \(other.file)` and run `akbackup trust \(alias)` again")
        }
        guard let file = endpoint.userKnownHostsFiles.first else {
            throw TransportError(.hostKeyUnknown, host: alias, "no known_hosts file is configured for \(alias)",
                                 hint: "set UserKnownHostsFile in ~/.ssh/config")
        }
        print("The authenticity of host '\(alias) (\(shown))' can't be established.")
        print("\(key.keyType) key fingerprint is \(key.fingerprint).")
        if !assumeYes {
            guard isatty(0) != 0 else {
                throw TransportError(.hostKeyUnknown, host: alias, "not trusting \(key.fingerprint) without a confirmation",
                                     hint: "run `akbackup trust \(alias)` on a terminal, or pass --yes after checking the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_\(key.keyType.replacingOccurrences(of: "ssh-", with: ""))_key.pub)")
            }
            let answer = ask("Add it to \(file)? (yes/no) ")?.trimmingCharacters(in: .whitespaces).lowercased()
            guard answer == "yes" else {
                print("not added")
                return .failed
            }
        }
        try KnownHosts.append(host: endpoint.hostName, port: endpoint.port, keyType: key.keyType, keyBase64: key.base64Blob, file: file)
        print("added \(key.keyType) \(key.fingerprint) for \(shown) to \(file) (hashed)")
        return .ok
    }
}
