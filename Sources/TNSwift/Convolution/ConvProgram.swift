/// What a convolution layer runs for one input shape (N, H, W): the path, each stage's
/// spatial sizes, and every scratch buffer, allocated once and reused by later calls.
final class ConvProgram<T: BLASScalar> {
    /// Per stage: input height, width; output height, width.
    struct Sizes {
        var inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int
    }

    let images: Int
    let choice: ConvPathChoice
    let stages: [ConvStage]
    let sizes: [Sizes]
    /// Outputs of stages 0..<last (the last writes y) and their gradients.
    let intermediates: [Workspace<T>]
    let intermediateGradients: [Workspace<T>]
    /// im2col scratch, `colCount` values per chunk.
    let columns: Workspace<T>?
    let colCount: Int
    /// Per-chunk partial kernel gradients (chunks 1…), `partialCount` values each.
    let partials: Workspace<T>?
    let partialCount: Int
    /// Chunks the scratch was sized for (the worker count when the program was made).
    let chunkCapacity: Int
    /// Staging for callers' non-contiguous arrays, made on first need: x, y, dy, dx.
    var staging: [Workspace<T>?] = [nil, nil, nil, nil]
    /// The forward cost estimate that chose the path.
    let cost: Double

    init(images n: Int, height: Int, width: Int, choice: ConvPathChoice, stages: [ConvStage], operandCounts: [Int],
         layer: String, cost: Double) throws {
        images = n
        self.choice = choice
        self.stages = stages
        self.cost = cost
        var sizes: [Sizes] = []
        var (h, w) = (height, width)
        var inter: [Workspace<T>] = [], grads: [Workspace<T>] = []
        var col = 0, partial = 0
        for (k, s) in stages.enumerated() {
            let (oh, ow) = try s.window.outputSize(height: h, width: w, layer: layer)
            sizes.append(Sizes(inHeight: h, inWidth: w, outHeight: oh, outWidth: ow))
            let out = try checkedProduct([n, s.channels.output, oh, ow], what: "a stage output")
            if k < stages.count - 1 {
                inter.append(try Workspace<T>(count: out))
                grads.append(try Workspace<T>(count: out))
            }
            if case .dense(let o, let cin, _, _, let win) = s {
                partial = Swift.max(partial, operandCounts[o])
                if !win.isPointwise { col = Swift.max(col, try checkedProduct([cin, win.kernelArea, oh, ow], what: "the im2col matrix")) }
            }
            (h, w) = (oh, ow)
        }
        self.sizes = sizes
        intermediates = inter
        intermediateGradients = grads
        chunkCapacity = Swift.max(1, ThreadSettings.workers)
        colCount = col
        partialCount = partial
        columns = col > 0 ? try Workspace<T>(count: try checkedProduct([col, chunkCapacity], what: "the im2col scratch")) : nil
        partials = partial > 0 && chunkCapacity > 1
            ? try Workspace<T>(count: try checkedProduct([partial, chunkCapacity - 1], what: "the gradient scratch")) : nil
    }

    /// The output shape (N, channels, H', W').
    var outputShape: [Int] {
        [images, stages.last!.channels.output, sizes.last!.outHeight, sizes.last!.outWidth]
    }

    /// Staging buffer `slot` (0 x, 1 y, 2 dy, 3 dx) of `count` values, made on first use.
    func stagingBuffer(_ slot: Int, count: Int) throws -> UnsafeMutablePointer<T> {
        if let b = staging[slot], b.count >= count { return b.pointer }
        let b = try Workspace<T>(count: count)
        staging[slot] = b
        return b.pointer
    }
}
