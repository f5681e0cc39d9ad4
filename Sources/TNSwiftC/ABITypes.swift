import TNSwift

// Swift mirrors of the structs in include/tnswift.h (same field order, types and alignment).

/// `tn_tensor` (the core's descriptor has its layout).
typealias CTensor = TensorDescriptor

/// `tn_plan_options`
struct CPlanOptions {
    var optimize: Int32
    var memoryLimit: Int64
}

/// `tn_plan_info`
struct CPlanInfo {
    var naiveFlops: Double
    var optFlops: Double
    var largestIntermediate: Int64
    var nSteps: Int64
    var nOperands: Int64
    var outNdim: Int64
}

/// `tn_status` values.
enum Status: Int32 {
    case ok = 0, badSubscript = 1, shape = 2, dtype = 3, value = 4, memory = 5, handle = 6, internalError = 7, interrupted = 8
}

/// ABI version: bump with every incompatible change of tnswift.h.
let abiVersion: UInt32 = 8
let libraryVersion = "0.1.0"

/// The buffer protocol of the text-returning calls: `needed` (if given) receives the size with
/// the terminating NUL; up to `cap` - 1 bytes of `text` and a NUL go to `buffer` when cap > 0.
func writeText(_ text: String, _ buffer: UnsafeMutablePointer<CChar>?, _ cap: Int, _ needed: UnsafeMutablePointer<Int>?) throws {
    let bytes = Array(text.utf8)
    needed?.pointee = bytes.count + 1
    guard cap > 0 else { return }
    guard let buffer else { throw ABIError.null("buffer") }
    let n = min(bytes.count, cap - 1)
    for i in 0..<n { buffer[i] = CChar(bitPattern: bytes[i]) }
    buffer[n] = 0
}
