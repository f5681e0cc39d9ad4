/// A view of memory the engine does not own: base pointer, shape and element strides.
///
/// Strides count elements, not bytes, and may be negative or zero (NumPy produces both).
public struct StridedView<T: BLASScalar> {
    public var base: UnsafeMutablePointer<T>
    public var shape: [Int]
    public var strides: [Int]

    /// - Throws: `TNError.shape` when shape and strides differ in length or a size is negative.
    public init(base: UnsafeMutablePointer<T>, shape: [Int], strides: [Int]) throws {
        guard shape.count == strides.count else {
            throw TNError.shape("a view has \(shape.count) sizes but \(strides.count) strides")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw TNError.shape("negative size in shape \(shape)")
        }
        self.base = base
        self.shape = shape
        self.strides = strides
    }

    /// A C-contiguous view of `shape` starting at `base`.
    public init(contiguous base: UnsafeMutablePointer<T>, shape: [Int]) {
        self.base = base
        self.shape = shape
        self.strides = StridedView.contiguousStrides(shape)
    }

    /// Element strides of a C-contiguous array of `shape`.
    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[d] = step
            step &*= Swift.max(shape[d], 1)
        }
        return strides
    }

    /// Number of elements (the product of the shape).
    public var count: Int { shape.reduce(1, *) }
}
