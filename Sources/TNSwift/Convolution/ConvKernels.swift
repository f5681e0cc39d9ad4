/// The loops of the convolution layers that are not GEMMs: im2col / col2im, depthwise
/// (per-channel) convolution and its two gradients, bias broadcasts, and a GEMM that may
/// accumulate and split over the workers.
///
/// Planes are C-contiguous (height × width); windows come from `ConvWindow` and sizes were
/// checked by the caller, so the index arithmetic here cannot overflow (wrapping operators).
enum ConvKernels {
    /// The output columns ow whose input column ow · stride + offset lies in 0..<width.
    @inline(__always)
    static func validColumns(offset: Int, stride: Int, width: Int, outWidth: Int) -> (Int, Int) {
        let lo = offset >= 0 ? 0 : (-offset &+ stride &- 1) / stride
        let last = width &- 1 &- offset
        let hi = last < 0 ? 0 : Swift.min(outWidth, last / stride &+ 1)
        return (Swift.min(lo, outWidth), Swift.max(hi, Swift.min(lo, outWidth)))
    }

    /// The valid column range of every kernel column j (offset j · dilation − padLeft).
    static func columnRanges(_ w: ConvWindow, width: Int, outWidth: Int) -> [(Int, Int)] {
        (0..<w.kernelWidth).map {
            validColumns(offset: $0 &* w.dilationWidth &- w.padLeft, stride: w.strideWidth, width: width, outWidth: outWidth)
        }
    }

    /// Runs `body(chunk, range)` over `count` items split into at most `ThreadSettings.workers`
    /// contiguous chunks (one chunk when not `parallel`, at most `capacity`); chunk indices are
    /// 0..<chunkCount.
    static func chunked(_ count: Int, parallel: Bool, capacity: Int = Int.max, _ body: (Int, Range<Int>) -> Void) {
        let chunks = chunkCount(count, parallel: parallel, capacity: capacity)
        if chunks <= 1 {
            if count > 0 { body(0, 0..<count) }
            return
        }
        TensorKernels.forEach(chunks, parallel: true) { c in
            body(c, (count * c / chunks)..<(count * (c + 1) / chunks))
        }
    }

    /// Chunks `chunked` uses for `count` items (at most `capacity`, the scratch a caller has).
    static func chunkCount(_ count: Int, parallel: Bool, capacity: Int = Int.max) -> Int {
        parallel ? Swift.max(1, Swift.min(count, ThreadSettings.workers, capacity)) : 1
    }

    /// col[(c, i, j), oh, ow] = x[c, oh·sh − pt + i·dh, ow·sw − pl + j·dw] (zero outside),
    /// for `channels` planes of height × width; col has channels·kh·kw rows of oh·ow.
    static func im2col<T: BLASScalar>(_ x: UnsafePointer<T>, channels: Int, height: Int, width: Int, window w: ConvWindow,
                                      outHeight: Int, outWidth: Int, into col: UnsafeMutablePointer<T>, parallel: Bool) {
        let ranges = columnRanges(w, width: width, outWidth: outWidth)
        let plane = height &* width, l = outHeight &* outWidth
        let kh = w.kernelHeight, kw = w.kernelWidth, sh = w.strideHeight, sw = w.strideWidth
        chunked(channels, parallel: parallel) { _, cs in
            for c in cs {
                let xc = x + c &* plane
                for i in 0..<kh {
                    for j in 0..<kw {
                        let row = col + ((c &* kh &+ i) &* kw &+ j) &* l
                        let (lo, hi) = ranges[j]
                        let off = j &* w.dilationWidth &- w.padLeft
                        for oh in 0..<outHeight {
                            let dst = row + oh &* outWidth
                            let h = oh &* sh &- w.padTop &+ i &* w.dilationHeight
                            if h < 0 || h >= height {
                                dst.update(repeating: 0, count: outWidth)
                                continue
                            }
                            if lo > 0 { dst.update(repeating: 0, count: lo) }
                            if hi < outWidth { (dst + hi).update(repeating: 0, count: outWidth &- hi) }
                            if hi > lo {
                                let src = xc + (h &* width &+ off)
                                if sw == 1 {
                                    (dst + lo).update(from: src + lo, count: hi &- lo)
                                } else {
                                    var ow = lo
                                    while ow < hi { dst[ow] = src[ow &* sw]; ow &+= 1 }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// dx = col2im(dcol): the adjoint of `im2col` (dx is overwritten).
    static func col2im<T: BLASScalar>(_ col: UnsafePointer<T>, channels: Int, height: Int, width: Int, window w: ConvWindow,
                                      outHeight: Int, outWidth: Int, into x: UnsafeMutablePointer<T>, parallel: Bool) {
        let ranges = columnRanges(w, width: width, outWidth: outWidth)
        let plane = height &* width, l = outHeight &* outWidth
        let kh = w.kernelHeight, kw = w.kernelWidth, sh = w.strideHeight, sw = w.strideWidth
        chunked(channels, parallel: parallel) { _, cs in
            for c in cs {
                let xc = x + c &* plane
                xc.update(repeating: 0, count: plane)
                for i in 0..<kh {
                    for j in 0..<kw {
                        let row = col + ((c &* kh &+ i) &* kw &+ j) &* l
                        let (lo, hi) = ranges[j]
                        if hi <= lo { continue }
                        let off = j &* w.dilationWidth &- w.padLeft
                        for oh in 0..<outHeight {
                            let h = oh &* sh &- w.padTop &+ i &* w.dilationHeight
                            if h < 0 || h >= height { continue }
                            let src = row + oh &* outWidth
                            let dst = xc + (h &* width &+ off)
                            var ow = lo
                            while ow < hi { dst[ow &* sw] += src[ow]; ow &+= 1 }
                        }
                    }
                }
            }
        }
    }

    /// One plane of a depthwise convolution: y = Σ_ij f[i, j] · x[window] (y overwritten).
    static func depthwisePlane<T: BLASScalar>(_ x: UnsafePointer<T>, height: Int, width: Int, filter f: UnsafePointer<T>,
                                              window w: ConvWindow, ranges: [(Int, Int)], outHeight: Int, outWidth: Int,
                                              into y: UnsafeMutablePointer<T>) {
        y.update(repeating: 0, count: outHeight &* outWidth)
        let sw = w.strideWidth
        for i in 0..<w.kernelHeight {
            for j in 0..<w.kernelWidth {
                let fv = f[i &* w.kernelWidth &+ j]
                let (lo, hi) = ranges[j]
                if hi <= lo { continue }
                let off = j &* w.dilationWidth &- w.padLeft
                for oh in 0..<outHeight {
                    let h = oh &* w.strideHeight &- w.padTop &+ i &* w.dilationHeight
                    if h < 0 || h >= height { continue }
                    let src = x + (h &* width &+ off), dst = y + oh &* outWidth
                    var ow = lo
                    if sw == 1 {
                        while ow < hi { dst[ow] += fv * src[ow]; ow &+= 1 }
                    } else {
                        while ow < hi { dst[ow] += fv * src[ow &* sw]; ow &+= 1 }
                    }
                }
            }
        }
    }

    /// The input gradient of `depthwisePlane` (dx overwritten).
    static func depthwisePlaneInputGradient<T: BLASScalar>(_ dy: UnsafePointer<T>, height: Int, width: Int, filter f: UnsafePointer<T>,
                                                           window w: ConvWindow, ranges: [(Int, Int)], outHeight: Int,
                                                           outWidth: Int, into dx: UnsafeMutablePointer<T>) {
        dx.update(repeating: 0, count: height &* width)
        let sw = w.strideWidth
        for i in 0..<w.kernelHeight {
            for j in 0..<w.kernelWidth {
                let fv = f[i &* w.kernelWidth &+ j]
                let (lo, hi) = ranges[j]
                if hi <= lo { continue }
                let off = j &* w.dilationWidth &- w.padLeft
                for oh in 0..<outHeight {
                    let h = oh &* w.strideHeight &- w.padTop &+ i &* w.dilationHeight
                    if h < 0 || h >= height { continue }
                    let src = dy + oh &* outWidth, dst = dx + (h &* width &+ off)
                    var ow = lo
                    while ow < hi { dst[ow &* sw] += fv * src[ow]; ow &+= 1 }
                }
            }
        }
    }

    /// Adds the filter gradient of `depthwisePlane` for one plane to df.
    static func depthwisePlaneFilterGradient<T: BLASScalar>(_ x: UnsafePointer<T>, height: Int, width: Int, dy: UnsafePointer<T>,
                                                            window w: ConvWindow, ranges: [(Int, Int)], outHeight: Int,
                                                            outWidth: Int, into df: UnsafeMutablePointer<T>) {
        let sw = w.strideWidth
        for i in 0..<w.kernelHeight {
            for j in 0..<w.kernelWidth {
                let (lo, hi) = ranges[j]
                if hi <= lo { continue }
                let off = j &* w.dilationWidth &- w.padLeft
                var acc: T = 0
                for oh in 0..<outHeight {
                    let h = oh &* w.strideHeight &- w.padTop &+ i &* w.dilationHeight
                    if h < 0 || h >= height { continue }
                    let src = x + (h &* width &+ off), g = dy + oh &* outWidth
                    var ow = lo
                    while ow < hi { acc += g[ow] * src[ow &* sw]; ow &+= 1 }
                }
                df[i &* w.kernelWidth &+ j] += acc
            }
        }
    }

    /// y[n, o, ·] += bias[o] for `images` blocks of `channels` planes of `plane` values.
    static func addBias<T: BLASScalar>(_ bias: UnsafePointer<T>, to y: UnsafeMutablePointer<T>, images: Int, channels: Int, plane: Int) {
        for n in 0..<images {
            for o in 0..<channels {
                let p = y + (n &* channels &+ o) &* plane, b = bias[o]
                for s in 0..<plane { p[s] += b }
            }
        }
    }

    /// db[o] = Σ_{n, s} dy[n, o, s] (overwritten).
    static func biasGradient<T: BLASScalar>(_ dy: UnsafePointer<T>, into db: UnsafeMutablePointer<T>, images: Int, channels: Int, plane: Int) {
        db.update(repeating: 0, count: channels)
        for n in 0..<images {
            for o in 0..<channels {
                let p = dy + (n &* channels &+ o) &* plane
                var acc: T = 0
                for s in 0..<plane { acc += p[s] }
                db[o] += acc
            }
        }
    }
}
