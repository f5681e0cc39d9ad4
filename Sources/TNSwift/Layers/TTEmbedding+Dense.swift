extension TTEmbedding {
    /// The whole table (numEmbeddings × embeddingDim, row-major) — for checks and export;
    /// lookups never build it.
    /// - Throws: `TNError.memory` when the table does not fit.
    /// - Complexity: a forward over every row.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func denseTable() throws -> [T] {
        let count = try checkedProduct([numEmbeddings, embeddingDim], what: "the dense table")
        try LayerAllocationBudget.check(count)
        let indices = (0..<numEmbeddings).map { Int64($0) }
        // The padding row is a row like any other in the table.
        let table = try Workspace<T>(count: count)
        try withLock {
            try indices.withUnsafeBufferPointer { p in
                let state = try computeStates(p, skip: nil)
                try applyLastCore(state, indices: p, output: table.pointer)
            }
        }
        return Array(UnsafeBufferPointer(start: table.pointer, count: count))
    }

    /// A TT embedding fitted to a dense table (numEmbeddings × embeddingDim, row-major) by
    /// TT-SVD of the table as a TT-matrix (rows padded with zeros up to Π rowModes): with a
    /// cap on every rank, or with ‖E − Ê‖_F ≤ eps · ‖E‖_F. Give exactly one of them.
    /// - Throws: `TNError.shape` for a table whose size is not rows × embeddingDim or bad
    ///   modes; `TNError.value` for a bad target, a NaN or an infinity, or a bad padding index.
    /// - Complexity: TT-SVD of the padded table.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func fromDense(table: [T], numEmbeddings: Int, embeddingDim: Int, rowModes: [Int]? = nil,
                                 columnModes: [Int]? = nil, order: Int? = nil, rank: Int? = nil, eps: Double? = nil,
                                 paddingIndex: Int? = nil) throws -> TTEmbedding<T> {
        try LayerLabels.checkTarget("TTEmbedding", rank: rank != nil, eps: eps, budget: nil)
        if let r = rank, r < 1 { throw TNError.value("TTEmbedding: the TT rank must be at least 1 (got \(r))") }
        guard numEmbeddings >= 1, embeddingDim >= 1,
              (try? checkedProduct([numEmbeddings, embeddingDim], what: "")) == table.count else {
            throw TNError.shape("TTEmbedding.fromDense: the table has \(table.count) values, not \(numEmbeddings) × \(embeddingDim)")
        }
        for v in table where !v.isFinite { throw TNError.value("TTEmbedding.fromDense: the table has a NaN or an infinity") }
        // Shapes and modes checked by a throwaway rank-1 layer of the same configuration.
        let d = rowModes?.count ?? columnModes?.count ?? order ?? 3
        let probe = try TTEmbedding(numEmbeddings: numEmbeddings, embeddingDim: embeddingDim, rank: 1, rowModes: rowModes,
                                    columnModes: columnModes, order: d, paddingIndex: paddingIndex, std: 0)
        let padded = probe.rowModes.reduce(1, *)
        var values = table
        values.append(contentsOf: repeatElement(0, count: (padded - numEmbeddings) * embeddingDim))
        let tt = try values.withUnsafeBufferPointer { p in
            try TTMatrix<T>(decompose: p.baseAddress!, rows: padded, columns: embeddingDim, rowModes: probe.rowModes,
                            columnModes: probe.columnModes, caps: [Int?](repeating: rank, count: d - 1), eps: eps)
        }
        let layer = try TTEmbedding(numEmbeddings: numEmbeddings, embeddingDim: embeddingDim,
                                    ranks: Array(tt.ranks.dropFirst().dropLast()), rowModes: probe.rowModes,
                                    columnModes: probe.columnModes, paddingIndex: paddingIndex, std: 0)
        layer.load(tt.cores)
        return layer
    }
}
