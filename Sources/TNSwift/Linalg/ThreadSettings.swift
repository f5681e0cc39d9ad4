import CBLAS

/// The one place that controls threading.
///
/// OpenBLAS runs single-threaded and the engine spreads work over `workers` cores itself: a
/// batch of GEMMs across the batch, one large GEMM by blocks of rows or columns. This avoids
/// OpenBLAS's thread barriers (erratic on shared machines) and oversubscription when batches
/// already run in parallel. The initial worker count is OpenBLAS's own default (which honours
/// OPENBLAS_NUM_THREADS).
public enum ThreadSettings {
    nonisolated(unsafe) private static var configuredWorkers: Int = {
        let n = Swift.max(1, Int(openblas_get_num_threads()))
        openblas_set_num_threads(1)
        return n
    }()

    /// Worker threads the engine uses.
    public static var workers: Int { configuredWorkers }

    /// Sets the number of worker threads; returns the previous value. Values below 1 leave
    /// the setting unchanged.
    @discardableResult
    public static func setThreads(_ n: Int) -> Int {
        let previous = configuredWorkers
        if n >= 1 { configuredWorkers = n }
        return previous
    }

    /// OpenBLAS's build configuration string.
    public static var blasConfig: String { String(cString: openblas_get_config()) }
}
