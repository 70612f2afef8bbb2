import AKProtocol
import Foundation
import ProtocolSession
import Transport
import XCTest

/// Heartbeat frames (PROTOCOL.md §1.4): the length word 0x80000000 without payload, anywhere after the
/// first real frame, never before it.
final class HeartbeatFramingTests: XCTestCase {
    /// Several messages and a data stream: the frames heartbeats are put between.
    private var plain: [UInt8] {
        [Message(Hello(role: .agent, host: "infra-core")), Message(ProbeRequest(id: 1)),
         Message(ProbeResult(id: 1, checks: Fixtures.fixedChecks))].flatMap { MessageCodec.frame($0) }
            + ValidCatalogue.dataStream + MessageCodec.frame(Message(Done(id: 4, detail: "sent")))
    }

    func testTheHeartbeatFrame() {
        XCTAssertEqual(Frame.heartbeat, [0x80, 0x00, 0x00, 0x00])
        XCTAssertEqual(Frame.heartbeatWord, 0x8000_0000)
        // Outside every real length, so it can never be taken for one.
        XCTAssertGreaterThan(Frame.heartbeatWord, UInt32(ProtocolLimits.maxFramePayload))
    }

    func testDecoderYieldsHeartbeatsAndNextSkipsThem() throws {
        let beating = try Pipeline.withHeartbeats(plain)
        var decoder = FrameDecoder()
        decoder.push(beating)
        var frames: [DecodedFrame] = []
        while let f = try decoder.nextFrame() { frames.append(f) }
        var plainDecoder = FrameDecoder()
        plainDecoder.push(plain)
        var payloads: [[UInt8]] = []
        while let p = try plainDecoder.next() { payloads.append(p) }
        // payload, heartbeat, payload, heartbeat, …, payload
        XCTAssertEqual(frames.count, 2 * payloads.count - 1)
        for (i, f) in frames.enumerated() {
            XCTAssertEqual(f, i % 2 == 0 ? .payload(payloads[i / 2]) : .heartbeat, "frame \(i)")
        }
        // next() returns only the payloads.
        var skipping = FrameDecoder()
        skipping.push(beating)
        var got: [[UInt8]] = []
        while let p = try skipping.next() { got.append(p) }
        XCTAssertEqual(got, payloads)
        XCTAssertEqual(skipping.pendingCount, 0)
        XCTAssertNoThrow(try skipping.finish())
    }

    func testHeartbeatsAtEverySplitPoint() throws {
        let whole = try Pipeline.decodeStream([plain])
        let beating = try Pipeline.withHeartbeats(plain)
        XCTAssertEqual(try Pipeline.decodeStream([beating]), whole)
        XCTAssertEqual(try Pipeline.decodeStream(beating.map { [$0] }), whole)
        for cut in 0...beating.count {
            XCTAssertEqual(try Pipeline.decodeStream([Array(beating[..<cut]), Array(beating[cut...])]), whole, "cut at \(cut)")
        }
        var rng = SplitMix64(seed: 11)
        for _ in 0..<200 {
            XCTAssertEqual(try Pipeline.decodeStream(Pipeline.randomSplits(beating, using: &rng)), whole)
        }
        // A heartbeat split across reads yields nothing until its fourth byte.
        var decoder = FrameDecoder()
        decoder.push(MessageCodec.frame(Message(CancelRequest(id: 1))))
        XCTAssertNotNil(try decoder.nextFrame())
        for b in Frame.heartbeat.dropLast() {
            decoder.push([b])
            XCTAssertNil(try decoder.nextFrame())
        }
        decoder.push([Frame.heartbeat.last!])
        XCTAssertEqual(try decoder.nextFrame(), .heartbeat)
        XCTAssertNil(try decoder.nextFrame())
    }

    func testHeartbeatsInsideADataStreamAreNotData() throws {
        // Right after the data header, between chunks, several in a row, and just before the empty end frame.
        var stream = MessageCodec.frame(Message(Hello(role: .agent, host: "infra-core")))
        stream += MessageCodec.frame(Message(DataHeader(id: 4, stream: "dump")))
        stream += Frame.heartbeat
        stream += Frame.encode([1, 2, 3])
        stream += Frame.heartbeat + Frame.heartbeat + Frame.heartbeat
        stream += Frame.encode([0x80, 0, 0, 0])   // a chunk whose bytes look like a heartbeat is data
        stream += Frame.heartbeat
        stream += Frame.encode([])
        stream += Frame.heartbeat
        let expected: [Incoming] = [.message(Message(Hello(role: .agent, host: "infra-core"))), .message(Message(DataHeader(id: 4, stream: "dump"))),
                                    .chunk([1, 2, 3]), .chunk([0x80, 0, 0, 0]), .endOfData(id: 4)]
        XCTAssertEqual(try Pipeline.decodeStream([stream]), expected)
        XCTAssertEqual(try Pipeline.decodeStream(stream.map { [$0] }), expected)
        let framed = FramedChannel(MemoryChannel.scripted(stream, readLimit: 3))
        var got: [Incoming] = []
        while let item = try framed.receive() { got.append(item) }
        XCTAssertEqual(got, expected)
    }

    func testHeartbeatBeforeTheFirstFrameIsRejected() {
        for prefix in [Frame.heartbeat, Frame.heartbeat + Frame.heartbeat] {
            let bytes = prefix + MessageCodec.frame(Message(Hello(role: .agent, host: "infra-core")))
            for chunks in [[bytes], bytes.map { [$0] }] {
                XCTAssertThrowsError(try Pipeline.decodeStream(chunks)) {
                    XCTAssertEqual($0 as? ProtocolError, .frameTooLarge(announced: Frame.heartbeatWord))
                }
            }
        }
        // Before anything else it is not a banner either: 0x00 is not a text byte.
        var decoder = FrameDecoder()
        decoder.push(Frame.heartbeat)
        XCTAssertThrowsError(try decoder.nextFrame()) { XCTAssertEqual($0 as? ProtocolError, .frameTooLarge(announced: 0x8000_0000)) }
    }

    func testOnlyTheExactWordIsAHeartbeat() {
        for word: UInt32 in [0x8000_0001, 0x8100_0000, 0xFFFF_FFFF, UInt32(ProtocolLimits.maxFramePayload + 1)] {
            var decoder = FrameDecoder()
            decoder.push(MessageCodec.frame(Message(CancelRequest(id: 1))))
            XCTAssertNotNil(try? decoder.next())
            decoder.push([UInt8(word >> 24), UInt8((word >> 16) & 0xFF), UInt8((word >> 8) & 0xFF), UInt8(word & 0xFF)])
            XCTAssertThrowsError(try decoder.nextFrame()) { XCTAssertEqual($0 as? ProtocolError, .frameTooLarge(announced: word)) }
        }
    }

    func testAHeartbeatCutShortIsATruncatedFrame() {
        var decoder = FrameDecoder()
        decoder.push(MessageCodec.frame(Message(CancelRequest(id: 1))) + [0x80, 0x00])
        XCTAssertNotNil(try? decoder.next())
        XCTAssertNil(try decoder.next())
        XCTAssertThrowsError(try decoder.finish()) { XCTAssertEqual($0 as? ProtocolError, .truncatedFrame(expected: 4, received: 2)) }
        // A complete trailing heartbeat is a clean end.
        var clean = FrameDecoder()
        clean.push(MessageCodec.frame(Message(CancelRequest(id: 1))) + Frame.heartbeat)
        XCTAssertNotNil(try? clean.next())
        XCTAssertNil(try clean.next())
        XCTAssertNoThrow(try clean.finish())
    }

    func testControllerAcceptsHeartbeatsFromTheRemoteAfterItsHello() throws {
        let hello = MessageCodec.frame(Message(Hello(role: .agent, host: "infra-core", capabilities: ["probe"])))
        let answer = MessageCodec.frame(Message(ProbeResult(id: 1, checks: Fixtures.fixedChecks)))
        let client = ClientSession(channel: MemoryChannel.scripted(hello + Frame.heartbeat + Frame.heartbeat + answer + Frame.heartbeat,
                                                                    readLimit: 5), host: "infra-core")
        try client.handshake(expecting: .agent, localHost: "laptop")
        XCTAssertEqual(try client.probe(), ProbeResult(id: 1, checks: Fixtures.fixedChecks))
        client.close()
    }
}

/// The clocks of §5.6: heartbeats when idle, the peer timeout, the hello and request limits.
/// Timings are shortened to fractions of a second; every wait is bounded.
final class SessionClockTests: XCTestCase {
    private let agentHello = Hello(role: .agent, host: "infra-core", capabilities: ["probe"])
    private let controllerHello = Hello(role: .controller, host: "laptop")

    func testProtocolTimings() {
        XCTAssertEqual(ProtocolTiming.heartbeatInterval, 15)
        XCTAssertEqual(ProtocolTiming.peerTimeout, 60)
        XCTAssertEqual(ProtocolTiming.helloTimeout, 30)
        XCTAssertEqual(ProtocolTiming.requestIdleTimeout, 600)
        XCTAssertEqual(ProtocolTiming.writeStallTimeout, 60)
        let timing = ServerSession.Timing()
        XCTAssertEqual(timing.heartbeatInterval, 15)
        XCTAssertEqual(timing.peerTimeout, 60)
        XCTAssertEqual(timing.helloTimeout, 30)
        XCTAssertEqual(timing.requestIdleTimeout, 600)
        XCTAssertEqual(ClientSession(channel: MemoryChannel.scripted([]), host: "x").peerTimeout, 60)
    }

    func testAnIdleSideSendsHeartbeatsUntilStopped() throws {
        let (a, b) = MemoryChannel.pair()
        let framed = FramedChannel(a)
        try framed.send(ProbeRequest(id: 1))
        framed.startHeartbeats(interval: 0.05)
        XCTAssertTrue(Fixtures.eventually { frameCensus(b.inbound.allWritten).heartbeats >= 3 })
        framed.stopHeartbeats()
        Thread.sleep(forTimeInterval: 0.2)
        let stopped = frameCensus(b.inbound.allWritten)
        XCTAssertEqual(stopped.payloads, 1)
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(frameCensus(b.inbound.allWritten).heartbeats, stopped.heartbeats, "no heartbeat after stopHeartbeats")
        // Whatever was written is a valid stream for the peer.
        b.inbound.closeWriter()
        XCTAssertEqual(try Pipeline.decodeStream([b.inbound.allWritten]), [.message(Message(ProbeRequest(id: 1)))])
    }

    func testASideThatWritesSendsNoHeartbeat() throws {
        let (a, b) = MemoryChannel.pair()
        let framed = FramedChannel(a)
        framed.startHeartbeats(interval: 0.5)
        for i in 0..<20 {
            try framed.send(ProbeRequest(id: UInt64(i)))
            Thread.sleep(forTimeInterval: 0.05)
        }
        framed.stopHeartbeats()
        XCTAssertEqual(frameCensus(b.inbound.allWritten).heartbeats, 0)
        XCTAssertEqual(frameCensus(b.inbound.allWritten).payloads, 20)
    }

    func testReceiveWaitsAsLongAsHeartbeatsComeAndGivesUpAfterThePeerTimeout() throws {
        let (a, b) = MemoryChannel.pair()
        let reader = FramedChannel(a)
        reader.peerTimeout = 0.5
        let writer = FramedChannel(b)
        try writer.send(agentHello)
        XCTAssertEqual(try reader.receive(), .message(Message(agentHello)))
        writer.startHeartbeats(interval: 0.05)
        DispatchQueue.global().asyncAfter(deadline: .now() + 1.2) { try? writer.send(ProbeResult(id: 1, checks: [])) }
        let start = Date()
        XCTAssertEqual(try reader.receive(), .message(Message(ProbeResult(id: 1, checks: []))), "heartbeats keep the link alive")
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 1.0)
        writer.stopHeartbeats()
        let silent = Date()
        XCTAssertThrowsError(try reader.receive()) { error in
            guard let e = error as? TransportError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.kind, .timeout)
            XCTAssertTrue(e.message.hasPrefix("no data or heartbeat from infra-core for"), e.message)
        }
        XCTAssertGreaterThan(Date().timeIntervalSince(silent), 0.4)
        XCTAssertLessThan(Date().timeIntervalSince(silent), 5)
    }

    func testServerSendsNoHeartbeatBeforeTheHandshakeAndHeartbeatsAfterIt() throws {
        var timing = ServerSession.Timing()
        timing.heartbeatInterval = 0.05
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello, timing: timing)
        Thread.sleep(forTimeInterval: 0.4)   // the controller has not answered yet
        let before = frameCensus(c.inbound.allWritten)
        XCTAssertEqual(before.payloads, 1, "its hello")
        XCTAssertEqual(before.heartbeats, 0, "no heartbeat before the hello exchange")
        let framed = FramedChannel(c)
        XCTAssertEqual(try framed.receive(), .message(Message(agentHello)))
        try framed.send(controllerHello)
        XCTAssertTrue(Fixtures.eventually { frameCensus(c.inbound.allWritten).heartbeats >= 3 }, "an idle server heartbeats")
        try c.closeWrite()
        XCTAssertEqual(server.outcome(), .clean)
    }

    func testServerGivesUpOnAControllerThatSaysNoHello() throws {
        var timing = ServerSession.Timing()
        timing.helloTimeout = 0.3
        let (c, r) = MemoryChannel.pair()
        let start = Date()
        let server = RunningServer(channel: r, hello: agentHello, timing: timing)
        XCTAssertEqual(server.outcome(), .linkLost)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertTrue(server.log.contains { $0.contains("link lost") }, "\(server.log)")
        _ = c
    }

    func testServerGivesUpOnASilentControllerAfterThePeerTimeout() throws {
        var timing = ServerSession.Timing()
        timing.peerTimeout = 0.3
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello, timing: timing)
        let framed = FramedChannel(c)
        _ = try framed.receive()
        let start = Date()
        try framed.send(controllerHello)
        // Then nothing, not even a heartbeat; the link stays open.
        XCTAssertEqual(server.outcome(), .linkLost)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertTrue(server.log.contains { $0.contains("controller gone") }, "\(server.log)")
    }

    func testHeartbeatsFromTheControllerKeepTheServerUntilTheRequestIdleTimeout() throws {
        var timing = ServerSession.Timing()
        timing.peerTimeout = 0.3
        timing.requestIdleTimeout = 1.2
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello, timing: timing)
        let framed = FramedChannel(c)
        _ = try framed.receive()
        let start = Date()
        try framed.send(controllerHello)
        framed.startHeartbeats(interval: 0.05)
        XCTAssertEqual(server.outcome(), .linkLost)
        framed.stopHeartbeats()
        let waited = Date().timeIntervalSince(start)
        XCTAssertGreaterThan(waited, 1.0, "the peer timeout did not fire: heartbeats came")
        XCTAssertLessThan(waited, 6)
    }

    func testClientWaitsForASlowRemoteThatHeartbeatsAndGivesUpOnASilentOne() throws {
        for heartbeats in [true, false] {
            var timing = ServerSession.Timing()
            timing.heartbeatInterval = heartbeats ? 0.05 : 100
            let (c, r) = MemoryChannel.pair()
            let server = RunningServer(channel: r, hello: agentHello, timing: timing) { message, session in
                guard let p = message.as(ProbeRequest.self) else { return }
                Thread.sleep(forTimeInterval: 1.2)   // a long request that sends nothing meanwhile
                try session.send(ProbeResult(id: p.id, checks: []))
            }
            let client = ClientSession(channel: c, host: "infra-core", peerTimeout: 0.5)
            try client.handshake(expecting: .agent, localHost: "laptop")
            if heartbeats {
                XCTAssertEqual(try client.probe(), ProbeResult(id: 1, checks: []))
                client.close()
                XCTAssertEqual(server.outcome(), .clean)
            } else {
                let start = Date()
                XCTAssertThrowsError(try client.probe()) { error in
                    XCTAssertEqual((error as? TransportError)?.kind, .timeout, "\(error)")
                    XCTAssertEqual((error as? TransportError)?.host, "infra-core")
                }
                XCTAssertLessThan(Date().timeIntervalSince(start), 1.1)
                // The controller closed the session: the remote's answer finds no reader.
                XCTAssertEqual(server.outcome(), .linkLost)
            }
        }
    }
}

/// The server's reader thread (the pump): requests are read while a handler runs, so a controller that
/// goes away, or cancels, is noticed at once.
final class ServerPumpTests: XCTestCase {
    private let agentHello = Hello(role: .agent, host: "infra-core", capabilities: ["probe"])

    func testHandlerReadsItsDataStreamWithReceive() throws {
        let (c, r) = MemoryChannel.pair()
        let server = RunningServer(channel: r, hello: agentHello) { message, session in
            if let p = message.as(ProbeRequest.self) { return try session.send(ProbeResult(id: p.id, checks: [])) }
            guard let upload = message.as(UploadRequest.self) else { return }
            try session.send(UploadReady(id: upload.id, freeBytes: nil))
            guard let header = try session.receive()?.message(DataHeader.self), header.id == upload.id else {
                throw ProtocolError.outOfSequence("expected data")
            }
            var size: Int64 = 0
            while let item = try session.receive() {
                if case .chunk(let b) = item { size += Int64(b.count) }
                if item == .endOfData(id: upload.id) { break }
            }
            guard let commit = try session.receive()?.message(UploadCommit.self) else { throw ProtocolError.outOfSequence("expected commit") }
            try session.send(UploadResult(id: commit.id, name: upload.name, size: size, sha256: commit.manifest.sha256))
        }
        let client = ClientSession(channel: c, host: "nas-01")
        try client.handshake(expecting: .agent, localHost: "laptop")
        let manifest = ValidCatalogue.Sample.manifest
        _ = try client.call(UploadRequest(id: 1, name: manifest.name), expecting: UploadReady.self)
        try client.send(DataHeader(id: 1, stream: "dump"))
        try client.sendChunk([UInt8](repeating: 7, count: 1_500_000))   // two frames
        try client.sendChunk([1, 2, 3])
        try client.endData()
        let result = try client.call(UploadCommit(id: 1, manifest: manifest), expecting: UploadResult.self)
        XCTAssertEqual(result.size, 1_500_003)
        XCTAssertEqual(try client.probe().checks, [])   // the handler answers probe with nothing: the session goes on
        client.close()
        XCTAssertEqual(server.outcome(), .clean)
    }

    func testCancelOfTheRunningRequestReachesOnCancel() throws {
        let (c, r) = MemoryChannel.pair()
        let started = DispatchSemaphore(value: 0)
        let server = RunningServer(channel: r, hello: agentHello) { message, session in
            guard let p = message.as(ProbeRequest.self) else { return }
            guard p.id == 1 else { return try session.send(ProbeResult(id: p.id, checks: [])) }
            let cancelled = DispatchSemaphore(value: 0)
            session.onCancel { cancelled.signal() }
            started.signal()
            guard cancelled.wait(timeout: .now() + 5) == .success, session.isCancelled(p.id) else {
                return try session.send(ProbeResult(id: p.id, checks: []))
            }
            throw ErrorMessage(id: p.id, code: .cancelled, message: "probe cancelled by the controller", hint: "nothing to do")
        }
        let client = ClientSession(channel: c, host: "infra-core")
        try client.handshake(expecting: .agent, localHost: "laptop")
        try client.send(ProbeRequest(id: 1))
        XCTAssertEqual(started.wait(timeout: .now() + 5), .success)
        try client.send(CancelRequest(id: 77))   // no such request: ignored
        try client.send(CancelRequest(id: 1))
        XCTAssertThrowsError(try client.expect(ProbeResult.self, id: 1)) { error in
            XCTAssertEqual((error as? RemoteError)?.code, .cancelled, "\(error)")
        }
        // A cancel is never answered and never reaches a handler as a request; the session goes on.
        XCTAssertEqual(try client.call(ProbeRequest(id: 2), expecting: ProbeResult.self).id, 2)
        client.close()
        XCTAssertEqual(server.outcome(), .clean)
    }

    func testAControllerThatGoesAwayIsNoticedWhileAHandlerRuns() throws {
        let (c, r) = MemoryChannel.pair()
        let started = DispatchSemaphore(value: 0)
        let noticed = Fixtures.Box<Bool>()
        let server = RunningServer(channel: r, hello: agentHello) { message, session in
            guard message.as(ProbeRequest.self) != nil else { return }
            let gone = DispatchSemaphore(value: 0)
            session.onPeerGone { gone.signal() }
            started.signal()
            noticed.value = gone.wait(timeout: .now() + 5) == .success
            // What is left to read is the end of the input.
            XCTAssertNil(try session.receive())
            XCTAssertTrue(session.peerGone)
        }
        let client = ClientSession(channel: c, host: "infra-core")
        try client.handshake(expecting: .agent, localHost: "laptop")
        try client.send(ProbeRequest(id: 1))
        XCTAssertEqual(started.wait(timeout: .now() + 5), .success)
        client.close()
        XCTAssertEqual(server.outcome(), .clean)
        XCTAssertEqual(noticed.value, true, "onPeerGone ran while the handler was busy")
    }

    func testASilentControllerIsGoneAfterThePeerTimeoutWhileAHandlerRuns() throws {
        var timing = ServerSession.Timing()
        timing.peerTimeout = 0.3
        let (c, r) = MemoryChannel.pair()
        let noticed = Fixtures.Box<Double>()
        let server = RunningServer(channel: r, hello: agentHello, timing: timing) { message, session in
            guard message.as(ProbeRequest.self) != nil else { return }
            let start = Date()
            let gone = DispatchSemaphore(value: 0)
            session.onPeerGone { gone.signal() }
            if gone.wait(timeout: .now() + 5) == .success { noticed.value = Date().timeIntervalSince(start) }
        }
        let framed = FramedChannel(c)
        _ = try framed.receive()
        try framed.send(Hello(role: .controller, host: "laptop"))
        try framed.send(ProbeRequest(id: 1))
        // Silence from here on, the link open.
        XCTAssertEqual(server.outcome(), .linkLost)
        let after = try XCTUnwrap(noticed.value, "onPeerGone did not run")
        XCTAssertLessThan(after, 3)
        XCTAssertTrue(server.log.contains { $0.contains("controller gone") }, "\(server.log)")
    }

    func testOnPeerGoneRunsAtOnceWhenTheControllerIsAlreadyGone() throws {
        let (c, r) = MemoryChannel.pair()
        let ran = Fixtures.Box<Bool>()
        let proceed = DispatchSemaphore(value: 0)
        let server = RunningServer(channel: r, hello: agentHello) { message, session in
            guard message.as(ProbeRequest.self) != nil else { return }
            proceed.wait()
            XCTAssertTrue(Fixtures.eventually { (try? session.receive()) == nil })
            session.onPeerGone { ran.value = true }
        }
        let client = ClientSession(channel: c, host: "infra-core")
        try client.handshake(expecting: .agent, localHost: "laptop")
        try client.send(ProbeRequest(id: 1))
        client.close()
        proceed.signal()
        XCTAssertEqual(server.outcome(), .clean)
        XCTAssertEqual(ran.value, true)
    }
}
