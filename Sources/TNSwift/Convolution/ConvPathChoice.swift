/// Which evaluation a convolution layer runs for an input shape.
enum ConvPathChoice: Equatable {
    /// The layer's own structure, stage by stage (e.g. 1×1 → depthwise → depthwise → 1×1 for CP).
    case factorized
    /// Contract the parameters into the dense kernel, then one dense convolution.
    case rebuilt
}
