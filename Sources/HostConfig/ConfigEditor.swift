import AKBase
import Foundation

/// The one change akbackup's commands make to a host's own config file: adding a value to a
/// top-level string array (`trusted_keys`, `trusted_agent_keys`). Everything else in the file —
/// comments, order, other keys — stays as the operator wrote it. Written atomically.
public enum ConfigEditor {
    /// Adds `value` to the array `key` (creating the line when absent). Returns false when it was already there.
    @discardableResult
    public static func addToStringArray(path: String, key: String, value: String) throws -> Bool {
        let existing = try ConfigFile.load(path: path)
        var current = try existing?.strings(key) ?? []
        if current.contains(value) { return false }
        current.append(value)
        let rendered = "\(key) = [" + current.map { "\"\(escape($0))\"" }.joined(separator: ", ") + "]"
        var lines = existing == nil ? [] : (try String(contentsOfFile: path, encoding: .utf8)).components(separatedBy: "\n")
        if let lineNo = existing?.lines[key] {
            lines[lineNo - 1] = rendered
        } else {
            // Before the first table header: top-level keys must come first in TOML.
            let firstTable = lines.firstIndex { $0.trimmingCharacters(in: .whitespaces).hasPrefix("[") } ?? lines.count
            var insertAt = firstTable
            if insertAt == lines.count, lines.last == "" { insertAt -= 1 }
            lines.insert(rendered, at: max(0, insertAt))
        }
        var text = lines.joined(separator: "\n")
        if !text.hasSuffix("\n") { text += "\n" }
        // Check what we are about to write reads back as intended.
        _ = try ConfigFile(text: text, path: path)
        var mode: mode_t = 0o644
        var st = stat()
        if stat(path, &st) == 0 { mode = st.st_mode & 0o777 }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileIO.writeAtomically(path, bytes: Array(text.utf8), mode: mode, replace: true)
        return true
    }

    private static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
