/// A dense matrix that owns its memory, stored **row-major** (C order, like a NumPy array):
/// element (i, j) is at offset `i * columns + j`.
///
/// `Matrix` is a reference type: copies of a reference share the elements, as NumPy arrays
/// share a buffer. It is what `SVD`, `QR` and the randomized SVD return.
public final class Matrix<T: BLASScalar> {
    /// Number of rows (m).
    public let rows: Int
    /// Number of columns (n).
    public let columns: Int
    /// At least `rows * columns` elements.
    let storage: Workspace<T>

    /// Adopts `storage`, whose first `rows * columns` elements are the matrix, row-major.
    init(rows: Int, columns: Int, storage: Workspace<T>) {
        precondition(rows >= 0 && columns >= 0 && storage.count >= rows &* columns, "matrix storage too small")
        self.rows = rows
        self.columns = columns
        self.storage = storage
    }

    /// Allocates a `rows`×`columns` matrix without initialising it (callers fill every element).
    /// - Throws: `TNError.shape` for a negative size, `TNError.memory` when the size overflows
    ///   or cannot be allocated.
    init(uninitializedRows rows: Int, columns: Int) throws {
        guard rows >= 0, columns >= 0 else {
            throw TNError.shape("a matrix cannot have a negative size (got \(rows)×\(columns))")
        }
        let count = try checkedProduct([rows, columns], what: "a \(rows)×\(columns) matrix")
        self.rows = rows
        self.columns = columns
        self.storage = try Workspace<T>(count: count)
    }

    /// A `rows`×`columns` matrix of zeros.
    /// - Throws: `TNError.shape` for a negative size, `TNError.memory` when the size overflows
    ///   or cannot be allocated.
    /// - Complexity: O(rows · columns).
    public convenience init(rows: Int, columns: Int) throws {
        try self.init(uninitializedRows: rows, columns: columns)
        storage.pointer.initialize(repeating: 0, count: count)
    }

    /// A `rows`×`columns` matrix holding `values` in row-major order.
    /// - Throws: `TNError.shape` when `values.count != rows * columns` or a size is negative,
    ///   `TNError.memory` when the size overflows or cannot be allocated.
    /// - Complexity: O(rows · columns).
    public convenience init(rows: Int, columns: Int, values: [T]) throws {
        try self.init(uninitializedRows: rows, columns: columns)
        guard values.count == count else {
            throw TNError.shape("a \(rows)×\(columns) matrix needs \(count) values but \(values.count) were given")
        }
        if count > 0 {
            values.withUnsafeBufferPointer { storage.pointer.initialize(from: $0.baseAddress!, count: count) }
        }
    }

    /// Number of elements, `rows * columns`.
    public var count: Int { rows &* columns }

    /// A copy of the elements in row-major order.
    /// - Complexity: O(rows · columns).
    public var values: [T] {
        withUnsafeBufferPointer { Array($0) }
    }

    /// Calls `body` with the elements (row-major, `count` long); the pointer is valid only
    /// inside `body`.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(UnsafeBufferPointer(start: storage.pointer, count: count)) }
    }

    /// Calls `body` with mutable access to the elements (row-major, `count` long); the pointer
    /// is valid only inside `body`.
    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<T>) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count)) }
    }
}
