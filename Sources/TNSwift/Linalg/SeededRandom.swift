#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small deterministic random generator (SplitMix64) with uniform and Gaussian draws.
///
/// The same seed gives the same sequence on every platform and run, so seeded results
/// (randomized SVD, random initialisation) are reproducible. Not for cryptography.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    /// The second value of the last Box–Muller pair, not yet returned.
    private var spare: Double? = nil

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in [0, 1) with 53 random bits.
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A standard normal value (mean 0, variance 1), by the Box–Muller transform.
    public mutating func nextGaussian() -> Double {
        if let z = spare {
            spare = nil
            return z
        }
        let u1 = Double((next() >> 11) &+ 1) * 0x1p-53   // (0, 1]: the logarithm stays finite
        let u2 = nextUniform()
        let radius = sqrt(-2 * log(u1))
        let angle = 2 * Double.pi * u2
        spare = radius * sin(angle)
        return radius * cos(angle)
    }

    /// Fills `count` elements at `pointer` with standard normal values.
    /// - Complexity: O(count).
    public mutating func fillGaussian<T: BinaryFloatingPoint>(_ pointer: UnsafeMutablePointer<T>, count: Int) {
        for i in 0..<count { pointer[i] = T(nextGaussian()) }
    }
}
