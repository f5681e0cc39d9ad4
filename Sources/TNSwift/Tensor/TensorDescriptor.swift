/// The C description of a tensor (`tn_tensor` in tnswift.h, same layout): data pointer,
/// number of dimensions, sizes and element strides (NULL strides: C-contiguous).
@frozen
public struct TensorDescriptor {
    public var data: UnsafeMutableRawPointer?
    public var ndim: Int64
    public var shape: UnsafePointer<Int64>?
    public var strides: UnsafePointer<Int64>?

    public init(data: UnsafeMutableRawPointer?, ndim: Int64, shape: UnsafePointer<Int64>?, strides: UnsafePointer<Int64>?) {
        self.data = data
        self.ndim = ndim
        self.shape = shape
        self.strides = strides
    }

    /// Whether this descriptor has a non-NULL data pointer and exactly the shape and strides
    /// of `view` (no allocation).
    func describes<T>(_ view: StridedView<T>) -> Bool {
        guard data != nil, ndim == Int64(view.shape.count) else { return false }
        let d = view.shape.count
        if d == 0 { return true }
        guard let shape else { return false }
        var step = 1
        for k in stride(from: d - 1, through: 0, by: -1) {
            guard shape[k] == Int64(view.shape[k]) else { return false }
            let s = strides.map { Int($0[k]) } ?? step
            guard s == view.strides[k] else { return false }
            step &*= Swift.max(view.shape[k], 1)
        }
        return true
    }
}
