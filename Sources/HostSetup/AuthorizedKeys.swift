import AKBase
import Foundation

/// The edit `authorize` makes to an `authorized_keys` file, as a pure function of its contents.
public enum AuthorizedKeys {
    /// What changed in the file.
    public enum Change: Equatable, Sendable {
        /// The line was there already, once, and no other line names the key.
        case unchanged
        /// The line was appended.
        case added
        /// This many lines for the same key (with other options or another command) were replaced
        /// by the one line, at the first one's place.
        case replaced(Int)
    }

    /// `command="PROGRAM ARGS",restrict TYPE BLOB COMMENT`: sshd runs the command whatever the
    /// client asked for, and `restrict` refuses forwarding, PTYs and agent forwarding.
    /// The command is run by the login's shell, so the program path and its arguments are limited to
    /// characters that mean nothing to a shell or to sshd's quoting.
    public static func forcedCommandLine(command: [String], key: OperatorKey) throws -> String {
        let safe = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._+-=,:@")
        for word in command where word.isEmpty || !word.allSatisfy(safe.contains) {
            throw Failure("cannot put \"\(word)\" into an authorized_keys forced command",
                          hint: "install the program and its config under paths made of letters, digits and / . _ + - only")
        }
        let line = "command=\"\(command.joined(separator: " "))\",restrict \(key.type) \(key.blob)"
        return key.comment.isEmpty ? line : line + " " + key.comment
    }

    /// `contents` with `line` authorizing `key`: any other line for the same key is dropped (sshd
    /// would use the first line matching a key, so an older unrestricted line would defeat the forced
    /// command), the line takes the first such line's place or is appended, and nothing else in the
    /// file — comments, other keys, their order — changes.
    public static func adding(_ line: String, for key: OperatorKey, to contents: String) -> (contents: String, change: Change) {
        var lines = contents.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        let same = lines.indices.filter { keyData(of: lines[$0]) == key.blob }
        if same.count == 1, lines[same[0]] == line { return (contents, .unchanged) }
        var out: [String] = []
        var placed = false
        for (i, l) in lines.enumerated() {
            if same.contains(i) {
                if !placed { out.append(line); placed = true }
            } else {
                out.append(l)
            }
        }
        if !placed { out.append(line) }
        return (out.joined(separator: "\n") + "\n", same.isEmpty ? .added : .replaced(same.count))
    }

    /// The base64 key data of an authorized_keys line (`[options] type data [comment]`), nil for
    /// comments, blank lines and lines sshd could not read either.
    static func keyData(of rawLine: String) -> String? {
        var rest = Substring(rawLine.trimmingCharacters(in: .whitespacesAndNewlines))
        guard !rest.isEmpty, !rest.hasPrefix("#") else { return nil }
        if !looksLikeKeyType(rest.prefix { $0 != " " && $0 != "\t" }) {
            // Options: up to the first blank outside double quotes (a quote may be escaped with \).
            var inQuotes = false
            var escaped = false
            var end = rest.endIndex
            for i in rest.indices {
                let c = rest[i]
                if escaped { escaped = false; continue }
                if c == "\\" { escaped = true; continue }
                if c == "\"" { inQuotes.toggle(); continue }
                if !inQuotes && (c == " " || c == "\t") { end = i; break }
            }
            rest = rest[end...].drop { $0 == " " || $0 == "\t" }
        }
        let fields = rest.split(maxSplits: 2, whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 2, looksLikeKeyType(fields[0]) else { return nil }
        return String(fields[1])
    }

    static func looksLikeKeyType(_ word: Substring) -> Bool {
        word.hasPrefix("ssh-") || word.hasPrefix("ecdsa-sha2-") || word.hasPrefix("sk-") || word.hasPrefix("rsa-sha2-")
    }
}
