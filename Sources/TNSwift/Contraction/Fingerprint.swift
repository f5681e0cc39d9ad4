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
}
