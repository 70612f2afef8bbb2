import AgentHarness
import Compression
import Foundation
import XCTest

final class CompressionTests: XCTestCase {
    /// Varied, compressible bytes: a deterministic pseudo-SQL stream.
    func sampleData(megabytes: Double, seed: UInt64 = 42) -> [UInt8] {
        var state = seed
        var out: [UInt8] = []
        let target = Int(megabytes * 1_048_576)
        out.reserveCapacity(target + 200)
        while out.count < target {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            out.append(contentsOf: Array("\(state % 100_000)\tuser-\(state >> 40)\t2026-11-29 07:\(state % 60):00+00\t{\"k\": \(state % 7)}\n".utf8))
        }
        return out
    }

    func gunzipWithSystemGzip(_ data: [UInt8]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-dc"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        DispatchQueue.global().async {
            input.fileHandleForWriting.write(Data(data))
            try? input.fileHandleForWriting.close()
        }
        let result = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "gzip -dc rejected our output")
        return [UInt8](result)
    }

    func compress(_ data: [UInt8], threads: Int, writeSize: Int = 100_000) throws -> [UInt8] {
        var out: [UInt8] = []
        let gz = ParallelGzip(threads: threads) { out.append(contentsOf: $0) }
        var offset = 0
        while offset < data.count {
            let end = min(offset + writeSize, data.count)
            try gz.write(Array(data[offset..<end]))
            offset = end
        }
        try gz.finish()
        return out
    }

    func testParallelOutputIsOneValidGzipFileInInputOrder() throws {
        let data = sampleData(megabytes: 5.5)
        for threads in [1, 2, 4] {
            let compressed = try compress(data, threads: threads)
            XCTAssertLessThan(compressed.count, data.count / 2, "it compresses")
            XCTAssertEqual(try gunzipWithSystemGzip(compressed), data, "threads=\(threads)")
            var inflated: [UInt8] = []
            let inflater = GzipInflater()
            try inflater.push(compressed) { inflated.append(contentsOf: $0) }
            try inflater.finish()
            XCTAssertEqual(inflated, data, "threads=\(threads)")
        }
    }

    func testEmptyInputIsStillAValidGzipFile() throws {
        let compressed = try compress([], threads: 2)
        XCTAssertEqual(try gunzipWithSystemGzip(compressed), [])
    }

    func testInflaterRejectsTruncatedAndCorruptData() throws {
        let compressed = try compress(sampleData(megabytes: 2.2), threads: 2)
        let truncated = Array(compressed.prefix(compressed.count - 9))
        let inflater = GzipInflater()
        try inflater.push(truncated) { _ in }
        XCTAssertThrowsError(try inflater.finish())

        var corrupt = compressed
        corrupt[compressed.count / 3] ^= 0x40
        XCTAssertThrowsError(try {
            let i = GzipInflater()
            try i.push(corrupt) { _ in }
            try i.finish()
        }())
    }

    func testInflaterHandlesInputSplitAnywhere() throws {
        let data = sampleData(megabytes: 1.3)
        let compressed = try compress(data, threads: 3)
        var inflated: [UInt8] = []
        let inflater = GzipInflater()
        var offset = 0
        var step = 1
        while offset < compressed.count {
            let end = min(offset + step, compressed.count)
            try inflater.push(Array(compressed[offset..<end])) { inflated.append(contentsOf: $0) }
            offset = end
            step = step * 3 % 70_001 + 1
        }
        try inflater.finish()
        XCTAssertEqual(inflated, data)
    }
}
