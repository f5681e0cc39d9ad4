extension StridedView {
    /// The view as a (rows, features) matrix, rows = the product of every axis but the last,
    /// without a copy; nil when the leading axes cannot be merged into one row stride.
    /// - Precondition: rank ≥ 1.
    func mergedRows() -> StridedView<T>? {
        precondition(!shape.isEmpty, "mergedRows needs a rank of at least 1")
        let last = shape.count - 1
        let rows = shape[..<last].reduce(1, *)
        var rowStride: Int? = nil
        var expected = 0
        // From the innermost leading axis outwards; size-1 axes never move.
        for d in stride(from: last - 1, through: 0, by: -1) where shape[d] != 1 {
            if rowStride == nil {
                rowStride = strides[d]
            } else if strides[d] != expected {
                return nil
            }
            expected = strides[d] &* shape[d]
        }
        let rs = rows == 0 ? shape[last] : (rowStride ?? shape[last] &* strides[last])
        var view = StridedView(contiguous: base, shape: [rows, shape[last]])
        view.strides = [rs, strides[last]]
        return view
    }

    /// A (rows, features) view of `v` to read from: `v` itself when its leading axes merge,
    /// else a contiguous copy, returned with the buffer that holds it.
    /// - Throws: `TNError.memory` when the copy cannot be allocated.
    static func readableRows(_ v: StridedView<T>) throws -> (rows: StridedView<T>, staging: Workspace<T>?) {
        if let r = v.mergedRows() { return (r, nil) }
        let (values, copy) = try contiguousValues(v)
        let f = v.shape[v.shape.count - 1], count = v.shape.reduce(1, *)
        return (StridedView(contiguous: UnsafeMutablePointer(mutating: values), shape: [count / Swift.max(f, 1), f]), copy)
    }

    /// A (rows, features) view of `v` to write into: `v` itself when its leading axes merge,
    /// else a contiguous buffer that `storeRows` copies into `v` afterwards.
    /// - Throws: `TNError.memory` when the buffer cannot be allocated.
    static func writableRows(_ v: StridedView<T>) throws -> (rows: StridedView<T>, staging: Workspace<T>?) {
        if let r = v.mergedRows() { return (r, nil) }
        let count = try checkedProduct(v.shape, what: "a staging buffer of shape \(v.shape)")
        let w = try Workspace<T>(count: count)
        let f = v.shape[v.shape.count - 1]
        return (StridedView(contiguous: w.pointer, shape: [count / Swift.max(f, 1), f]), w)
    }

    /// Copies a staging buffer from `writableRows` into `v` (nothing when there was none).
    static func storeRows(_ staging: Workspace<T>?, into v: StridedView<T>) {
        guard let w = staging else { return }
        TensorKernels.transfer(sizes: v.shape, src: w.pointer, srcStrides: contiguousStrides(v.shape), dst: v.base,
                               dstStrides: v.strides, accumulate: false)
    }

    /// A pointer to the view's elements in C order: `base` when the view is contiguous, else a
    /// contiguous copy (returned with the buffer that holds it).
    /// - Throws: `TNError.memory` when the copy cannot be allocated.
    static func contiguousValues(_ v: StridedView<T>) throws -> (pointer: UnsafePointer<T>, staging: Workspace<T>?) {
        if v.isContiguous { return (UnsafePointer(v.base), nil) }
        let w = try Workspace<T>(count: try checkedProduct(v.shape, what: "a copy of shape \(v.shape)"))
        TensorKernels.transfer(sizes: v.shape, src: v.base, srcStrides: v.strides, dst: w.pointer,
                               dstStrides: contiguousStrides(v.shape), accumulate: false)
        return (UnsafePointer(w.pointer), w)
    }
}
