/// Parses NumPy's einsum grammar into an `EinsumExpression`.
///
/// Supports explicit (`->`) and implicit outputs, `...` with NumPy's broadcasting rules,
/// repeated labels inside one operand, letters a–z and A–Z; spaces are ignored.
public enum EinsumParser {
    /// Labels 0–25 are 'A'–'Z', 26–51 are 'a'–'z', ellipsis dimensions start at 52.
    static let ellipsisBase = 52

    private struct Term {
        var letters: [Int] = []          // letter labels in order
        var ellipsisAt: Int? = nil       // index in `letters` where "..." stands
    }

    /// - Parameters:
    ///   - subscripts: the einsum string.
    ///   - ndims: number of dimensions of each operand.
    /// - Throws: `TNError.subscript` for malformed subscripts, `TNError.shape` when a term does
    ///   not match its operand's number of dimensions or the operand count is wrong.
    public static func parse(_ subscripts: String, ndims: [Int]) throws -> EinsumExpression {
        let chars = Array(subscripts.unicodeScalars)
        var terms: [Term] = [Term()]
        var outputTerm: Term? = nil
        var inOutput = false
        var i = 0
        func fail(_ what: String, _ at: Int) -> TNError {
            .subscript("\(what) at position \(at) in '\(subscripts)'")
        }
        while i < chars.count {
            let c = chars[i]
            let v = c.value
            if c == " " { i += 1; continue }
            if (v >= 65 && v <= 90) || (v >= 97 && v <= 122) {
                let label = v <= 90 ? Int(v) - 65 : Int(v) - 97 + 26
                if inOutput { outputTerm!.letters.append(label) } else { terms[terms.count - 1].letters.append(label) }
                i += 1
            } else if c == "," {
                if inOutput { throw fail("',' after '->'", i) }
                terms.append(Term())
                i += 1
            } else if c == "-" {
                guard i + 1 < chars.count, chars[i + 1] == ">" else { throw fail("'-' not followed by '>'", i) }
                if inOutput { throw fail("second '->'", i) }
                inOutput = true
                outputTerm = Term()
                i += 2
            } else if c == "." {
                guard i + 2 < chars.count, chars[i + 1] == ".", chars[i + 2] == "." else {
                    throw fail("'.' that is not part of an ellipsis '...'", i)
                }
                if inOutput {
                    if outputTerm!.ellipsisAt != nil { throw fail("second ellipsis in the output", i) }
                    outputTerm!.ellipsisAt = outputTerm!.letters.count
                } else {
                    if terms[terms.count - 1].ellipsisAt != nil { throw fail("second ellipsis in one operand", i) }
                    terms[terms.count - 1].ellipsisAt = terms[terms.count - 1].letters.count
                }
                i += 3
            } else if c == ">" {
                throw fail("'>' without '-'", i)
            } else {
                throw fail("invalid character '\(c)' (labels are a-z and A-Z)", i)
            }
        }
        guard terms.count == ndims.count else {
            throw TNError.shape("subscripts '\(subscripts)' name \(terms.count) operand(s) but \(ndims.count) were given")
        }

        // Ellipsis dimensions per operand, right-aligned against the widest one.
        var ellipsisDims = [Int](repeating: 0, count: terms.count)
        for (k, term) in terms.enumerated() {
            let extra = ndims[k] - term.letters.count
            if term.ellipsisAt == nil {
                guard extra == 0 else {
                    throw TNError.shape("operand \(k) has \(ndims[k]) dimension(s) but its subscripts '\(termText(term))' name \(term.letters.count)")
                }
            } else {
                guard extra >= 0 else {
                    throw TNError.shape("operand \(k) has \(ndims[k]) dimension(s), fewer than the \(term.letters.count) labels in '\(termText(term))'")
                }
                ellipsisDims[k] = extra
            }
        }
        let widest = ellipsisDims.max() ?? 0
        let ellipsisLabels = (0..<widest).map { ellipsisBase + $0 }

        var inputs: [[Int]] = []
        for (k, term) in terms.enumerated() {
            guard let at = term.ellipsisAt else { inputs.append(term.letters); continue }
            let e = ellipsisDims[k]
            inputs.append(Array(term.letters[..<at]) + ellipsisLabels[(widest - e)...] + Array(term.letters[at...]))
        }

        var output: [Int]
        if let out = outputTerm {
            var seen = Set<Int>()
            for l in out.letters {
                guard seen.insert(l).inserted else {
                    throw TNError.subscript("output label '\(letterName(l))' appears more than once in '\(subscripts)'")
                }
                guard terms.contains(where: { $0.letters.contains(l) }) else {
                    throw TNError.subscript("output label '\(letterName(l))' does not appear in any input of '\(subscripts)'")
                }
            }
            if let at = out.ellipsisAt {
                output = Array(out.letters[..<at]) + ellipsisLabels + Array(out.letters[at...])
            } else {
                guard widest == 0 else {
                    throw TNError.subscript("the output of '\(subscripts)' has no '...' but the inputs' ellipsis covers \(widest) dimension(s); add '...' to the output to keep them")
                }
                output = out.letters
            }
        } else {
            var counts = [Int](repeating: 0, count: ellipsisBase)
            for term in terms { for l in term.letters { counts[l] += 1 } }
            output = ellipsisLabels + (0..<ellipsisBase).filter { counts[$0] == 1 }
        }

        // Names: letters are themselves; ellipsis dimensions borrow unused letters for reports.
        var names = (0..<ellipsisBase).map(letterName)
        let used = Set(inputs.joined())
        var spare = (0..<ellipsisBase).filter { !used.contains($0) }.reversed().map(letterName)
        for _ in 0..<widest { names.append(spare.popLast() ?? "·") }
        var descriptions = (0..<ellipsisBase).map { "label '\(letterName($0))'" }
        for k in 0..<widest { descriptions.append("dimension \(k) of the ellipsis '...' (broadcast)") }
        return EinsumExpression(inputs: inputs, output: output, labelNames: names, labelDescriptions: descriptions)
    }

    static func letterName(_ label: Int) -> String {
        let v = label < 26 ? 65 + label : 97 + label - 26
        return String(Character(Unicode.Scalar(UInt8(v))))
    }

    private static func termText(_ term: Term) -> String {
        var s = term.letters.map(letterName)
        if let at = term.ellipsisAt { s.insert("...", at: at) }
        return s.joined()
    }
}
