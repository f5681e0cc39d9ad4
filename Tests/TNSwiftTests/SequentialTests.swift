import XCTest
@testable import TNSwift

/// Sequential models: forward equals the stages applied one by one, and a saved file loads
/// back to the same outputs; broken files give errors.
final class SequentialTests: XCTestCase {
    private func model<T: LAPACKScalar>(_: T.Type) throws -> Sequential<T> {
        let tt = try TTLinear<T>(inputModes: [4, 3], outputModes: [2, 5], rank: 3, seed: 1)
        let cp = try CPLinear<T>(inputModes: [10], outputModes: [2, 3], rank: 4, bias: false, seed: 2)
        let tucker = try TuckerLinear<T>(inputModes: [2, 3], outputModes: [4], ranks: [2, 2, 3], seed: 3)
        let dense = try Linear<T>(inFeatures: 4, outFeatures: 3, seed: 4)
        let tn = try EinsumLayer<T>(equation: "nij,aik,bjk->nab", parameterShapes: [[2, 1, 2], [3, 3, 2]], seed: 5)
        for l in [tt, tucker, dense, tn] as [EinsumLayer<T>] { l.biasValues!.overwrite(with: (0..<l.outFeatures).map { T($0) / 7 }) }
        return try Sequential<T>([.layer(tt), .activation(.relu), .layer(cp), .activation(.gelu), .layer(tucker),
                                  .activation(.tanh), .layer(dense), .activation(.sigmoid), .layer(tn)])
    }

    func testForwardChainsStagesAndFilesRoundTrip() throws {
        let m = try model(Double.self)
        XCTAssertEqual(m.inFeatures, 12)
        XCTAssertEqual(m.outFeatures, 6)
        var rng = TestRandom(state: 9)
        let x = rng.array(5 * 12)
        let y = try m.forward(x, batch: 5)
        // Stage by stage.
        var current = x, width = 12
        for stage in m.stages {
            switch stage {
            case .activation(let a): a.forward(current, into: &current, count: current.count)
            case .flatten, .dropout: XCTFail("the model has no flatten or dropout stage")
            case .layer(let l):
                var next = [Double](repeating: 0, count: 5 * l.outFeatures)
                try current.withUnsafeMutableBufferPointer { s in try next.withUnsafeMutableBufferPointer { d in
                    try l.forward(StridedView(contiguous: s.baseAddress!, shape: [5, width]), into: StridedView(contiguous: d.baseAddress!, shape: [5, l.outFeatures]))
                } }
                current = next
                width = l.outFeatures
            }
        }
        XCTAssertEqual(y, current)
        let path = NSTemporaryDirectory() + "tnswift-model-\(getpid()).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try m.save(path: path)
        let back = try Sequential<Double>.load(path: path)
        XCTAssertEqual(try back.forward(x, batch: 5), y)
        XCTAssertEqual(back.stages.count, m.stages.count)
        XCTAssertThrowsError(try Sequential<Float>.load(path: path)) { XCTAssertEqual(($0 as? TNError).map { "\($0)" }?.contains("float64"), true) }
        XCTAssertEqual(try m.forward([], batch: 0), [])
        XCTAssertThrowsError(try m.forward([1, 2], batch: 1))
    }

    func testBrokenModelFilesGiveErrors() throws {
        let file = try model(Float.self).serialized()
        XCTAssertNoThrow(try Sequential<Float>.decode(SafeTensors.parse(file)))
        // Not a model, an unknown stage, a missing or misshapen tensor.
        let plain = try SafeTensors.serialize(tensors: [("w", .float32, [1], [0, 0, 0, 0])], metadata: [])
        XCTAssertThrowsError(try Sequential<Float>.decode(SafeTensors.parse(plain)))
        let weird = try SafeTensors.serialize(tensors: [], metadata: [("tnswift.model", #"{"format": 1, "dtype": "float32", "stages": [{"type": "Conv9d"}]}"#)])
        XCTAssertThrowsError(try Sequential<Float>.decode(SafeTensors.parse(weird)))
        let missing = try SafeTensors.serialize(tensors: [], metadata: [("tnswift.model", #"{"format": 1, "dtype": "float32", "stages": [{"type": "Linear", "in_features": 2, "out_features": 2}]}"#)])
        XCTAssertThrowsError(try Sequential<Float>.decode(SafeTensors.parse(missing)))
        let misshapen = try SafeTensors.serialize(tensors: [("stages.0.weight", .float32, [1, 4], [UInt8](repeating: 0, count: 16)),
                                                            ("stages.0.bias", .float32, [2], [UInt8](repeating: 0, count: 8))],
                                                  metadata: [("tnswift.model", #"{"format": 1, "dtype": "float32", "stages": [{"type": "Linear", "in_features": 2, "out_features": 2}]}"#)])
        XCTAssertThrowsError(try Sequential<Float>.decode(SafeTensors.parse(misshapen)))
        let badStages = try SafeTensors.serialize(tensors: [], metadata: [("tnswift.model", #"{"format": 1, "dtype": "float32", "stages": []}"#)])
        XCTAssertThrowsError(try Sequential<Float>.decode(SafeTensors.parse(badStages)))
        XCTAssertThrowsError(try Sequential<Float>([.activation(.relu)]))
        XCTAssertThrowsError(try Sequential<Float>([.layer(try Linear(inFeatures: 2, outFeatures: 3)), .layer(try Linear(inFeatures: 4, outFeatures: 1))]))
        let noP = try SafeTensors.serialize(tensors: [], metadata: [("tnswift.model", #"{"format": 1, "dtype": "float32", "stages": [{"type": "dropout"}]}"#)])
        XCTAssertThrowsError(try Sequential<Float>.decode(SafeTensors.parse(noP)))
    }

    func testFlattenAndDropoutAreIdentityAndRoundTrip() throws {
        let dense = try Linear<Double>(inFeatures: 3, outFeatures: 2)
        let plain = try Sequential<Double>([.layer(dense), .activation(.tanh)])
        let staged = try Sequential<Double>([.flatten, .layer(dense), .dropout(0.4), .activation(.tanh)])
        let x: [Double] = [0.5, -1, 2, 3, 0.25, -0.75]
        XCTAssertEqual(try staged.forward(x, batch: 2), try plain.forward(x, batch: 2))
        let back = try Sequential<Double>.decode(SafeTensors.parse(staged.serialized()))
        guard case .flatten = back.stages[0], case .dropout(let p) = back.stages[2] else {
            return XCTFail("flatten and dropout did not round-trip: \(back.stages)")
        }
        XCTAssertEqual(p, 0.4)
        XCTAssertEqual(try back.forward(x, batch: 2), try plain.forward(x, batch: 2))
        for bad in [-0.5, 1.0, Double.nan] {
            XCTAssertThrowsError(try Sequential<Double>([.layer(dense), .dropout(bad)]))
        }
    }
}
