#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Losses over a batch, with the gradient of the mean loss (PyTorch's `reduction="mean"`).
public enum Loss {
    /// Softmax cross-entropy from logits: mean over the batch of −log softmax(z)[label].
    /// - Parameters:
    ///   - logits: row-major batch × classes.
    ///   - labels: one class index per row, 0 ≤ label < classes.
    ///   - gradient: receives d(mean loss)/d logits = (softmax(z) − onehot) / batch; nil to skip.
    /// - Returns: the mean loss.
    /// - Throws: `TNError.value` for a label out of range or a non-finite logit;
    ///   `TNError.shape` for a batch below 1 or fewer than 1 class.
    /// - Complexity: O(batch · classes).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func softmaxCrossEntropy<T: BLASScalar>(logits: UnsafePointer<T>, labels: UnsafePointer<Int32>,
                                                          batch: Int, classes: Int,
                                                          gradient: UnsafeMutablePointer<T>?) throws -> Double {
        guard batch >= 1, classes >= 1 else {
            throw TNError.shape("cross-entropy needs a batch and classes of at least 1 (got \(batch)×\(classes))")
        }
        var total = 0.0
        for n in 0..<batch {
            let label = Int(labels[n])
            guard label >= 0, label < classes else {
                throw TNError.value("label \(label) of sample \(n) is outside 0..<\(classes)")
            }
            let row = logits + n &* classes
            var peak = -Double.infinity
            for c in 0..<classes {
                let v = Double(row[c])
                guard v.isFinite else { throw TNError.value("logit \(c) of sample \(n) is \(v)") }
                peak = Swift.max(peak, v)
            }
            var sum = 0.0
            for c in 0..<classes { sum += exp(Double(row[c]) - peak) }
            let logSum = log(sum) + peak
            total += logSum - Double(row[label])
            if let g = gradient {
                let out = g + n &* classes
                for c in 0..<classes {
                    let p = exp(Double(row[c]) - logSum)
                    out[c] = T((p - (c == label ? 1 : 0)) / Double(batch))
                }
            }
        }
        return total / Double(batch)
    }

    /// Mean squared error, mean over all elements of (prediction − target)².
    /// - Parameter gradient: receives 2 (prediction − target) / count; nil to skip.
    /// - Throws: `TNError.shape` for count < 1.
    /// - Complexity: O(count).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func meanSquaredError<T: BLASScalar>(prediction: UnsafePointer<T>, target: UnsafePointer<T>, count: Int,
                                                       gradient: UnsafeMutablePointer<T>?) throws -> Double {
        guard count >= 1 else { throw TNError.shape("mean squared error needs at least one element") }
        var total = 0.0
        for i in 0..<count {
            let d = Double(prediction[i]) - Double(target[i])
            total += d * d
            gradient?[i] = T(2 * d / Double(count))
        }
        return total / Double(count)
    }
}
