/// Letters for the equations of the built-in layers: input modes, output modes, bonds, batch.
enum LayerLabels {
    static let maxModes = 12
    static let batch: Character = "z"
    static func input(_ k: Int) -> Character { Array("abcdefghijkl")[k] }
    static func output(_ k: Int) -> Character { Array("mnopqrstuvwx")[k] }
    static func bond(_ k: Int) -> Character { Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")[k] }

    /// Checks a layer's input and output modes.
    /// - Throws: `TNError.shape` for no modes, more than 12, a mode below 1, or (with
    ///   `sameCount`) different numbers of input and output modes.
    static func check(_ layer: String, inputModes: [Int], outputModes: [Int], sameCount: Bool) throws {
        guard !inputModes.isEmpty, !outputModes.isEmpty else {
            throw TNError.shape("\(layer) needs at least one input mode and one output mode")
        }
        guard inputModes.count <= maxModes, outputModes.count <= maxModes else {
            throw TNError.shape("\(layer) supports at most \(maxModes) input and \(maxModes) output modes")
        }
        if sameCount, inputModes.count != outputModes.count {
            throw TNError.shape("\(layer) needs as many input modes as output modes (got \(inputModes) and \(outputModes))")
        }
        for m in inputModes + outputModes where m < 1 {
            throw TNError.shape("\(layer): modes must be at least 1 (got input modes \(inputModes), output modes \(outputModes))")
        }
    }

    /// Checks a dense weight (in_features × out_features) and bias against the modes.
    static func checkDense<T: BLASScalar>(_ layer: String, weight: Matrix<T>, bias: [T]?, inputModes: [Int], outputModes: [Int]) throws {
        let i = inputModes.reduce(1, *), o = outputModes.reduce(1, *)
        guard weight.rows == i, weight.columns == o else {
            throw TNError.shape("\(layer): the weight is \(weight.rows)×\(weight.columns) but the modes \(inputModes) → \(outputModes) need \(i)×\(o) (in_features × out_features)")
        }
        if let b = bias, b.count != o {
            throw TNError.shape("\(layer): the bias has \(b.count) values but the layer has \(o) outputs")
        }
        try weight.withUnsafeBufferPointer { p in
            for v in p where !v.isFinite { throw TNError.value("\(layer): the weight has a NaN or an infinity") }
        }
        if let b = bias, b.contains(where: { !$0.isFinite }) { throw TNError.value("\(layer): the bias has a NaN or an infinity") }
    }

    /// Exactly one of rank / eps / budget, as a conversion asks for.
    static func checkTarget(_ layer: String, rank: Bool, eps: Double?, budget: Int?) throws {
        let given = (rank ? 1 : 0) + (eps == nil ? 0 : 1) + (budget == nil ? 0 : 1)
        guard given == 1 else { throw TNError.value("\(layer).fromDense needs exactly one of rank, eps or budget (got \(given))") }
        if let e = eps, !(e >= 0 && e.isFinite) { throw TNError.value("eps must be finite and non-negative (got \(e))") }
        if let b = budget, b < 1 { throw TNError.value("the parameter budget must be at least 1 (got \(b))") }
    }
}

extension EinsumLayer {
    /// Copies `values` into parameter `i` and `bias` into the bias.
    func load(_ values: [[T]], bias values2: [T]?) {
        for (i, v) in values.enumerated() { parameter(i).overwrite(with: v) }
        if let b = values2, let dst = biasValues { dst.overwrite(with: b) }
    }
}

extension UnsafeMutableBufferPointer {
    /// Overwrites the first elements with `source` (the counts are equal by construction).
    func overwrite(with source: [Element]) {
        source.withUnsafeBufferPointer { src in
            guard let from = src.baseAddress, let to = baseAddress else { return }
            to.update(from: from, count: Swift.min(count, src.count))
        }
    }
}
