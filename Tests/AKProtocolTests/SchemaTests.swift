import AKProtocol
import Foundation
import XCTest

/// Runs protocol/check_schemas.py: every valid vector, manifest, receipt and signature vector against the JSON
/// Schemas in protocol/schema/, and the invalid vectors the schemas must reject.
/// Skipped (with a message) when python3 or its jsonschema package is missing, except in CI (CI=true), where it fails.
final class SchemaTests: XCTestCase {
    func testValidVectorsMatchTheJSONSchemas() throws {
        guard let output = try PythonChecker.run("protocol/check_schemas.py") else { return }
        let n = MessageCatalog.knownTypes.count
        XCTAssertTrue(output.contains("\(n)/\(n) types"), output)
        XCTAssertTrue(output.contains(" 0 failures"), output)
    }
}
