// swift-tools-version:6.0
import PackageDescription

// Dependency direction (bottom to top):
//   AKProtocol (framing + messages, no I/O)
//   Transport (the byte-channel interface; in-process pipe, local subprocess, stdio)
//   SSHTransport (libssh2 implementation of Transport; only the controller links it)
//   ProtocolSession (client/server sessions: handshake, requests, errors over a channel)
//   HostConfig (the small TOML-subset config reader every program uses)
//   AgentCore / ReceiverCore (remote programs: no libssh2) , ControllerCore (jobs)
let package = Package(
    name: "akbackup",
    platforms: [.macOS(.v13)],
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
        .target(name: "AKProtocol"),
        .systemLibrary(name: "CLibSSH2", pkgConfig: "libssh2", providers: [.apt(["libssh2-1-dev"])]),
        .target(name: "Transport", dependencies: ["AKProtocol"]),
        .target(name: "SSHTransport", dependencies: ["CLibSSH2", "Transport", "AKProtocol"]),
        .target(name: "ProtocolSession", dependencies: ["AKProtocol", "Transport"]),
        .target(name: "HostConfig"),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        .target(name: "Compression", dependencies: ["CZlib", "CDeflate"]),
        .target(name: "DumpFormat"),
        .target(name: "ProcessRunner"),
        .target(name: "AgentCore", dependencies: [
            "AKProtocol", "ProtocolSession", "HostConfig", "Transport", "ProcessRunner", "Compression", "DumpFormat",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "ReceiverCore", dependencies: [
            "AKProtocol", "ProtocolSession", "HostConfig", "Transport", "Compression", "DumpFormat",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "ControllerCore", dependencies: [
            "AKProtocol", "ProtocolSession", "HostConfig", "Transport", "SSHTransport",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "akbackup", dependencies: [
            "ControllerCore", "SSHTransport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "akbackup-agent", dependencies: [
            "AgentCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "akbackup-receiver", dependencies: [
            "ReceiverCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "AKProtocolTests", dependencies: ["AKProtocol", "ProtocolSession", "Transport"]),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "SSHTransport", "ProtocolSession", "AKProtocol"]),
        .testTarget(name: "AgentCoreTests", dependencies: ["AgentCore", "AKProtocol", "ProtocolSession", "Transport", "Compression", "DumpFormat"]),
        .testTarget(name: "ReceiverCoreTests", dependencies: ["ReceiverCore", "AKProtocol", "ProtocolSession", "Transport"]),
        .testTarget(name: "ControllerCoreTests", dependencies: ["ControllerCore", "HostConfig", "SSHTransport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["ControllerCore", "SSHTransport", "Transport", "AKProtocol"]),
    ],
    swiftLanguageModes: [.v5]
)
