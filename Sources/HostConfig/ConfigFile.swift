import AKBase
import Foundation

/// A value from a config file.
public enum ConfigValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case strings([String])

    var typeName: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .boolean: return "a boolean"
        case .strings: return "an array of strings"
        }
    }
}

/// A config file problem, naming the file, the line and the key.
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String
    public var line: Int?
    public var message: String
    public var hint: String

    public init(file: String, line: Int?, message: String, hint: String) {
        self.file = file
        self.line = line
        self.message = message
        self.hint = hint
    }

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return "\(place): \(message)\nhint: \(hint)"
    }
}

/// The subset of TOML that akbackup's config files use: `[table]` headers, `key = value` with
/// strings ("basic" or 'literal'), integers, booleans and one-line arrays of strings, `#` comments.
/// Keys are addressed as "table.key" (or "key" before any table).
public struct ConfigFile: Sendable {
    public let path: String
    public private(set) var values: [String: ConfigValue] = [:]
    public private(set) var lines: [String: Int] = [:]

    public init(text: String, path: String) throws {
        self.path = path
        var table = ""
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNo = index + 1
            var scanner = LineScanner(Array(rawLine.utf8), file: path, line: lineNo)
            scanner.skipSpace()
            if scanner.atEndOrComment { continue }
            if scanner.peek == UInt8(ascii: "[") {
                scanner.advance()
                scanner.skipSpace()
                let name = try scanner.bareKey()
                scanner.skipSpace()
                try scanner.expect("]")
                scanner.skipSpace()
                guard scanner.atEndOrComment else { throw scanner.error("unexpected text after table header") }
                table = name
                continue
            }
            let key = try scanner.bareKey()
            scanner.skipSpace()
            try scanner.expect("=")
            scanner.skipSpace()
            let value = try scanner.value()
            scanner.skipSpace()
            guard scanner.atEndOrComment else { throw scanner.error("unexpected text after the value of \(key)") }
            let full = table.isEmpty ? key : "\(table).\(key)"
            if values[full] != nil {
                throw ConfigError(file: path, line: lineNo, message: "key \"\(full)\" is set twice",
                                  hint: "keep one of the two lines")
            }
            values[full] = value
            lines[full] = lineNo
        }
    }

    /// Reads `path`. A missing file is nil: every key has a default.
    public static func load(path: String) throws -> ConfigFile? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, line: nil, message: "cannot read the config file",
                              hint: "check its permissions (the program runs as \(NSUserName()))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, line: nil, message: "the config file is not UTF-8 text", hint: "rewrite it as UTF-8")
        }
        return try ConfigFile(text: text, path: path)
    }

    /// Refuses keys the program does not know: a typo must not silently fall back to a default.
    public func requireKnownKeys(_ known: Set<String>) throws {
        for key in values.keys.sorted() where !known.contains(key) {
            throw ConfigError(file: path, line: lines[key], message: "unknown key \"\(key)\"",
                              hint: "known keys: \(known.sorted().joined(separator: ", "))")
        }
    }

    public func string(_ key: String) throws -> String? {
        guard let v = values[key] else { return nil }
        guard case .string(let s) = v else { throw typeError(key, v, "a string") }
        return s
    }

    public func integer(_ key: String) throws -> Int? {
        guard let v = values[key] else { return nil }
        guard case .integer(let i) = v else { throw typeError(key, v, "an integer") }
        return i
    }

    public func boolean(_ key: String) throws -> Bool? {
        guard let v = values[key] else { return nil }
        guard case .boolean(let b) = v else { throw typeError(key, v, "a boolean (true or false)") }
        return b
    }

    public func strings(_ key: String) throws -> [String]? {
        guard let v = values[key] else { return nil }
        guard case .strings(let a) = v else { throw typeError(key, v, "an array of strings") }
        return a
    }

    private func typeError(_ key: String, _ value: ConfigValue, _ expected: String) -> ConfigError {
        ConfigError(file: path, line: lines[key], message: "key \"\(key)\" must be \(expected), not \(value.typeName)",
                    hint: "fix the value on that line")
    }
}

private struct LineScanner {
    let bytes: [UInt8]
    var pos = 0
    let file: String
    let line: Int

    init(_ bytes: [UInt8], file: String, line: Int) {
        self.bytes = bytes.last == UInt8(ascii: "\r") ? Array(bytes.dropLast()) : bytes
        self.file = file
        self.line = line
    }

    var peek: UInt8? { pos < bytes.count ? bytes[pos] : nil }
    var atEndOrComment: Bool { peek == nil || peek == UInt8(ascii: "#") }
    mutating func advance() { pos += 1 }

    mutating func skipSpace() {
        while let c = peek, c == 0x20 || c == 0x09 { pos += 1 }
    }

    func error(_ message: String) -> ConfigError {
        ConfigError(file: file, line: line, message: message, hint: "the file uses TOML syntax: key = \"value\"")
    }

    mutating func expect(_ char: Character) throws {
        guard peek == char.asciiValue else { throw error("expected \"\(char)\"") }
        pos += 1
    }

    mutating func bareKey() throws -> String {
        let start = pos
        while let c = peek, (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D {
            pos += 1
        }
        guard pos > start else { throw error("expected a key name") }
        return String(decoding: bytes[start..<pos], as: UTF8.self)
    }

    mutating func value() throws -> ConfigValue {
        guard let c = peek else { throw error("missing value") }
        switch c {
        case UInt8(ascii: "\""), UInt8(ascii: "'"):
            return .string(try string())
        case UInt8(ascii: "["):
            pos += 1
            var items: [String] = []
            skipSpace()
            while peek != UInt8(ascii: "]") {
                guard peek == UInt8(ascii: "\"") || peek == UInt8(ascii: "'") else { throw error("arrays hold strings only") }
                items.append(try string())
                skipSpace()
                if peek == UInt8(ascii: ",") { pos += 1; skipSpace() } else if peek != UInt8(ascii: "]") {
                    throw error("expected \",\" or \"]\" in array")
                }
            }
            pos += 1
            return .strings(items)
        default:
            let start = pos
            while let c = peek, c != 0x20, c != 0x09, c != UInt8(ascii: "#") { pos += 1 }
            let word = String(decoding: bytes[start..<pos], as: UTF8.self)
            if word == "true" { return .boolean(true) }
            if word == "false" { return .boolean(false) }
            if let i = Int(word.replacingOccurrences(of: "_", with: "")) { return .integer(i) }
            throw error("cannot read value \"\(word)\" (strings need quotes)")
        }
    }

    mutating func string() throws -> String {
        let quote = bytes[pos]
        pos += 1
        var out: [UInt8] = []
        while let c = peek {
            pos += 1
            if c == quote { return String(decoding: out, as: UTF8.self) }
            if quote == UInt8(ascii: "\"") && c == UInt8(ascii: "\\") {
                guard let e = peek else { break }
                pos += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                default: throw error("unsupported escape \\\(Character(UnicodeScalar(e)))")
                }
                continue
            }
            out.append(c)
        }
        throw error("unterminated string")
    }
}

extension ConfigError {
    /// "file:line: message", for one-line reports.
    public var located: String { line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)" }
}

extension ConfigError: HintedError {
    public var summary: String { located }
}
