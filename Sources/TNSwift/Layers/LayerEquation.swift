/// A layer's equation, checked and reduced to its parts: which labels are the batch, the
/// input modes, the output modes and the bonds (labels only parameters carry).
struct LayerEquation {
    /// The parsed expression; operand 0 is the input, whose first label is the batch.
    let expression: EinsumExpression
    /// The equation with an explicit batch label (`...` replaced).
    let canonical: String
    let inputModes: [Int]
    let outputModes: [Int]
    /// Labels of the input modes and output modes (expression label ids).
    let inputLabels: [Int]
    let outputLabels: [Int]
    /// Sizes of the labels that only parameters carry (summed inside the weight).
    let bondSizes: [Int]

    /// - Throws: `TNError.subscript` for a malformed or non-layer equation, `TNError.shape`
    ///   when parameter shapes do not fit it.
    init(_ equation: String, parameterShapes: [[Int]]) throws {
        guard equation.contains("->") else {
            throw TNError.subscript("a layer equation needs an explicit output (\"input,parameters->output\"), got \"\(equation)\"")
        }
        // `...` stands for the batch: give it a letter of its own.
        var text = equation.filter { $0 != " " }
        if text.contains("...") {
            guard let fresh = "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA".first(where: { !text.contains($0) }) else {
                throw TNError.subscript("the layer equation uses every letter; none is left for the batch")
            }
            text = text.replacing("...", with: String(fresh))
        }
        let sides = text.split(separator: "->", omittingEmptySubsequences: false).map(String.init)
        let terms = sides[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard terms.count == parameterShapes.count + 1 else {
            throw TNError.shape("the layer equation has \(terms.count - 1) parameter operand(s) but \(parameterShapes.count) parameter shape(s) were given")
        }
        guard let xTerm = terms.first, !xTerm.isEmpty else {
            throw TNError.subscript("a layer equation must start with the input's labels, batch first")
        }
        let e = try EinsumParser.parse(text, ndims: [xTerm.count] + parameterShapes.map(\.count))
        let x = e.inputs[0]
        let batch = x[0]
        let name = { (l: Int) in e.labelDescriptions[l] }
        let inParameters = Set(e.inputs.dropFirst().flatMap { $0 })
        guard !inParameters.contains(batch) else {
            throw TNError.subscript("the batch label \(name(batch)) (the input's first) must not appear in a parameter")
        }
        guard e.output.first == batch, e.output.filter({ $0 == batch }).count == 1, x.filter({ $0 == batch }).count == 1 else {
            throw TNError.subscript("the batch label \(name(batch)) (the input's first) must lead the output exactly once")
        }
        for l in x.dropFirst() where !inParameters.contains(l) {
            throw TNError.subscript("input label \(name(l)) appears in no parameter, so no weight acts on it")
        }
        guard Set(x.dropFirst()).count == x.count - 1 else { throw TNError.subscript("an input label repeats in the layer equation") }
        for l in e.output.dropFirst() where !inParameters.contains(l) || x.contains(l) {
            throw TNError.subscript("output label \(name(l)) must come from a parameter and not from the input")
        }
        // Sizes from the parameters (the input follows them).
        var sizes = [Int](repeating: -1, count: e.labelCount)
        for (p, labels) in e.inputs.dropFirst().enumerated() {
            for (d, l) in labels.enumerated() {
                let s = parameterShapes[p][d]
                guard s >= 1 else { throw TNError.shape("parameter \(p) has a size \(s) in dimension \(d); sizes must be at least 1") }
                if sizes[l] == -1 { sizes[l] = s }
                guard sizes[l] == s else {
                    throw TNError.shape("label \(name(l)) has size \(s) in parameter \(p) but size \(sizes[l]) elsewhere")
                }
            }
        }
        expression = e
        canonical = text
        inputLabels = Array(x.dropFirst())
        outputLabels = Array(e.output.dropFirst())
        inputModes = inputLabels.map { sizes[$0] }
        outputModes = outputLabels.map { sizes[$0] }
        let modes = Set(inputLabels + outputLabels)
        bondSizes = (0..<e.labelCount).filter { sizes[$0] > 0 && !modes.contains($0) }.map { sizes[$0] }
    }
}
