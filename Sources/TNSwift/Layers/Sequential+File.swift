extension Sequential {
    /// The metadata key holding the model's description.
    static var metadataKey: String { "tnswift.model" }

    /// The model as a safetensors file: each layer's parameters as `stages.<i>.<name>` (and
    /// `stages.<i>.bias`), the structure as JSON in the metadata under "tnswift.model".
    public func serialized() throws -> [UInt8] {
        var tensors: [(name: String, dtype: DType, shape: [Int], bytes: [UInt8])] = []
        var described: [JSONValue] = []
        for (i, stage) in stages.enumerated() {
            switch stage {
            case .activation(let a):
                described.append(.object([("type", .string("activation")), ("name", .string(a.rawValue))]))
            case .flatten:
                described.append(.object([("type", .string("flatten"))]))
            case .dropout(let p):
                described.append(.object([("type", .string("dropout")), ("p", .number(p))]))
            case .layer(let layer):
                described.append(layer.configuration)
                for (j, name) in layer.parameterNames.enumerated() {
                    tensors.append(("stages.\(i).\(name)", T.dtype, layer.parameterShapes[j], Array(UnsafeRawBufferPointer(layer.parameter(j)))))
                }
                if let b = layer.biasValues {
                    tensors.append(("stages.\(i).bias", T.dtype, [layer.outFeatures], Array(UnsafeRawBufferPointer(b))))
                }
            }
        }
        let model = JSONValue.object([("format", .number(1)), ("dtype", .string(T.dtype.description)), ("stages", .array(described))])
        return try SafeTensors.serialize(tensors: tensors, metadata: [(Sequential.metadataKey, model.serialized)])
    }

    /// Writes the model to `path` atomically.
    /// - Throws: `TNError.value` when the file cannot be written.
    public func save(path: String) throws {
        try SafeTensors.writeAtomically(serialized(), to: path)
    }

    /// A model from a file `save` wrote (in this precision).
    /// - Throws: `TNError.value` for an unreadable, corrupt or foreign file or an unknown
    ///   stage; `TNError.dtype` when the file holds the other precision; `TNError.shape`
    ///   when a tensor does not fit its layer.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func load(path: String) throws -> Sequential<T> {
        try decode(SafeTensors.read(path: path))
    }

    /// A model from a parsed file (see `load(path:)`).
    /// - Throws: as `load(path:)`.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func load(file: SafeTensors) throws -> Sequential<T> {
        try decode(file)
    }

    /// The precision of the model in `file` ("float32" or "float64"), read from its
    /// description without building it; nil when the file is not a tnswift model.
    public static func modelDType(of file: SafeTensors) -> DType? {
        guard let text = file.metadata(metadataKey), let model = try? JSONValue.parse(Array(text.utf8)) else { return nil }
        switch model["dtype"]?.stringValue {
        case "float32": return .float32
        case "float64": return .float64
        default: return nil
        }
    }

    /// `load` from a parsed file.
    static func decode(_ file: SafeTensors) throws -> Sequential<T> {
        guard let text = file.metadata(metadataKey) else {
            throw TNError.value("the file has no '\(metadataKey)' metadata: it is not a tnswift model")
        }
        let model = try JSONValue.parse(Array(text.utf8))
        guard model["format"]?.intValue == 1, let stagesJSON = model["stages"]?.arrayValue else {
            throw TNError.value("unknown tnswift model format")
        }
        guard model["dtype"]?.stringValue == T.dtype.description else {
            throw TNError.dtype("the model is \(model["dtype"]?.stringValue ?? "?"), not \(T.dtype)")
        }
        var stages: [ModelStage<T>] = []
        for (i, s) in stagesJSON.enumerated() {
            let type = s["type"]?.stringValue ?? ""
            if type == "activation" {
                stages.append(.activation(try Activation(name: s["name"]?.stringValue ?? "")))
                continue
            }
            if type == "flatten" {
                stages.append(.flatten)
                continue
            }
            if type == "dropout" {
                guard let p = s["p"]?.doubleValue else { throw TNError.value("stage \(i) (dropout) lacks 'p'") }
                stages.append(.dropout(p))
                continue
            }
            // The layer may not allocate more values than the file holds for its stage.
            let prefix = "stages.\(i)."
            let held = file.entries.lazy.filter { $0.name.hasPrefix(prefix) }.reduce(0) { $0 + $1.entry.shape.reduce(1, *) }
            let layer = try LayerAllocationBudget.$values.withValue(held) { try makeLayer(type, s, stage: i) }
            for (j, name) in layer.parameterNames.enumerated() {
                try copy(file, "stages.\(i).\(name)", shape: layer.parameterShapes[j], into: layer.parameter(j))
            }
            if let b = layer.biasValues { try copy(file, "stages.\(i).bias", shape: [layer.outFeatures], into: b) }
            stages.append(.layer(layer))
        }
        return try Sequential(stages)
    }

    private static func makeLayer(_ type: String, _ s: JSONValue, stage i: Int) throws -> EinsumLayer<T> {
        func ints(_ key: String) throws -> [Int] {
            guard let a = s[key]?.arrayValue else { throw TNError.value("stage \(i) (\(type)) lacks '\(key)'") }
            return try a.map { guard let v = $0.intValue else { throw TNError.value("stage \(i): '\(key)' holds a non-integer") }; return v }
        }
        func int(_ key: String) throws -> Int {
            guard let v = s[key]?.intValue else { throw TNError.value("stage \(i) (\(type)) lacks '\(key)'") }
            return v
        }
        let bias = s["bias"]?.boolValue ?? true
        switch type {
        case "Linear": return try Linear<T>(inFeatures: int("in_features"), outFeatures: int("out_features"), bias: bias)
        case "TTLinear": return try TTLinear<T>(inputModes: ints("input_modes"), outputModes: ints("output_modes"), ranks: ints("ranks"), bias: bias)
        case "CPLinear": return try CPLinear<T>(inputModes: ints("input_modes"), outputModes: ints("output_modes"), rank: int("rank"), bias: bias)
        case "TuckerLinear": return try TuckerLinear<T>(inputModes: ints("input_modes"), outputModes: ints("output_modes"), ranks: ints("ranks"), bias: bias)
        case "TTTensorLinear":
            return try TTTensorLinear<T>(inputModes: ints("input_modes"), outputModes: ints("output_modes"), ranks: ints("ranks"), bias: bias)
        case "TCL": return try TCL<T>(inputModes: ints("input_modes"), ranks: ints("ranks"), bias: bias)
        case "EinsumLayer":
            guard let eq = s["equation"]?.stringValue, let shapes = s["parameter_shapes"]?.arrayValue else {
                throw TNError.value("stage \(i) (EinsumLayer) lacks its equation or parameter shapes")
            }
            let parsed = try shapes.map { shape -> [Int] in
                guard let dims = shape.arrayValue else { throw TNError.value("stage \(i): a parameter shape is not a list") }
                return try dims.map { guard let v = $0.intValue else { throw TNError.value("stage \(i): a bad parameter size") }; return v }
            }
            return try EinsumLayer<T>(equation: eq, parameterShapes: parsed, bias: bias)
        default:
            throw TNError.value("stage \(i) has an unknown type '\(type)'")
        }
    }

    private static func copy(_ file: SafeTensors, _ name: String, shape: [Int], into dst: UnsafeMutableBufferPointer<T>) throws {
        guard let e = file.entry(name) else { throw TNError.value("the file lacks tensor '\(name)'") }
        guard e.shape == shape else { throw TNError.shape("tensor '\(name)' has shape \(e.shape) but the layer needs \(shape)") }
        dst.overwrite(with: try file.values(name, as: T.self))
    }
}
