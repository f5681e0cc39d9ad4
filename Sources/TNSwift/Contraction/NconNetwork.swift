/// Translates an ncon network (TensorNetwork's convention) into an `EinsumExpression`.
///
/// Positive labels are contracted and must appear exactly twice (twice in one tensor is a
/// trace); negative labels are output axes, each exactly once, numbered -1, -2, … in output order.
public enum NconNetwork {
    /// - Throws: `TNError.subscript` for a malformed network, `TNError.shape` when a tensor's
    ///   label count differs from its number of dimensions.
    public static func expression(labels: [[Int]], ndims: [Int]) throws -> EinsumExpression {
        guard labels.count == ndims.count else {
            throw TNError.shape("the network lists \(labels.count) tensor(s) but \(ndims.count) were given")
        }
        var count: [Int: Int] = [:]
        for (k, ls) in labels.enumerated() {
            guard ls.count == ndims[k] else {
                throw TNError.shape("tensor \(k) has \(ndims[k]) dimension(s) but the network gives it \(ls.count) label(s)")
            }
            for l in ls {
                guard l != 0 else { throw TNError.subscript("tensor \(k) has label 0; ncon labels are positive (contracted) or negative (output)") }
                count[l, default: 0] += 1
            }
        }
        for (l, c) in count {
            if l > 0, c != 2 {
                throw TNError.subscript("contracted label \(l) appears \(c) time(s); positive labels must appear exactly twice")
            }
            if l < 0, c != 1 {
                throw TNError.subscript("output label \(l) appears \(c) times; negative labels must appear once")
            }
        }
        let negatives = count.keys.filter { $0 < 0 }.sorted(by: >)
        for (k, l) in negatives.enumerated() where l != -(k + 1) {
            throw TNError.subscript("output labels must be -1, -2, … without gaps; label \(-(k + 1)) is missing")
        }
        let positives = count.keys.filter { $0 > 0 }.sorted()
        var id: [Int: Int] = [:]
        for (k, l) in positives.enumerated() { id[l] = k }
        for (k, l) in negatives.enumerated() { id[l] = positives.count + k }
        let total = positives.count + negatives.count
        let names = (0..<total).map { $0 < 52 ? EinsumParser.letterName($0 < 26 ? $0 + 26 : $0 - 26) : "#\($0)" }
        let descriptions = (positives + negatives).map { "ncon label \($0)" }
        return EinsumExpression(inputs: labels.map { $0.map { id[$0]! } },
                                output: negatives.map { id[$0]! },
                                labelNames: names, labelDescriptions: descriptions)
    }
}
