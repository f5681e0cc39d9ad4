extension StridedView {
    /// Whether every element is finite (no NaN, no infinity).
    /// - Complexity: O(count).
    func allFinite() -> Bool {
        if shape.contains(0) { return true }
        // Dimensions that continue each other's run are checked as one (a layer's dy viewed
        // as (batch, 4, 4, 4, 4, 4) is one contiguous run, not runs of 4).
        var shape: [Int] = [], strides: [Int] = []
        for (n, st) in zip(self.shape, self.strides) where n != 1 {
            if let last = shape.indices.last, strides[last] == st &* n {
                shape[last] &*= n
                strides[last] = st
            } else {
                shape.append(n)
                strides.append(st)
            }
        }
        let rank = shape.count
        if rank == 0 { return base.pointee.isFinite }
        var index = [Int](repeating: 0, count: rank)
        var offset = 0
        let inner = shape[rank - 1], step = strides[rank - 1]
        while true {
            if step == 1 {
                if !TNSwift.allFinite(base + offset, count: inner) { return false }
            } else {
                var p = base + offset
                for _ in 0..<inner {
                    if !p.pointee.isFinite { return false }
                    p += step
                }
            }
            var a = rank - 2
            while a >= 0 {
                index[a] &+= 1
                offset &+= strides[a]
                if index[a] < shape[a] { break }
                offset &-= strides[a] &* shape[a]
                index[a] = 0
                a -= 1
            }
            if a < 0 { return true }
        }
    }
}

/// Whether `count` contiguous values are all finite (a value is not when its exponent bits
/// are all ones), checked on the bit patterns so that the loop vectorises.
/// - Complexity: O(count).
func allFinite<T: BinaryFloatingPoint>(_ p: UnsafePointer<T>, count: Int) -> Bool {
    let raw = UnsafeRawPointer(p)
    if T.self == Float.self {
        return exponentsNotFull(raw.assumingMemoryBound(to: UInt32.self), count, mask: 0x7f80_0000)
    }
    if T.self == Double.self {
        return exponentsNotFull(raw.assumingMemoryBound(to: UInt64.self), count, mask: 0x7ff0_0000_0000_0000)
    }
    for i in 0..<count where !p[i].isFinite { return false }
    return true
}

/// Adding the exponent's lowest bit to the masked exponent carries into the sign bit exactly
/// when the exponent is all ones, so an OR of those sums (integer-only, vectorisable) tells.
@_specialize(where U == UInt32)
@_specialize(where U == UInt64)
private func exponentsNotFull<U: FixedWidthInteger & UnsignedInteger>(_ q: UnsafePointer<U>, _ count: Int, mask: U) -> Bool {
    let low = mask & (~mask &+ 1), sign = U(1) << (U.bitWidth - 1)
    var start = 0
    while start < count {
        let end = Swift.min(count, start &+ 4096)
        var carried: U = 0
        for i in start..<end { carried |= (q[i] & mask) &+ low }
        if carried & sign != 0 { return false }
        start = end
    }
    return true
}
