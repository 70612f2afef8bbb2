import Foundation
import XCTest
import Transport

/// An in-process peer: a thread that serves one end of a pipe.
private func inProcessFactory() -> ChannelFactory {
    ChannelFactory(reportsTermination: false) { peer in
        let (mine, theirs) = InProcessPipe.makePair(capacity: 256 << 10)
        let t = Thread {
            switch peer {
            case .echo, .silentEcho:
                while let chunk = try? theirs.read(maxLength: 65536), !chunk.isEmpty {
                    if (try? theirs.write(chunk)) == nil { break }
                }
            case .exit, .stderrThenExit:
                break
            }
            theirs.close()
        }
        t.start()
        return mine
    }
}

private let subprocessFactory = ChannelFactory(reportsTermination: true) { peer in
    try SubprocessChannel(arguments: peer.argv)
}

final class InProcessConformanceTests: XCTestCase {
    let suite = ConformanceSuite(factory: inProcessFactory())
    func testRoundTripSmall() throws { try suite.roundTripSmall() }
    func testRoundTripLargeFullDuplex() throws { try suite.roundTripLargeFullDuplex() }
    func testEOFAfterCloseWrite() throws { try suite.eofAfterCloseWrite() }
    func testReadAfterPeerExitIsEmpty() throws { try suite.readAfterPeerExitIsEmpty() }
    func testWriteToDeadPeerThrows() throws { try suite.writeToDeadPeerThrows() }
    func testReadWithTimeoutGivesUp() throws { try suite.readWithTimeoutGivesUp() }

    func testWriteBlocksWhenFullAndCloseOfPeerUnblocks() throws {
        let (a, b) = InProcessPipe.makePair(capacity: 4)
        try a.write([1, 2, 3, 4])
        let box = ResultBox<Error?>()
        let t = Thread { do { try a.write([5]); box.set(.success(nil)) } catch { box.set(.success(error)) } }
        t.start()
        XCTAssertNil(box.wait(seconds: 0.2), "write must block while the buffer is full")
        b.close()
        guard let r = box.wait(seconds: 5) else { return XCTFail("blocked writer not released") }
        XCTAssertEqual((try r.get() as? TransportError)?.kind, .io)
    }
}

final class SubprocessConformanceTests: XCTestCase {
    let suite = ConformanceSuite(factory: subprocessFactory)
    func testRoundTripSmall() throws { try suite.roundTripSmall() }
    func testRoundTripLargeFullDuplex() throws { try suite.roundTripLargeFullDuplex() }
    func testEOFAfterCloseWrite() throws { try suite.eofAfterCloseWrite() }
    func testReadAfterPeerExitIsEmpty() throws { try suite.readAfterPeerExitIsEmpty() }
    func testExitStatusCollected() throws { try suite.exitStatusCollected() }
    func testStderrTailCaptured() throws { try suite.stderrTailCaptured() }
    func testWriteToDeadPeerThrows() throws { try suite.writeToDeadPeerThrows() }
    func testReadWithTimeoutGivesUp() throws { try suite.readWithTimeoutGivesUp() }

    func testKilledChildReportsSignalName() throws {
        let ch = try SubprocessChannel(arguments: ["/bin/sleep", "30"])
        kill(ch.processIdentifier, SIGKILL)
        let t = ch.close()
        XCTAssertEqual(t.signal, "KILL")
        XCTAssertNil(t.exitStatus)
    }

    func testMissingProgramIsRemoteProgramError() {
        XCTAssertThrowsError(try SubprocessChannel(arguments: ["/nonexistent/akbackup-agent", "serve"])) { e in
            XCTAssertEqual((e as? TransportError)?.kind, .remoteProgram)
        }
    }

    func testEnvironmentIsPassedWithoutShell() throws {
        let ch = try SubprocessChannel(arguments: ["/usr/bin/env"], environment: ["AK_TEST": "a b;c"])
        defer { ch.close() }
        let out = String(decoding: try suite.readAll(ch), as: UTF8.self)
        XCTAssertTrue(out.split(separator: "\n").contains("AK_TEST=a b;c"), "one variable, its value untouched by any shell: \(out)")
    }
}
