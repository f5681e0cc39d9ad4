/// A dense linear layer, y = x · W + b with W in_features × out_features: the reference the
/// factorized layers are compared with, on the same engine.
public final class Linear<T: LAPACKScalar>: EinsumLayer<T> {
    /// - Throws: `TNError.shape` for a size below 1.
    public init(inFeatures: Int, outFeatures: Int, bias: Bool = true, seed: UInt64 = 0) throws {
        try LayerLabels.check("Linear", inputModes: [inFeatures], outputModes: [outFeatures], sameCount: false)
        try super.init(layerEquation: "za,am->zm", parameterShapes: [[inFeatures, outFeatures]], bias: bias)
        parameterNames = ["weight"]
        try fillInitial(seed: seed)
    }

    override public var configuration: JSONValue {
        .object([("type", .string("Linear")), ("in_features", .number(Double(inFeatures))),
                 ("out_features", .number(Double(outFeatures))), ("bias", .bool(hasBias))])
    }

    /// A layer holding a copy of `weight` (in_features × out_features) and `bias`.
    /// - Throws: `TNError.shape` when the bias length differs from the weight's columns;
    ///   `TNError.value` for a NaN or an infinity.
    public convenience init(weight: Matrix<T>, bias: [T]? = nil) throws {
        try self.init(inFeatures: weight.rows, outFeatures: weight.columns, bias: bias != nil)
        try LayerLabels.checkDense("Linear", weight: weight, bias: bias, inputModes: [weight.rows], outputModes: [weight.columns])
        load([weight.values], bias: bias)
    }
}
