import AKBase
import AKProtocol
import Foundation
import ProtocolSession
import Transport
import XCTest

/// A ServerSession running on its own thread; `outcome()` waits for it, bounded.
final class RunningServer: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var result: ServerSession.SessionEnd?
    private var lines: [String] = []

    init(channel: MemoryChannel, hello: Hello, timing: ServerSession.Timing = ServerSession.Timing(),
         handler: @escaping @Sendable (Message, ServerSession) throws -> Void = Fixtures.handler) {
        Thread.detachNewThread { [self] in
            let session = ServerSession(channel: channel, hello: hello, timing: timing) { line in
                self.lock.lock(); self.lines.append(line); self.lock.unlock()
            }
            let outcome = session.run(handler: handler)
            try? channel.closeWrite()   // the process exits: its stdout closes
            self.lock.lock(); self.result = outcome; self.lock.unlock()
            self.done.signal()
        }
    }

    /// The exit code, or nil (and a test failure) if the server did not finish within `seconds`.
    func outcome(seconds: Double = 10, file: StaticString = #filePath, line: UInt = #line) -> ServerSession.SessionEnd? {
        guard done.wait(timeout: .now() + seconds) == .success else {
            XCTFail("server session did not finish within \(seconds)s", file: file, line: line)
            return nil
        }
        lock.lock(); defer { lock.unlock() }
        return result
    }

    var log: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}

final class SessionTests: XCTestCase {
    private func agentHello(version: Int = AKVersion.protocolVersion, software: String = AKVersion.software) -> Hello {
        Hello(role: .agent, protocolVersion: version, software: software, host: "infra-core", capabilities: ["probe"])
    }

    // MARK: handshake

    func testHandshakeAndProbeForBothRoles() throws {
        for role in [Role.agent, .receiver] {
            let (c, r) = MemoryChannel.pair()
            let server = RunningServer(channel: r, hello: Hello(role: role, host: "infra-core", capabilities: ["probe"]))
            let client = ClientSession(channel: c, host: "infra-core")
            let hello = try client.handshake(expecting: role, localHost: "laptop")
            XCTAssertEqual(hello.role, role)
            XCTAssertEqual(hello.capabilities, ["probe"])
            XCTAssertEqual(try client.probe(), ProbeResult(id: 1, checks: Fixtures.fixedChecks))
            XCTAssertEqual(try client.probe().id, 2)
            client.close()
            XCTAssertEqual(server.outcome(), .clean)
            XCTAssertTrue(server.log.contains { $0.contains("session from laptop") }, "\(server.log)")
        }
    }

    func testHandshakeByteByByte() throws {
        let (c, r) = MemoryChannel.pair(readLimit: 1)
        let server = RunningServer(channel: r, hello: agentHello())
        let client = ClientSession(channel: c, host: "infra-core")
        try client.handshake(expecting: .agent, localHost: "laptop")
        XCTAssertEqual(try client.probe().checks, Fixtures.fixedChecks)
        client.close()
        XCTAssertEqual(server.outcome(), .clean)
    }

    func testTheRemoteSpeaksFirst() throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello())
        let framed = FramedChannel(c)
        XCTAssertEqual(try framed.receive(), .message(Message(agentHello())))
        try c.closeWrite()   // end of input before the controller's hello: nothing to do, exit 0
        XCTAssertEqual(server.outcome(), .clean)
        XCTAssertNil(try framed.receive())
    }

    func testVersionAndSoftwareOfThisRelease() {
        XCTAssertEqual(AKVersion.protocolVersion, 2)
        XCTAssertEqual(AKVersion.software, "0.2.0")
        XCTAssertEqual(Hello(role: .agent, host: "x").protocolVersion, 2)
    }

    func testRemoteWithNewerProtocolIsRefusedNamingBothVersionsAndHost() throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello(version: 3, software: "0.3.0"))
        let client = ClientSession(channel: c, host: "infra-core")
        XCTAssertThrowsError(try client.handshake(expecting: .agent, localHost: "laptop")) { error in
            guard let e = error as? SessionError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.error, .versionMismatch(local: 2, remote: 3, remoteSoftware: "agent 0.3.0"))
            XCTAssertEqual(e.summary, "infra-core: protocol version mismatch: this side speaks 2, remote agent 0.3.0 speaks 3")
            XCTAssertTrue(e.hint.contains("same akbackup version"))
        }
        // The controller refuses without answering; the remote sees end of input.
        XCTAssertEqual(server.outcome(), .clean)
    }

    func testControllerRefusesAVersion1Remote() throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello(version: 1, software: "0.1.0"))
        let client = ClientSession(channel: c, host: "infra-core")
        XCTAssertThrowsError(try client.handshake(expecting: .agent, localHost: "laptop")) { error in
            guard let e = error as? SessionError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.error, .versionMismatch(local: 2, remote: 1, remoteSoftware: "agent 0.1.0"))
            XCTAssertEqual(e.summary, "infra-core: protocol version mismatch: this side speaks 2, remote agent 0.1.0 speaks 1")
        }
        XCTAssertEqual(server.outcome(), .clean)
        // Nothing but the remote's hello went over the link: no hello, and no heartbeat, from the controller.
        XCTAssertEqual(r.inbound.allWritten, [])
    }

    func testControllerWithNewerProtocolRefusesOlderRemote() throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello())
        let client = ClientSession(channel: c, host: "infra-core", protocolVersion: 3)
        XCTAssertThrowsError(try client.handshake(expecting: .agent, localHost: "laptop")) { error in
            guard let e = error as? SessionError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.error, .versionMismatch(local: 3, remote: 2, remoteSoftware: "agent 0.2.0"))
            XCTAssertEqual(e.summary, "infra-core: protocol version mismatch: this side speaks 3, remote agent 0.2.0 speaks 2")
        }
        XCTAssertEqual(server.outcome(), .clean)
    }

    func testServerAnswersAnotherVersionWithVersionMismatchAndExits3() throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello())
        let framed = FramedChannel(c)
        _ = try framed.receive()
        try framed.send(Message(Hello(role: .controller, protocolVersion: 1, software: "0.1.0", host: "laptop")))
        guard let e = try framed.receive()?.message(ErrorMessage.self) else { return XCTFail("expected an error") }
        XCTAssertNil(e.id)
        XCTAssertEqual(e.code, .versionMismatch)
        XCTAssertEqual(e.message, "protocol version mismatch: agent 0.2.0 speaks 2, controller 0.1.0 speaks 1")
        XCTAssertEqual(server.outcome(), .versionMismatch)
        XCTAssertEqual(ServerSession.SessionEnd.versionMismatch.rawValue, 3)
        XCTAssertNil(try framed.receive(), "the remote closes after the error")
        // Re-raised on the controller with the host in front and the same code.
        let remote = RemoteError(host: "infra-core", e)
        XCTAssertEqual(remote.code, .versionMismatch)
        XCTAssertEqual(remote.description.split(separator: "\n").first.map(String.init),
                       "infra-core: protocol version mismatch: agent 0.2.0 speaks 2, controller 0.1.0 speaks 1")
        // The server's whole output: its hello and the error, no heartbeat (heartbeats start after the handshake).
        XCTAssertEqual(frameCensus(c.inbound.allWritten).heartbeats, 0)
    }

    func testWrongRole() throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: Hello(role: .receiver, host: "nas-01"))
        let client = ClientSession(channel: c, host: "nas-01")
        XCTAssertThrowsError(try client.handshake(expecting: .agent, localHost: "laptop")) { error in
            guard let e = error as? SessionError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.error, .wrongRole(expected: "agent", actual: "receiver"))
            XCTAssertEqual(e.summary, "nas-01: remote program is a receiver, expected an agent")
        }
        XCTAssertEqual(server.outcome(), .clean)
    }

    func testServerRefusesAPeerThatIsNotAController() throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello())
        let framed = FramedChannel(c)
        _ = try framed.receive()
        try framed.send(Message(Hello(role: .agent, host: "other")))
        guard let e = try framed.receive()?.message(ErrorMessage.self) else { return XCTFail() }
        XCTAssertEqual(e.code, .protocolError)
        XCTAssertEqual(server.outcome(), .protocolViolation)
    }

    func testBannerBeforeHello() throws {
        let (c, r) = MemoryChannel.pair()
        try r.write(Array("Welcome to infra-core\n".utf8))
        let server = RunningServer(channel: r, hello: agentHello())
        let client = ClientSession(channel: c, host: "infra-core")
        XCTAssertThrowsError(try client.handshake(expecting: .agent, localHost: "laptop")) { error in
            guard let e = error as? SessionError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.error, .nonProtocolOutput(preview: "Welcome to infra-core"))
            XCTAssertTrue(e.summary.hasPrefix("infra-core: remote program printed non-protocol output"), e.summary)
            XCTAssertTrue(e.hint.contains("authorized_keys"))
        }
        _ = server.outcome()
    }

    // MARK: errors

    func testRemoteErrorIsReRaisedWithHostPrefixAndSameCode() throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello()) { message, _ in
            throw ErrorMessage(id: message.requestID, code: .notFound, message: "snapshot tank/home@x not found",
                               hint: "list snapshots with `zfs list -t snapshot`")
        }
        let client = ClientSession(channel: c, host: "infra-core")
        try client.handshake(expecting: .agent, localHost: "laptop")
        XCTAssertThrowsError(try client.probe()) { error in
            guard let e = error as? RemoteError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.code, .notFound)
            XCTAssertEqual(e.description, "infra-core: snapshot tank/home@x not found\nhint: list snapshots with `zfs list -t snapshot`")
        }
        // The session goes on after a request failed.
        XCTAssertThrowsError(try client.probe()) { XCTAssertEqual(($0 as? RemoteError)?.code, .notFound) }
        client.close()
        XCTAssertEqual(server.outcome(), .clean)
    }

    func testHandlerFailuresMapToFailedAndInternal() throws {
        struct Plain: Error {}
        struct Hinted: HintedError { var summary = "zpool: command not found"; var hint = "install zfsutils" }
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello()) { message, _ in
            guard let p = message.as(ProbeRequest.self) else { return }
            if p.id == 1 { throw Hinted() }
            throw Plain()
        }
        let client = ClientSession(channel: c, host: "infra-core")
        try client.handshake(expecting: .agent, localHost: "laptop")
        XCTAssertThrowsError(try client.probe()) { error in
            XCTAssertEqual(error as? RemoteError, RemoteError(host: "infra-core", code: .failed, message: "zpool: command not found", hint: "install zfsutils"))
        }
        XCTAssertThrowsError(try client.probe()) { error in
            XCTAssertEqual((error as? RemoteError)?.code, .internalError)
            XCTAssertTrue((error as? RemoteError)?.hint.contains("bug in akbackup") == true)
        }
        client.close()
        XCTAssertEqual(server.outcome(), .clean)
    }

    func testOversizedAnswerIsRefusedAtTheSenderAndTheSessionGoesOn() throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello()) { message, session in
            guard let p = message.as(ProbeRequest.self) else { return }
            let checks = (0..<(p.id == 1 ? 10_001 : 1)).map { Check(name: "c\($0)", ok: true, detail: "") }
            try session.send(ProbeResult(id: p.id, checks: checks))
        }
        let client = ClientSession(channel: c, host: "infra-core")
        try client.handshake(expecting: .agent, localHost: "laptop")
        XCTAssertThrowsError(try client.probe()) { error in
            guard let e = error as? RemoteError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.code, .internalError)
            XCTAssertTrue(e.summary.hasPrefix("infra-core: not sending probe.result: "), e.summary)
        }
        XCTAssertEqual(try client.probe().checks.count, 1)
        client.close()
        XCTAssertEqual(server.outcome(), .clean)
    }

    func testConnectionCutMidFrameIsAClearErrorNotAHang() throws {
        let (c, r) = MemoryChannel.pair()
        let result = MessageCodec.frame(Message(ProbeResult(id: 1, checks: Fixtures.fixedChecks)))
        let server = RunningServer(channel: r, hello: agentHello()) { _, _ in
            try r.write(Array(result.prefix(30)))
            r.close()   // the link drops in the middle of the answer
        }
        let client = ClientSession(channel: c, host: "infra-core")
        try client.handshake(expecting: .agent, localHost: "laptop")
        let outcome = Fixtures.bounded { () -> Error? in
            do { _ = try client.probe(); return nil } catch { return error }
        }
        guard let maybeError = outcome, let error = maybeError else { return XCTFail("probe hung or succeeded") }
        guard let e = error as? SessionError else { return XCTFail("\(error)") }
        XCTAssertEqual(e.error, .truncatedFrame(expected: result.count, received: 30))
        XCTAssertEqual(e.summary, "infra-core: protocol error: stream ended inside a frame (30 of \(result.count) bytes)")
        _ = server.outcome()
    }

    func testRemoteEndingBetweenFramesIsExplained() throws {
        let hello = MessageCodec.frame(Message(agentHello()))
        let channel = MemoryChannel.scripted(hello)
        channel.termination = ChannelTermination(exitStatus: 1, stderrTail: ["akbackup-agent: out of memory"])
        let client = ClientSession(channel: channel, host: "infra-core")
        try client.handshake(expecting: .agent, localHost: "laptop")
        XCTAssertThrowsError(try client.probe()) { error in
            guard let e = error as? RemoteError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.code, .ioError)
            XCTAssertEqual(e.summary, "infra-core: remote program ended unexpectedly while waiting for the answer to probe (exit status 1): akbackup-agent: out of memory")
        }
    }

    // MARK: sequence

    private func serverRejects(_ frames: [Message], sendHello: Bool = true, expectInLog: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello())
        let framed = FramedChannel(c)
        _ = try framed.receive()
        if sendHello { try framed.send(Message(Hello(role: .controller, host: "laptop"))) }
        for f in frames { try c.write(MessageCodec.frame(f)) }
        XCTAssertEqual(server.outcome(), .protocolViolation, file: file, line: line)
        var last: Message?
        while let item = try framed.receive() { if case .message(let m) = item { last = m } }
        guard let e = last?.as(ErrorMessage.self) else { return XCTFail("no error sent", file: file, line: line) }
        XCTAssertEqual(e.code, .protocolError, file: file, line: line)
        XCTAssertNil(e.id, file: file, line: line)
        XCTAssertTrue(e.message.contains(expectInLog), e.message, file: file, line: line)
        XCTAssertTrue(server.log.contains { $0.contains(expectInLog) }, "\(server.log)", file: file, line: line)
    }

    func testOutOfSequenceFramesAreRejected() throws {
        try serverRejects([Message(ProbeRequest(id: 1))], sendHello: false, expectInLog: "expected the controller's hello first")
        try serverRejects([Message(Hello(role: .controller, host: "laptop"))], expectInLog: "second hello")
        try serverRejects([Message(ProbeResult(id: 1, checks: []))], expectInLog: "probe.result is sent by the remote program")
        try serverRejects([Message(ProgressReport(id: 1, phase: "x", bytes: 0))], expectInLog: "progress is sent by the remote program")
        try serverRejects([Message(ErrorMessage(id: nil, code: .failed, message: "m", hint: "h"))], expectInLog: "error is sent by the remote program")
    }

    func testGarbageFromTheControllerEndsTheSessionWithExit2() throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello())
        let framed = FramedChannel(c)
        _ = try framed.receive()
        try framed.send(Message(Hello(role: .controller, host: "laptop")))
        try c.write(Frame.encode(Array(#"{"type":"backup.start","id":1}"#.utf8)))
        XCTAssertEqual(server.outcome(), .protocolViolation)
        guard let e = try framed.receive()?.message(ErrorMessage.self) else { return XCTFail() }
        XCTAssertEqual(e.message, #"protocol error: unknown message type "backup.start""#)
    }

    func testControllerCutMidFrameEndsTheServerWithExit2() throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello())
        let framed = FramedChannel(c)
        _ = try framed.receive()
        try framed.send(Message(Hello(role: .controller, host: "laptop")))
        try c.write(Array(MessageCodec.frame(Message(ProbeRequest(id: 1))).prefix(7)))
        try c.closeWrite()
        XCTAssertEqual(server.outcome(), .protocolViolation)
    }

    // MARK: data streams

    func testUnreadDataStreamIsSkippedNotTakenForMessages() throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello())
        let client = ClientSession(channel: c, host: "infra-core")
        try client.handshake(expecting: .agent, localHost: "laptop")
        try client.send(DataHeader(id: 7, stream: "upload"))
        try client.framed.sendChunk(Array(#"{"type":"probe","id":99}"#.utf8))   // raw bytes that look like JSON
        try client.framed.sendChunk([0xFF, 0x00])
        try client.framed.endData()
        guard let e = try client.receive(context: "test").message(ErrorMessage.self) else { return XCTFail() }
        XCTAssertEqual(e.id, 7)
        XCTAssertEqual(e.code, .unsupported)
        XCTAssertEqual(try client.probe().checks, Fixtures.fixedChecks)
        client.close()
        XCTAssertEqual(server.outcome(), .clean)
    }

    func testEndOfInputInsideADataStreamIsAViolation() throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello()) { message, session in
            guard message.as(DataHeader.self) != nil else { return }
            while let item = try session.receive(), item != .endOfData(id: 7) {}
        }
        let client = ClientSession(channel: c, host: "infra-core")
        try client.handshake(expecting: .agent, localHost: "laptop")
        try client.send(DataHeader(id: 7, stream: "upload"))
        try client.framed.sendChunk([1, 2, 3])
        try c.closeWrite()
        XCTAssertEqual(server.outcome(), .protocolViolation)
    }

    // MARK: cancellation and exit codes

    func testCancelAfterTheAnswerIsIgnoredAndTheSessionGoesOn() throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello())
        let client = ClientSession(channel: c, host: "infra-core")
        try client.handshake(expecting: .agent, localHost: "laptop")
        try client.send(ProbeRequest(id: 5))
        try client.send(CancelRequest(id: 5))
        try client.send(CancelRequest(id: 12345))   // unknown id: ignored
        // The request had already finished when the cancel was read: its normal answer.
        XCTAssertEqual(try client.receive(context: "test"), .message(Message(ProbeResult(id: 5, checks: Fixtures.fixedChecks))))
        XCTAssertEqual(try client.probe().id, 1)
        client.close()
        XCTAssertEqual(server.outcome(), .clean)
    }

    func testCancelledAnswerIsReRaisedAsCancelled() throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello()) { message, _ in
            throw ErrorMessage(id: message.requestID, code: .cancelled, message: "probe cancelled", hint: "nothing to do")
        }
        let client = ClientSession(channel: c, host: "infra-core")
        try client.handshake(expecting: .agent, localHost: "laptop")
        XCTAssertThrowsError(try client.probe()) { XCTAssertEqual(($0 as? RemoteError)?.code, .cancelled) }
        client.close()
        XCTAssertEqual(server.outcome(), .clean)
    }

    func testProgressGoesToTheCallbackAndOtherRequestsAreOutOfSequence() throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello()) { message, session in
            guard let p = message.as(ProbeRequest.self) else { return }
            try session.send(ProgressReport(id: p.id, phase: "scan", bytes: 10))
            try session.send(ProgressReport(id: p.id, phase: "scan", bytes: 20))
            try session.send(ProbeResult(id: p.id, checks: []))
            try session.send(ProgressReport(id: p.id + 100, phase: "stray", bytes: 0))
        }
        let client = ClientSession(channel: c, host: "infra-core")
        try client.handshake(expecting: .agent, localHost: "laptop")
        var seen: [Int64] = []
        let answer = try client.call(ProbeRequest(id: client.makeID())) { seen.append($0.bytes) }
        XCTAssertEqual(answer, Message(ProbeResult(id: 1, checks: [])))
        XCTAssertEqual(seen, [10, 20])
        XCTAssertThrowsError(try client.probe()) { error in
            XCTAssertEqual(((error as? SessionError)?.error).map(caseName), "outOfSequence")
        }
        _ = server.outcome()
    }

    func testLinkLostWhileAnsweringExits4() throws {
        let (c, r) = MemoryChannel.pair()
        let proceed = DispatchSemaphore(value: 0)
        let server = RunningServer(channel: r, hello: agentHello()) { message, session in
            proceed.wait()
            try session.send(ProbeResult(id: message.requestID ?? 0, checks: []))
        }
        let client = ClientSession(channel: c, host: "infra-core")
        try client.handshake(expecting: .agent, localHost: "laptop")
        try client.send(ProbeRequest(id: 1))
        client.close()      // the controller and its end of the link are gone
        proceed.signal()
        XCTAssertEqual(server.outcome(), .linkLost)
        XCTAssertEqual(ServerSession.SessionEnd.linkLost.rawValue, 4)
        XCTAssertEqual(ServerSession.SessionEnd.protocolViolation.rawValue, 2)
        XCTAssertEqual(ServerSession.SessionEnd.clean.rawValue, 0)
    }
}
