extension ConvLayer {
    /// Checks a dense kernel (O, C, kh, kw) and bias; returns the kernel's shape.
    /// - Throws: `TNError.shape` for a shape that is not 4-D with sizes ≥ 1, a value count
    ///   that differs from it, or a bias whose length is not O; `TNError.value` for a NaN or
    ///   an infinity.
    static func checkDense(_ layer: String, kernel: [T], shape: [Int], bias: [T]?) throws -> [Int] {
        guard shape.count == 4, shape.allSatisfy({ $0 >= 1 }) else {
            throw TNError.shape("\(layer): the kernel must have shape (out_channels, in_channels, kh, kw) with sizes ≥ 1 (got \(shape))")
        }
        let count = try checkedProduct(shape, what: "a kernel of shape \(shape)")
        guard kernel.count == count else {
            throw TNError.shape("\(layer): a kernel of shape \(shape) has \(count) values but \(kernel.count) were given")
        }
        if let b = bias, b.count != shape[0] {
            throw TNError.shape("\(layer): the bias has \(b.count) values but the kernel has \(shape[0]) output channels")
        }
        if kernel.contains(where: { !$0.isFinite }) { throw TNError.value("\(layer): the kernel has a NaN or an infinity") }
        if let b = bias, b.contains(where: { !$0.isFinite }) { throw TNError.value("\(layer): the bias has a NaN or an infinity") }
        return shape
    }

    /// Checks channel modes against a channel count (nil: one mode, the count itself).
    static func channelModes(_ layer: String, _ modes: [Int]?, channels: Int, what: String) throws -> [Int] {
        let m = modes ?? [channels]
        guard !m.isEmpty, m.count <= LayerLabels.maxModes, m.allSatisfy({ $0 >= 1 }) else {
            throw TNError.shape("\(layer): \(what) modes \(m) must be 1 to \(LayerLabels.maxModes) sizes, each at least 1")
        }
        guard m.reduce(1, { $0.multipliedReportingOverflow(by: $1).overflow ? -1 : $0 * $1 }) == channels else {
            throw TNError.shape("\(layer): the \(what) modes \(m) do not multiply to the \(channels) \(what) channels")
        }
        return m
    }

    /// Letters for equations: output-channel modes, input-channel modes, kernel height and
    /// width, bonds.
    static func outLabel(_ k: Int) -> Character { LayerLabels.output(k) }
    static func inLabel(_ k: Int) -> Character { LayerLabels.input(k) }
    static var heightLabel: Character { "y" }
    static var widthLabel: Character { "z" }
}
