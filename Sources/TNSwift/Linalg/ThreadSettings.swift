import CBLAS

/// The one place that controls threading: OpenBLAS's threads and the engine's batch workers.
public enum ThreadSettings {
    /// Workers for batches of small GEMMs (each GEMM then runs single-threaded in OpenBLAS).
    nonisolated(unsafe) static var workers: Int = Swift.max(1, Int(openblas_get_num_threads()))

    /// Sets the number of threads (BLAS and batch workers); returns the previous value.
    /// Values below 1 leave the setting unchanged.
    @discardableResult
    public static func setThreads(_ n: Int) -> Int {
        let previous = Int(openblas_get_num_threads())
        if n >= 1 {
            openblas_set_num_threads(Int32(n))
            workers = n
        }
        return previous
    }

    /// OpenBLAS's build configuration string.
    public static var blasConfig: String { String(cString: openblas_get_config()) }
}
