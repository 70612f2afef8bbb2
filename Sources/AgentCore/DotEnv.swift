/// Reads a Compose-style `.env` file: `KEY=value` lines, `#` comments, optional `export `,
/// single quotes (literal), double quotes (with \n \" \\ escapes), unquoted values with trailing
/// ` # comments`. Values stay on this host: callers pass them only in a child's environment.
public enum DotEnv {
    public static func parse(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = Substring(raw)
            if line.hasSuffix("\r") { line = line.dropLast() }
            line = line.drop(while: { $0 == " " || $0 == "\t" })
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") || line.hasPrefix("export\t") {
                line = line.dropFirst(7).drop(while: { $0 == " " || $0 == "\t" })
            }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }) else { continue }
            var value = line[line.index(after: eq)...].drop(while: { $0 == " " || $0 == "\t" })
            if value.hasPrefix("'") {
                value = value.dropFirst()
                result[key] = String(value.prefix(while: { $0 != "'" }))
            } else if value.hasPrefix("\"") {
                value = value.dropFirst()
                var out = ""
                var escaped = false
                for ch in value {
                    if escaped {
                        switch ch {
                        case "n": out.append("\n")
                        case "t": out.append("\t")
                        default: out.append(ch)
                        }
                        escaped = false
                    } else if ch == "\\" {
                        escaped = true
                    } else if ch == "\"" {
                        break
                    } else {
                        out.append(ch)
                    }
                }
                result[key] = out
            } else {
                var v = String(value)
                if let hash = v.range(of: " #") ?? v.range(of: "\t#") { v = String(v[..<hash.lowerBound]) }
                result[key] = v.trimmingCharacters(in: .whitespaces)
            }
        }
        return result
    }
}

import Foundation
