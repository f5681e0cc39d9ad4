/// Layers and activations applied in order: the model type that files store and the C ABI
/// and Swift load for inference.
public final class Sequential<T: LAPACKScalar> {
    public let stages: [ModelStage<T>]
    /// The first layer's input width and the last layer's output width.
    public let inFeatures: Int
    public let outFeatures: Int

    /// - Throws: `TNError.shape` when there is no layer or a layer's input width differs from
    ///   the previous layer's output width; `TNError.value` for a dropout probability outside [0, 1).
    public init(_ stages: [ModelStage<T>]) throws {
        let layers = stages.compactMap { if case .layer(let l) = $0 { return l } else { return nil } }
        guard let first = layers.first, let last = layers.last else { throw TNError.shape("a model needs at least one layer") }
        for case .dropout(let p) in stages where !(p >= 0 && p < 1) {
            throw TNError.value("a dropout probability must be in [0, 1), got \(p)")
        }
        for (a, b) in zip(layers, layers.dropFirst()) where a.outFeatures != b.inFeatures {
            throw TNError.shape("a layer with \(a.outFeatures) outputs is followed by one with \(b.inFeatures) inputs")
        }
        self.stages = stages
        inFeatures = first.inFeatures
        outFeatures = last.outFeatures
    }

    /// y = model(x) for a batch.
    /// - Parameters:
    ///   - x: batch × in_features, row-major.
    ///   - batch: the number of rows (≥ 0).
    /// - Returns: batch × out_features, row-major.
    /// - Throws: `TNError.shape` when `x` does not hold batch × in_features values.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func forward(_ x: [T], batch: Int) throws -> [T] {
        guard batch >= 0, x.count == batch * inFeatures else {
            throw TNError.shape("the model takes batch × \(inFeatures) values; got \(x.count) for a batch of \(batch)")
        }
        var current = x
        var width = inFeatures
        for stage in stages {
            switch stage {
            case .flatten, .dropout:
                continue
            case .activation(let a):
                current.withUnsafeMutableBufferPointer { p in
                    if let base = p.baseAddress { a.forward(UnsafePointer(base), into: base, count: p.count) }
                }
            case .layer(let layer):
                var next = [T](repeating: 0, count: batch * layer.outFeatures)
                if batch > 0 {
                    try current.withUnsafeMutableBufferPointer { src in
                        try next.withUnsafeMutableBufferPointer { dst in
                            try layer.apply(StridedView(contiguous: src.baseAddress!, shape: [batch, width]),
                                              into: StridedView(contiguous: dst.baseAddress!, shape: [batch, layer.outFeatures]))
                        }
                    }
                }
                current = next
                width = layer.outFeatures
            }
        }
        return current
    }
}
