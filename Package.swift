// swift-tools-version:6.0
import PackageDescription

// Linux only: akbackup is built and tested on Debian 12 (Swift 6, libssh2, glibc); no Apple platform
// is claimed. `platforms:` can only name Apple platforms (and raise their minimum versions), so there
// is no way to declare "Linux only" here: this comment, the README and deploy/package say it instead.
//
// Dependency direction (bottom to top), one job per module:
//   AKBase           hinted errors, file I/O (exclusive, no-follow, atomic publish), hex, signals, Monitor
//   ProcessRunner    the one way to start a child process (argv only, posix_spawn)
//   AKProtocol       framing, messages, limits, canonical encoding, signatures — no I/O
//   Transport        the byte-channel interface; in-process pipe, local subprocess, stdio
//   SSHTransport     libssh2 implementation of Transport (only the controller links it)
//   ProtocolSession  client/server sessions: handshake, requests, heartbeats, errors over a channel
//   HostConfig       the small TOML-subset config reader every program uses
//   HostSetup        `authorize` on the hosts: the operator's key, authorized_keys, the agent's group
//   Compression, DumpFormat  gzip members; what a plain pg_dump contains and what may reach psql
//   Retention        the NAS's retention policy and its floors, as a pure planner (no I/O, Foundation only)
//   AgentCore / ReceiverCore (remote programs: no libssh2), ControllerCore (jobs)
//   CLISupport       what the three command-line programs share: exit codes, "error:" + "hint:"
let package = Package(
    name: "akbackup",
    products: [
        .executable(name: "akbackup", targets: ["akbackup"]),
        .executable(name: "akbackup-agent", targets: ["akbackup-agent"]),
        .executable(name: "akbackup-receiver", targets: ["akbackup-receiver"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
    ],
    targets: [
        .target(name: "AKBase"),
        .target(name: "ProcessRunner", dependencies: ["AKBase"]),
        .target(name: "AKProtocol", dependencies: ["AKBase", .product(name: "Crypto", package: "swift-crypto")]),
        .systemLibrary(name: "CLibSSH2", pkgConfig: "libssh2", providers: [.apt(["libssh2-1-dev"])]),
        .target(name: "Transport", dependencies: ["AKBase", "ProcessRunner"]),
        .target(name: "SSHTransport", dependencies: ["CLibSSH2", "Transport", "AKBase", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "ProtocolSession", dependencies: ["AKProtocol", "Transport", "AKBase"]),
        .target(name: "HostConfig", dependencies: ["AKBase"]),
        // Root's setup of a host: the operator's key and the forced command in a login's authorized_keys.
        .target(name: "HostSetup", dependencies: ["AKBase", "ProcessRunner"]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        .target(name: "Compression", dependencies: ["CZlib", "CDeflate"]),
        .target(name: "DumpFormat", dependencies: ["AKBase"]),
        .target(name: "Retention"),
        // Authentik's files as POSIX tar: pure headers, a no-follow tree walker, a summary to check an unpacked copy by.
        .target(name: "Archive", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "AgentCore", dependencies: [
            "AKBase", "AKProtocol", "ProtocolSession", "HostConfig", "Transport", "ProcessRunner", "Compression", "DumpFormat", "Archive",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "ReceiverCore", dependencies: [
            "AKBase", "AKProtocol", "ProtocolSession", "HostConfig", "Transport", "Compression", "DumpFormat", "Retention",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "ControllerCore", dependencies: [
            "AKBase", "AKProtocol", "ProtocolSession", "HostConfig", "Transport", "SSHTransport", "ProcessRunner",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "CLISupport", dependencies: ["AKBase", "AKProtocol", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "akbackup", dependencies: [
            "ControllerCore", "SSHTransport", "AKBase", "CLISupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "akbackup-agent", dependencies: [
            "AgentCore", "AKBase", "CLISupport", "HostSetup",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "akbackup-receiver", dependencies: [
            "ReceiverCore", "AKBase", "CLISupport", "HostSetup",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "AKProtocolTests", dependencies: ["AKProtocol", "AKBase", "ProtocolSession", "Transport", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "SSHTransport", "ProtocolSession", "AKProtocol", "AKBase", "ProcessRunner"]),
        // Scripted fakes of the agent's host (database server, app services) and in-process servers, for tests.
        .target(name: "AgentHarness", dependencies: ["AgentCore", "ReceiverCore", "ControllerCore", "AKBase", "AKProtocol", "ProtocolSession",
                                                     "Transport", "ProcessRunner", .product(name: "Crypto", package: "swift-crypto")],
                path: "Tests/Support"),
        .testTarget(name: "HostSetupTests", dependencies: ["HostSetup", "AKBase"]),
        .testTarget(name: "ArchiveTests", dependencies: ["Archive"]),
        .testTarget(name: "RetentionTests", dependencies: ["Retention", "AKProtocol"]),
        // deploy/bench/prune runs it: plans 10,000 backups' names and times it against sorting them (no timing in unit tests).
        .executableTarget(name: "PruneBench", dependencies: ["Retention", "AKProtocol"], path: "Tests/PruneBench"),
        .testTarget(name: "DumpFormatTests", dependencies: ["DumpFormat"], exclude: ["Fixtures"]),
        .testTarget(name: "AgentCoreTests", dependencies: ["AgentHarness", "AgentCore", "Archive", "AKBase", "AKProtocol", "ProtocolSession", "Transport", "Compression", "DumpFormat", "ProcessRunner",
                                                           .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "ReceiverCoreTests", dependencies: ["ReceiverCore", "AKBase", "AKProtocol", "ProtocolSession", "Transport", "Retention",
                                                              .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "ControllerCoreTests", dependencies: ["AgentHarness", "ControllerCore", "HostConfig", "SSHTransport", "AKProtocol", "AKBase",
                                                                "ProtocolSession", "Transport", "AgentCore", "ReceiverCore", "ProcessRunner", "Retention"]),
        .testTarget(name: "EndToEndTests", dependencies: ["ControllerCore", "SSHTransport", "Transport", "AKProtocol", "AKBase", "ProtocolSession",
                                                          .product(name: "Crypto", package: "swift-crypto")]),
    ],
    swiftLanguageModes: [.v6]
)
