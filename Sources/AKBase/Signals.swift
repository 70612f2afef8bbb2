#if canImport(Glibc)
import Glibc
#endif

/// Process-wide signal dispositions, set in one place.
public enum Signals {
    /// A write to a dead peer must become an error we can report, not a silent death. Idempotent.
    public static func ignoreSIGPIPE() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// From here on the process must live until it has put things back (the app services started,
    /// a swap finished or rolled back): hang-up, termination and interrupt are ignored.
    public static func shieldFromTermination() {
        signal(SIGHUP, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
    }

    /// Signal numbers to the short names OpenSSH and kill(1) use ("KILL", "TERM").
    public static func name(_ sig: Int32) -> String {
        let names: [Int32: String] = [
            SIGHUP: "HUP", SIGINT: "INT", SIGQUIT: "QUIT", SIGILL: "ILL", SIGTRAP: "TRAP",
            SIGABRT: "ABRT", SIGBUS: "BUS", SIGFPE: "FPE", SIGKILL: "KILL", SIGUSR1: "USR1",
            SIGSEGV: "SEGV", SIGUSR2: "USR2", SIGPIPE: "PIPE", SIGALRM: "ALRM", SIGTERM: "TERM",
            SIGCHLD: "CHLD", SIGCONT: "CONT", SIGSTOP: "STOP", SIGTSTP: "TSTP", SIGXCPU: "XCPU",
            SIGXFSZ: "XFSZ",
        ]
        return names[sig] ?? "SIG\(sig)"
    }
}
