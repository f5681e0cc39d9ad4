extension StridedView {
    /// Whether the view is C-contiguous (size-1 axes may have any stride).
    var isContiguous: Bool {
        var expected = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] != 1 {
            if shape[d] == 0 { return true }
            guard strides[d] == expected else { return false }
            expected &*= shape[d]
        }
        return true
    }
}
