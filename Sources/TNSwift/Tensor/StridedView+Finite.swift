extension StridedView {
    /// Whether every element is finite (no NaN, no infinity).
    /// - Complexity: O(count).
    func allFinite() -> Bool {
        if shape.contains(0) { return true }
        let rank = shape.count
        if rank == 0 { return base.pointee.isFinite }
        var index = [Int](repeating: 0, count: rank)
        var offset = 0
        let inner = shape[rank - 1], step = strides[rank - 1]
        while true {
            var p = base + offset
            for _ in 0..<inner {
                if !p.pointee.isFinite { return false }
                p += step
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
