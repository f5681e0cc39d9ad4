import XCTest
@testable import TNSwift

/// JSON and safetensors: round trips, the byte layout of the format, and hostile files
/// (truncated, bit-flipped, lying headers) that must give errors, never crashes.
final class SafeTensorsTests: XCTestCase {
    private func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

    private func sample() throws -> [UInt8] {
        try SafeTensors.serialize(tensors: [
            ("core_0", .float32, [1, 2, 3], bytes([Float](arrayLiteral: 1, 2, 3, 4, 5, 6))),
            ("bias", .float64, [2], bytes([Double](arrayLiteral: -1.5, 2.25))),
            ("empty", .float32, [0, 4], []),
        ], metadata: [("tnswift", "{\"layers\": [1, 2]}"), ("note", "é \" \\ \n")])
    }

    func testRoundTripAndLayout() throws {
        let file = try sample()
        let header = Int(file[0]) | Int(file[1]) << 8
        XCTAssertEqual(header % 8, 0)
        let st = try SafeTensors.parse(file)
        XCTAssertEqual(st.entries.map(\.name), ["core_0", "bias", "empty"])
        XCTAssertEqual(try st.values("core_0", as: Float.self), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(st.entry("core_0")?.shape, [1, 2, 3])
        XCTAssertEqual(try st.values("bias", as: Double.self), [-1.5, 2.25])
        XCTAssertEqual(try st.values("empty", as: Float.self), [])
        XCTAssertEqual(st.metadata("note"), "é \" \\ \n")
        XCTAssertEqual(try JSONValue.parse(Array(st.metadata("tnswift")!.utf8))["layers"], .array([.number(1), .number(2)]))
        XCTAssertThrowsError(try st.values("bias", as: Float.self))
        XCTAssertThrowsError(try st.values("missing", as: Float.self))
        // Through a file, atomically.
        let path = NSTemporaryDirectory() + "tnswift-st-\(getpid()).safetensors"
        try SafeTensors.writeAtomically(file, to: path)
        XCTAssertEqual(try SafeTensors.read(path: path).entries.count, 3)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".tmp-\(getpid())"))
        try FileManager.default.removeItem(atPath: path)
        XCTAssertThrowsError(try SafeTensors.read(path: path))
        XCTAssertThrowsError(try SafeTensors.writeAtomically(file, to: "/nonexistent-dir/x.safetensors"))
    }

    func testJSONParsesAndRejects() throws {
        let v = try JSONValue.parse(Array(#" {"a": [1, -2.5e3, true, null, "x\u00e9\ud83d\ude00"], "b": {}} "#.utf8))
        XCTAssertEqual(v["a"], .array([.number(1), .number(-2500), .bool(true), .null, .string("xé😀")]))
        XCTAssertEqual(try JSONValue.parse(Array(v.serialized.utf8)), v)
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "\"abc", "tru", "+1", "1 2", "{\"a\":1,}", "\"\\ud800\"", "\"\u{01}\"",
                    String(repeating: "[", count: 100) + String(repeating: "]", count: 100)] {
            XCTAssertThrowsError(try JSONValue.parse(Array(bad.utf8)), bad)
        }
    }

    func testHostileFilesGiveErrors() throws {
        let file = try sample()
        // Every truncation.
        for n in 0..<file.count {
            XCTAssertThrowsError(try SafeTensors.parse(Array(file[0..<n])), "prefix \(n)")
        }
        // Single-byte corruptions anywhere: either still a valid file or an error.
        var rng = TestRandom(state: 3)
        for _ in 0..<2000 {
            var f = file
            let i = rng.int(0...(f.count - 1))
            f[i] ^= UInt8(truncatingIfNeeded: rng.int(1...255))
            _ = try? SafeTensors.parse(f)
        }
        // Lying headers.
        func withHeader(_ json: String, data: Int = 0) -> [UInt8] {
            let h = Array(json.utf8)
            return (0..<8).map { UInt8(truncatingIfNeeded: h.count >> (8 * $0)) } + h + [UInt8](repeating: 0, count: data)
        }
        let lies = [
            withHeader(#"{"t": {"dtype": "F32", "shape": [1000000000, 1000000000], "data_offsets": [0, 8]}}"#, data: 8),
            withHeader(#"{"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}}"#, data: 8),
            withHeader(#"{"t": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}"#, data: 8),
            withHeader(#"{"t": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}"#, data: 8),
            withHeader(#"{"t": {"dtype": "I8", "shape": [8], "data_offsets": [0, 8]}}"#, data: 8),
            withHeader(#"{"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#, data: 8),
            withHeader(#"{"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "u": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#, data: 4),
            withHeader(#"{"__metadata__": {"a": 1}}"#),
            withHeader(#"[1, 2]"#),
            [255, 255, 255, 255, 255, 255, 255, 127] + Array("{}".utf8),
        ]
        for (i, f) in lies.enumerated() {
            XCTAssertThrowsError(try SafeTensors.parse(f), "lie \(i)") { XCTAssertFalse(($0 as? TNError)?.message.isEmpty ?? true) }
        }
    }
}
