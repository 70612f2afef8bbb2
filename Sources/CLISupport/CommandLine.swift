import AKBase
import AKProtocol
import ArgumentParser
import Foundation

/// What the three programs share at the command line: usage errors exit 2 (ArgumentParser's own
/// code is 64, EX_USAGE) and every error reads as "error: …" + "hint: …".
extension ParsableCommand {
    /// `main()`, with usage errors reported the akbackup way and exiting 2, as every `--help` says.
    public static func mainWithDocumentedExitCodes() -> Never {
        do {
            var command = try parseAsRoot()
            try command.run()
            Foundation.exit(0)
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            let message = message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
            let name = configuration.commandName ?? "the command"
            FileHandle.standardError.write(Data("error: \(message)\nhint: see `\(name) --help` (and `\(name) help SUBCOMMAND`)\n".utf8))
            Foundation.exit(2)
        }
    }
}

/// Runs `body`; an error with a hint is printed as "error: …" + "hint: …" and exits 1.
public func exitingOneOnFailure(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as HintedError {
        FileHandle.standardError.write(Data("error: \(e.summary)\nhint: \(e.hint)\n".utf8))
        throw ExitCode(1)
    } catch let e as ErrorMessage {
        FileHandle.standardError.write(Data("error: \(e.message)\nhint: \(e.hint)\n".utf8))
        throw ExitCode(1)
    }
}

/// The program's own name, for the lines it prints.
private let programName = URL(fileURLWithPath: CommandLine.arguments.first ?? "akbackup").lastPathComponent

/// Progress of a setup command, on stderr (stdout carries only what scripts read).
public func say(_ text: String) {
    FileHandle.standardError.write(Data("\(programName): \(text)\n".utf8))
}

/// A warning and what to do about it; the command goes on.
public func warn(_ text: String, hint: String) {
    FileHandle.standardError.write(Data("\(programName): warning: \(text)\nhint: \(hint)\n".utf8))
}
