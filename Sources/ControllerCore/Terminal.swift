/// What reaches the operator's terminal. Strings from remote hosts (a hostile NAS, a compromised
/// agent) are stripped of control characters first, so they cannot move the cursor, rewrite earlier
/// lines or set the window title.
public enum Terminal {
    /// Keeps newlines and tabs; every other C0 or C1 control character (ESC included) and DEL become
    /// U+FFFD.
    public static func safe(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            let v = s.value
            if v == 0x0A || v == 0x09 {
                out.append(s)
            } else if v < 0x20 || v == 0x7F || (0x80...0x9F).contains(v) {
                out.append("\u{FFFD}")
            } else {
                out.append(s)
            }
        }
        return String(out)
    }
}
