extension TTFeedForward {
    /// Checks that `v` has a last axis of d_model (and, with `like`, the same shape as it).
    /// - Throws: `TNError.shape` naming the view and both shapes.
    func checkShape(_ v: StridedView<T>, what: String, like x: StridedView<T>? = nil) throws {
        if let x {
            guard v.shape == x.shape else {
                throw TNError.shape("TTFeedForward: \(what) has shape \(v.shape) but the input has shape \(x.shape)")
            }
            return
        }
        guard let last = v.shape.last, last == modelDim else {
            throw TNError.shape("TTFeedForward: \(what) has shape \(v.shape) but the block expects (..., \(modelDim)) (d_model = \(modelDim))")
        }
    }

    /// A (rows, d_ff) buffer.
    func hiddenBuffer(rows n: Int) throws -> (Workspace<T>, StridedView<T>) {
        let w = try Workspace<T>(count: try checkedProduct([n, hiddenDim], what: "the hidden activations"))
        return (w, StridedView(contiguous: w.pointer, shape: [n, hiddenDim]))
    }

    /// y = TT₂(act(TT₁(x))) for every row of x.
    /// - Parameters:
    ///   - x: (..., d_model), any strides (rank ≥ 1).
    ///   - y: receives the output, the shape of x; may not overlap x.
    /// - Throws: `TNError.shape` when x or y does not fit; `TNError.memory` when a buffer
    ///   cannot be allocated.
    /// - Complexity: both maps' plans on rows = Π(leading axes), plus O(rows · d_ff) for the
    ///   activation.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func forward(_ x: StridedView<T>, into y: StridedView<T>) throws {
        try apply(x, into: y)
    }

    /// `forward` for code in this module (see `SVD.factor` on exported specialisations).
    func apply(_ x: StridedView<T>, into y: StridedView<T>) throws {
        try withLock {
            try checkShape(x, what: "the input")
            try checkShape(y, what: "the output", like: x)
            let (xr, xCopy) = try StridedView.readableRows(x)
            let n = xr.shape[0]
            if n == 0 { return }
            let (yr, yStage) = try StridedView.writableRows(y)
            let (h, hv) = try hiddenBuffer(rows: n)
            try first.apply(xr, into: hv)
            activation.forward(h.pointer, into: h.pointer, count: n * hiddenDim)
            try second.apply(hv, into: yr)
            StridedView.storeRows(yStage, into: y)
            withExtendedLifetime((xCopy, h)) {}   // views point into these buffers
        }
    }

    /// The gradients of sum(y ⊙ dy) for the y that `forward(x)` gives: every parameter's (into
    /// `gradient(i)`, replacing what was there) and x's when `dx` is given. TT₁(x) is computed
    /// again (nothing is kept between calls), so any x can be differentiated.
    ///
    /// With a = act(TT₁(x)): dL/da = dy · W₂ᵀ (TT₂'s backward, which also gives W₂'s cores and
    /// b₂), dL/dh = act′(h) ⊙ dL/da, then TT₁'s backward gives W₁'s cores, b₁ and dx.
    /// - Parameters:
    ///   - dy: shaped like x.
    ///   - x: the input the gradients are taken at, (..., d_model).
    ///   - dx: receives dL/dx, shaped like x; nil to skip it.
    /// - Throws: `TNError.shape` when a view does not fit; `TNError.value` when dy has a NaN
    ///   or an infinity; `TNError.memory` when a buffer cannot be allocated.
    /// - Complexity: about three times the forward.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func backward(_ dy: StridedView<T>, input x: StridedView<T>, inputGradient dx: StridedView<T>?) throws {
        try backpropagate(dy, input: x, inputGradient: dx)
    }

    /// `backward` for code in this module (see `SVD.factor` on exported specialisations).
    func backpropagate(_ dy: StridedView<T>, input x: StridedView<T>, inputGradient dx: StridedView<T>?) throws {
        try withLock {
            try checkShape(x, what: "the input")
            try checkShape(dy, what: "dy", like: x)
            if let dx { try checkShape(dx, what: "dx", like: x) }
            guard dy.allFinite() else { throw TNError.value("TTFeedForward: dy has a NaN or an infinity") }
            let (xr, xCopy) = try StridedView.readableRows(x)
            let n = xr.shape[0]
            if n == 0 {
                for i in parameterShapes.indices { gradient(i).update(repeating: 0) }
                return
            }
            let (dyr, dyCopy) = try StridedView.readableRows(dy)
            let dxRows = try dx.map { try StridedView.writableRows($0) }
            let (pre, preView) = try hiddenBuffer(rows: n)
            let (act, actView) = try hiddenBuffer(rows: n)
            let (da, daView) = try hiddenBuffer(rows: n)
            try first.apply(xr, into: preView)
            activation.forward(pre.pointer, into: act.pointer, count: n * hiddenDim)
            try second.backpropagate(dyr, input: actView, inputGradient: daView)
            activation.backward(input: pre.pointer, gradient: da.pointer, into: da.pointer, count: n * hiddenDim)
            try first.backpropagate(daView, input: xr, inputGradient: dxRows?.rows)
            if let dx, let staged = dxRows { StridedView.storeRows(staged.staging, into: dx) }
            withExtendedLifetime((xCopy, dyCopy, pre, act, da)) {}   // views point into these buffers
        }
    }
}
