import AKProtocol
import XCTest

final class RetentionMessageTests: XCTestCase {
    func testAPruneResultsCountsMustAddUp() throws {
        guard var r = RetentionVectors.messages.first(where: { $0.0 == "prune_result" })?.1.as(PruneResult.self) else { return XCTFail("no vector") }
        XCTAssertNoThrow(try r.validate())
        r.removed = 2
        XCTAssertThrowsError(try r.validate()) { XCTAssertTrue("\($0)".contains("must be kept + removed"), "\($0)") }
    }

    func testPinTextIsBoundedOneLinePrintable() {
        XCTAssertNil(PinText.problem("before the 2026.2 upgrade — ünïcode ok", maxBytes: 200))
        XCTAssertEqual(PinText.problem("", maxBytes: 200), "must not be empty")
        XCTAssertEqual(PinText.problem("a\tb", maxBytes: 200), "must not contain control characters")
        XCTAssertEqual(PinText.problem("   ", maxBytes: 200), "must not be empty")
        XCTAssertEqual(PinText.problem(String(repeating: "é", count: 101), maxBytes: 200), "must be at most 200 bytes of UTF-8")
        XCTAssertEqual(PinText.problem("a\u{1B}[2J", maxBytes: 200), "must not contain control characters")
        XCTAssertEqual(PinText.problem("a\u{85}b", maxBytes: 200), "must not contain control characters")
        XCTAssertThrowsError(try PinRequest(id: 1, name: "x", pinned: true, reason: "two\nlines", requestedBy: nil).validate())
        XCTAssertNoThrow(try PinRequest(id: 1, name: "x", pinned: false, reason: nil, requestedBy: nil).validate(), "the receiver asks for a reason, not the decoder")
    }

    /// What counts as a passed restore test, for status and for the retention floor alike.
    func testWhichReceiptsProveARestore() {
        func receipt(_ operation: String, _ outcome: RestoreOutcome) -> Receipt {
            Receipt(operation: operation, artifact: "a", sha256: nil, artifactSigned: true, operatorName: "o", controllerHost: "c", agentHost: "i",
                    startedAt: "2026-01-01T00:00:00Z", finishedAt: "2026-01-01T00:00:00Z", steps: [], validation: nil, downtimeSeconds: nil,
                    outcome: outcome, message: "")
        }
        XCTAssertTrue(receipt("restore-test", .tested).provesRestore)
        XCTAssertTrue(receipt("restore", .restored).provesRestore)
        for (op, outcome) in [("restore-test", RestoreOutcome.failed), ("restore", .rolledBack), ("undo", .undone), ("restore", .failed)] {
            XCTAssertFalse(receipt(op, outcome).provesRestore, "\(op) \(outcome)")
        }
    }
}
