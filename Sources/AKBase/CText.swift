import Foundation

extension String {
    /// The text a C function wrote into a NUL-terminated buffer (up to the first NUL; the whole
    /// buffer if there is none), invalid UTF-8 repaired.
    public init(cBuffer buffer: [CChar]) {
        self = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
