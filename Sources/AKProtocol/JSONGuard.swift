import Foundation

/// Checks a control payload against the protocol's limits before any JSON parser sees it,
/// so hostile input (deep nesting, huge strings) is rejected in one linear pass.
enum JSONGuard {
    static func check(_ payload: [UInt8]) throws {
        guard String(validating: payload, as: UTF8.self) != nil else { throw ProtocolError.invalidUTF8 }
        var depth = 0
        var inString = false
        var escaped = false
        var stringBytes = 0
        var firstNonSpace: UInt8?
        // Per open container: the number of separators seen (an upper bound on its element count).
        var counts: [Int] = []
        for byte in payload {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == 0x5C {
                    escaped = true
                } else if byte == 0x22 {
                    inString = false  // the closing quote is not part of the string
                    continue
                }
                // Counted as written in the payload, between the quotes (an escape counts its backslash).
                stringBytes += 1
                if stringBytes > ProtocolLimits.maxStringBytes {
                    throw ProtocolError.limitExceeded("a JSON string is longer than \(ProtocolLimits.maxStringBytes) bytes")
                }
                continue
            }
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D:
                continue
            case 0x22:
                inString = true
                stringBytes = 0
            case 0x7B, 0x5B:
                depth += 1
                if depth > ProtocolLimits.maxJSONDepth {
                    throw ProtocolError.limitExceeded("JSON nesting deeper than \(ProtocolLimits.maxJSONDepth)")
                }
                counts.append(0)
            case 0x7D, 0x5D:
                depth -= 1
                if depth < 0 { throw ProtocolError.invalidJSON("unbalanced brackets") }
                if !counts.isEmpty { counts.removeLast() }
            case 0x2C:
                if !counts.isEmpty {
                    counts[counts.count - 1] += 1
                    if counts[counts.count - 1] >= ProtocolLimits.maxCollectionCount {
                        throw ProtocolError.limitExceeded("a JSON array or object has more than \(ProtocolLimits.maxCollectionCount) members")
                    }
                }
            default:
                break
            }
            if firstNonSpace == nil { firstNonSpace = byte }
        }
        guard firstNonSpace == 0x7B else { throw ProtocolError.invalidJSON("a control message must be a JSON object") }
    }
}
