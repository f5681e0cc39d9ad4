/// A cheap content hash of a strided view, used to notice operands modified in place between a
/// forward run and the backward that wants to reuse its intermediates.
///
/// Views up to `exhaustiveLimit` elements are hashed completely (parameters, cores); larger
/// ones at `samples` evenly spread elements, which catches whole-array updates but may miss a
/// change to a few elements.
enum Fingerprint {
    static let exhaustiveLimit = 16_384
    static let samples = 1_024

    static func of<T: BLASScalar>(_ v: StridedView<T>) -> UInt64 {
        let count = v.count
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        if count == 0 { return h }
        @inline(__always) func mix(_ x: T) {
            let bits: UInt64 = withUnsafeBytes(of: x) { raw in
                MemoryLayout<T>.size == 4 ? UInt64(raw.load(as: UInt32.self)) : raw.load(as: UInt64.self)
            }
            h = (h ^ bits) &* 0x100_0000_01b3
        }
        let d = v.shape.count
        if count <= exhaustiveLimit && v.isContiguous {
            return contiguousHash(UnsafeRawPointer(v.base), bytes: count &* MemoryLayout<T>.stride)
        }
        if count <= exhaustiveLimit {
            var idx = [Int](repeating: 0, count: d)
            var off = 0
            while true {
                mix(v.base[off])
                var k = d - 1
                while k >= 0 {
                    idx[k] &+= 1; off &+= v.strides[k]
                    if idx[k] < v.shape[k] { break }
                    off &-= v.strides[k] &* v.shape[k]; idx[k] = 0
                    k -= 1
                }
                if k < 0 { return h }
            }
        }
        for s in 0..<samples {
            var linear = s &* (count &- 1) / (samples &- 1)
            var off = 0
            for k in stride(from: d - 1, through: 0, by: -1) {
                off &+= (linear % v.shape[k]) &* v.strides[k]
                linear /= v.shape[k]
            }
            mix(v.base[off])
        }
        return h
    }

    /// FNV-style hash of raw memory in four interleaved lanes of 64-bit words, so the
    /// multiplies do not wait on each other (a single chain costs ~4 cycles a word: 17 µs
    /// for W2's input and factors, hashed on every forward and backward).
    private static func contiguousHash(_ p: UnsafeRawPointer, bytes: Int) -> UInt64 {
        let prime: UInt64 = 0x100_0000_01b3
        var h0: UInt64 = 0xcbf2_9ce4_8422_2325, h1 = h0 ^ 1, h2 = h0 ^ 2, h3 = h0 ^ 3
        let words = bytes / 8
        var i = 0
        while i &+ 4 <= words {
            h0 = (h0 ^ p.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self)) &* prime
            h1 = (h1 ^ p.loadUnaligned(fromByteOffset: (i &+ 1) &* 8, as: UInt64.self)) &* prime
            h2 = (h2 ^ p.loadUnaligned(fromByteOffset: (i &+ 2) &* 8, as: UInt64.self)) &* prime
            h3 = (h3 ^ p.loadUnaligned(fromByteOffset: (i &+ 3) &* 8, as: UInt64.self)) &* prime
            i &+= 4
        }
        while i < words {
            h0 = (h0 ^ p.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self)) &* prime
            i &+= 1
        }
        var tail: UInt64 = 0
        for b in (words &* 8)..<bytes { tail = (tail << 8) | UInt64(p.load(fromByteOffset: b, as: UInt8.self)) }
        h1 = (h1 ^ tail) &* prime
        return ((h0 &* prime ^ h1) &* prime ^ h2) &* prime ^ h3
    }
}
