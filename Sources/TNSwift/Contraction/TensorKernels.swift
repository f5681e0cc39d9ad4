import TNKernels

/// The loops that are not GEMMs: strided copy/reduce/broadcast and a direct contraction.
enum TensorKernels {
    /// `dst[idx] = src[idx]` (or `+=`) over the index space `sizes`; a zero stride in `dst`
    /// sums (reduce) and a zero stride in `src` repeats (broadcast).
    /// When `accumulate` is false and `dst` has zero strides, `dst` is zeroed first.
    static func transfer<T: BLASScalar>(sizes: [Int], src: UnsafePointer<T>, srcStrides: [Int],
                                        dst: UnsafeMutablePointer<T>, dstStrides: [Int], accumulate: Bool) {
        if sizes.contains(0) { return }
        var (n, ss, ds) = mergedDimensions(sizes: sizes, srcStrides: srcStrides, dstStrides: dstStrides)
        let reduces = ds.contains(0)
        if reduces && !accumulate {
            let keep = ds.indices.filter { ds[$0] != 0 }
            fill(sizes: keep.map { n[$0] }, dst: dst, strides: keep.map { ds[$0] }, value: 0)
        }
        let add = accumulate || reduces
        // The innermost loop writes with the smallest stride; the one around it reads with the
        // smallest stride of the rest, so that small transposed blocks still stream one side.
        if n.count > 2 {
            let inner = n.count - 1
            let rest = 0..<inner
            if let second = rest.filter({ ss[$0] != 0 }).min(by: { abs(ss[$0]) < abs(ss[$1]) }), second != inner - 1 {
                let (a, b, c) = (n.remove(at: second), ss.remove(at: second), ds.remove(at: second))
                n.insert(a, at: inner - 1); ss.insert(b, at: inner - 1); ds.insert(c, at: inner - 1)
            }
        }
        // Two innermost loops run as plain loops; an odometer walks the rest.
        while n.count < 2 { n.insert(1, at: 0); ss.insert(0, at: 0); ds.insert(0, at: 0) }
        // Large copies (the permutes between contraction steps) are memory-bound: split the
        // outermost dimension over the workers, unless it is a reduction (parts would race).
        let workers = ThreadSettings.workers
        if workers > 1 && n.count > 2 && n[0] > 1 && ds[0] != 0 && n.reduce(1, &*) >= parallelTransfer {
            let parts = Swift.min(n[0], workers)
            let (sizes, sourceStrides, destinationStrides) = (n, ss, ds)
            forEach(parts, parallel: true) { part in
                let lo = sizes[0] * part / parts, hi = sizes[0] * (part + 1) / parts
                var block = sizes
                block[0] = hi - lo
                transferLoops(n: block, ss: sourceStrides, ds: destinationStrides, src: src + lo &* sourceStrides[0],
                              dst: dst + lo &* destinationStrides[0], add: add)
            }
            return
        }
        transferLoops(n: n, ss: ss, ds: ds, src: src, dst: dst, add: add)
    }

    /// A copy's dimensions as `transfer` loops over them: those of size 1 dropped (they do not
    /// move), reductions (destination stride 0) outermost, then by decreasing destination
    /// stride so that writes stream, and neighbours that are one run in both source and
    /// destination merged. The last dimension is the run the copy writes innermost.
    static func mergedDimensions(sizes: [Int], srcStrides: [Int], dstStrides: [Int]) -> (sizes: [Int], src: [Int], dst: [Int]) {
        let dims = sizes.indices.filter { sizes[$0] > 1 }.sorted { a, b in
            let sa = abs(dstStrides[a]), sb = abs(dstStrides[b])
            if (sa == 0) != (sb == 0) { return sa == 0 }
            if sa != sb { return sa > sb }
            return abs(srcStrides[a]) > abs(srcStrides[b])
        }
        var n: [Int] = [], ss: [Int] = [], ds: [Int] = []
        for d in dims {
            if let last = n.indices.last, ds[last] == dstStrides[d] &* sizes[d], ss[last] == srcStrides[d] &* sizes[d] {
                n[last] &*= sizes[d]; ss[last] = srcStrides[d]; ds[last] = dstStrides[d]
            } else {
                n.append(sizes[d]); ss.append(srcStrides[d]); ds.append(dstStrides[d])
            }
        }
        return (n, ss, ds)
    }

    /// Elements from which `transfer` spreads a copy over the workers.
    static let parallelTransfer = 1 << 17

    /// `transfer`'s loops over dimensions already ordered and merged (at least two).
    private static func transferLoops<T: BLASScalar>(n: [Int], ss: [Int], ds: [Int], src: UnsafePointer<T>,
                                                    dst: UnsafeMutablePointer<T>, add: Bool) {
        let d = n.count
        if !add && d >= 3 && n[d - 1] < (ss[d - 1] == 1 && ds[d - 1] == 1 ? shortContiguousRun : shortRun) {
            transferTabulated(n: n, ss: ss, ds: ds, src: src, dst: dst)
            return
        }
        let n1 = n[d - 1], s1 = ss[d - 1], t1 = ds[d - 1]
        let n0 = n[d - 2], s0 = ss[d - 2], t0 = ds[d - 2]
        // Small inner blocks (a 4 x 4 transposed tile) get a third plain loop around them, so
        // that the odometer below, which costs more than such a block, runs less often.
        let third = d > 2 && n0 &* n1 < 256
        let n2 = third ? n[d - 3] : 1, s2 = third ? ss[d - 3] : 0, t2 = third ? ds[d - 3] : 0
        let outer = d - (third ? 3 : 2)
        withUnsafeTemporaryAllocation(of: Int.self, capacity: Swift.max(outer, 1)) { buffer in
            let idx = buffer.baseAddress!
            idx.initialize(repeating: 0, count: outer)
            var so = 0, dof = 0
            repeat {
                for i2 in 0..<n2 {
                    let blockSource = so &+ i2 &* s2, blockDestination = dof &+ i2 &* t2
                    // Copies with a very short innermost run are unrolled: the loop overhead would
                    // otherwise cost more than the data movement (e.g. moving pairs in W4's permute).
                    if !add && n1 <= 4 {
                        var sp = src + blockSource, tp = dst + blockDestination
                        switch n1 {
                        case 1:
                            for _ in 0..<n0 { tp[0] = sp[0]; sp += s0; tp += t0 }
                        case 2:
                            for _ in 0..<n0 { tp[0] = sp[0]; tp[t1] = sp[s1]; sp += s0; tp += t0 }
                        case 3:
                            for _ in 0..<n0 { tp[0] = sp[0]; tp[t1] = sp[s1]; tp[2 &* t1] = sp[2 &* s1]; sp += s0; tp += t0 }
                        default:
                            for _ in 0..<n0 {
                                tp[0] = sp[0]; tp[t1] = sp[s1]; tp[2 &* t1] = sp[2 &* s1]; tp[3 &* t1] = sp[3 &* s1]
                                sp += s0; tp += t0
                            }
                        }
                    } else {
                        transferInner(n0: n0, s0: s0, t0: t0, n1: n1, s1: s1, t1: t1, src: src + blockSource,
                                      dst: dst + blockDestination, add: add)
                    }
                }
            } while advance(idx, sizes: n, ss, &so, ds, &dof, dimensions: 0..<outer)
        }
    }

    /// Innermost runs shorter than this are copied through offset tables.
    static let shortRun = 16
    /// Runs read and written contiguously that are shorter than this also go through the
    /// tables: W5a's weight gradient permuted in runs of 16 took 0.25-0.30 ms so, against
    /// 0.56-0.58 ms in the two-loop path (W4's dy in runs of 32: 40-47 against 50-71 µs).
    /// Transposes with an inner size from 16 up stay in that path, which was faster for them.
    static let shortContiguousRun = 64
    /// Entries of a tabulated block (the two tables, 16 KiB, stay in L1).
    static let tabulatedBlock = 1024

    /// Copies whose innermost runs are short (permutes of many small dimensions, such as a
    /// TT weight's 2×2×… gradient, or a TT chain's intermediates moved in runs of 4), in blocks
    /// of up to `tabulatedBlock` runs. A block is grown from the contiguous run outwards, one
    /// side at a time, source first: each step adds the dimension that continues the contiguous
    /// stretch on that side (split when larger than the square root of the room left, so that
    /// the other side gets some), so that a block reads whole lines of the source and writes
    /// whole lines of the destination. Where each run of a block starts is tabulated once;
    /// each block is then one loop over the tables. The other dimensions loop around the
    /// block: the one with the smallest destination stride as a plain loop, the rest in an
    /// odometer. (Blocks made only of trailing dimensions read W5b's 11 MB intermediates in
    /// 16-byte pieces of lines they came back to later, 3.7-4x slower than a plain copy.)
    private static func transferTabulated<T: BLASScalar>(n: [Int], ss: [Int], ds: [Int], src: UnsafePointer<T>,
                                                        dst: UnsafeMutablePointer<T>) {
        var rest = (0..<n.count).map { (size: n[$0], source: ss[$0], destination: ds[$0]) }
        var run = 1
        if let i = rest.firstIndex(where: { $0.source == 1 && $0.destination == 1 }) {
            run = rest[i].size
            rest.remove(at: i)
        }
        var block: [(size: Int, source: Int, destination: Int)] = []
        var entries = 1, sourceExtent = run, destinationExtent = run
        var readSide = true, failures = 0
        while failures < 2 {
            let room = tabulatedBlock / entries
            let extent = readSide ? sourceExtent : destinationExtent
            if room >= 2, let i = rest.firstIndex(where: { (readSide ? $0.source : $0.destination) == extent }) {
                let d = rest[i]
                let cap = Swift.max(2, Int(Double(room).squareRoot()))
                let part = d.size <= cap ? d.size : largestDivisor(of: d.size, atMost: cap)
                if part >= 2 {
                    block.append((part, d.source, d.destination))
                    entries &*= part
                    if part == d.size {
                        rest.remove(at: i)
                    } else {
                        rest[i] = (d.size / part, d.source &* part, d.destination &* part)
                    }
                    if readSide { sourceExtent &*= part } else { destinationExtent &*= part }
                    failures = 0
                    readSide.toggle()
                    continue
                }
            }
            failures += 1
            readSide.toggle()
        }
        // Runs within a block go in destination order; the loops around it likewise.
        block.sort { abs($0.destination) > abs($1.destination) }
        rest.sort { abs($0.destination) > abs($1.destination) }
        let inner = rest.popLast() ?? (size: 1, source: 0, destination: 0)
        let outerSizes = rest.map(\.size), outerSource = rest.map(\.source), outerDestination = rest.map(\.destination)
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 &* entries &+ Swift.max(rest.count, block.count)) { buffer in
            let sourceOffsets = buffer.baseAddress!, destinationOffsets = sourceOffsets + entries
            let idx = destinationOffsets + entries
            var so = 0, dof = 0
            idx.initialize(repeating: 0, count: block.count)
            let blockSizes = block.map(\.size), blockSource = block.map(\.source)
            let blockDestination = block.map(\.destination)
            for e in 0..<entries {
                sourceOffsets[e] = so; destinationOffsets[e] = dof
                _ = advance(idx, sizes: blockSizes, blockSource, &so, blockDestination, &dof,
                            dimensions: 0..<block.count)
            }
            // The table's odometer wrapped around: so and dof are back at 0.
            idx.initialize(repeating: 0, count: rest.count)
            repeat {
                var sp = src + so, tp = dst + dof
                for _ in 0..<inner.size {
                    switch run {
                    case 1: for e in 0..<entries { tp[destinationOffsets[e]] = sp[sourceOffsets[e]] }
                    case 2: copyRuns(of: 2, entries, sourceOffsets, destinationOffsets, sp, tp)
                    case 4: copyRuns(of: 4, entries, sourceOffsets, destinationOffsets, sp, tp)
                    case 8: copyRuns(of: 8, entries, sourceOffsets, destinationOffsets, sp, tp)
                    case 16: copyRuns(of: 16, entries, sourceOffsets, destinationOffsets, sp, tp)
                    default: copyRuns(of: run, entries, sourceOffsets, destinationOffsets, sp, tp)
                    }
                    sp += inner.source; tp += inner.destination
                }
            } while advance(idx, sizes: outerSizes, outerSource, &so, outerDestination, &dof, dimensions: 0..<rest.count)
        }
    }

    /// The largest divisor of `n` that is at most `cap` (1 when there is none above 1).
    static func largestDivisor(of n: Int, atMost cap: Int) -> Int {
        var f = Swift.min(cap, n)
        while f > 1 && n % f != 0 { f -= 1 }
        return Swift.max(f, 1)
    }

    /// Moves `entries` runs of `length` elements; inlined with a constant length, each run is
    /// a few vector moves.
    @inline(__always)
    private static func copyRuns<T>(of length: Int, _ entries: Int, _ sourceOffsets: UnsafePointer<Int>,
                                    _ destinationOffsets: UnsafePointer<Int>, _ src: UnsafePointer<T>,
                                    _ dst: UnsafeMutablePointer<T>) {
        for e in 0..<entries {
            let sp = src + sourceOffsets[e], tp = dst + destinationOffsets[e]
            for j in 0..<length { tp[j] = sp[j] }
        }
    }

    /// One step of an odometer over `dimensions` of `sizes` (the last fastest), moving the
    /// offsets `a` and `b` by their strides. False when every index wrapped back to 0 (the
    /// offsets are then back where they started).
    @inline(__always)
    static func advance(_ idx: UnsafeMutablePointer<Int>, sizes: [Int], _ sa: [Int], _ a: inout Int, _ sb: [Int],
                        _ b: inout Int, dimensions: Range<Int>) -> Bool {
        var k = dimensions.upperBound - 1
        while k >= dimensions.lowerBound {
            idx[k] &+= 1; a &+= sa[k]; b &+= sb[k]
            if idx[k] < sizes[k] { return true }
            a &-= sa[k] &* sizes[k]; b &-= sb[k] &* sizes[k]; idx[k] = 0
            k -= 1
        }
        return false
    }

    /// The two innermost loops of `transfer`.
    @inline(__always)
    private static func transferInner<T: BLASScalar>(n0: Int, s0: Int, t0: Int, n1: Int, s1: Int, t1: Int,
                                                     src: UnsafePointer<T>, dst: UnsafeMutablePointer<T>, add: Bool) {
        if !add && t1 == 1 && s1 != 1 && n1 > transposeStrip && n0 > 1 && abs(s0) < abs(s1) {
            // A transpose (writes run along n1, reads along n0): strips of `transposeStrip`
            // columns, so each source cache line is read once for consecutive i0 instead of
            // once per element (7 ns an element at a 4 KiB read stride before).
            var j = 0
            while j < n1 {
                let w = Swift.min(transposeStrip, n1 - j)
                for i0 in 0..<n0 {
                    var sp = src + (i0 &* s0 &+ j &* s1), tp = dst + (i0 &* t0 &+ j)
                    for _ in 0..<w { tp.pointee = sp.pointee; sp += s1; tp += 1 }
                }
                j &+= w
            }
            return
        }
        for i0 in 0..<n0 {
            var sp = src + i0 &* s0, tp = dst + i0 &* t0
            if add {
                for _ in 0..<n1 { tp.pointee += sp.pointee; sp += s1; tp += t1 }
            } else if s1 == 1 && t1 == 1 {
                // Contiguous runs are moved by memmove, vectorised (a strided loop is not).
                tp.update(from: sp, count: n1)
            } else {
                for _ in 0..<n1 { tp.pointee = sp.pointee; sp += s1; tp += t1 }
            }
        }
    }

    /// Columns per strip of a transposing copy: eight source lines in flight, within L1's
    /// associativity even at power-of-two strides (16 ran 2x slower on W4's permutes).
    static let transposeStrip = 8

    /// Writes `value` to every element of a strided view.
    static func fill<T: BLASScalar>(sizes: [Int], dst: UnsafeMutablePointer<T>, strides: [Int], value: T) {
        if sizes.contains(0) { return }
        // The innermost dimension runs as a plain loop (a contiguous view is one run); an
        // odometer walks the rest.
        let dims = sizes.indices.filter { sizes[$0] > 1 }
        guard let last = dims.last else { dst.pointee = value; return }
        let step = strides[last]
        var run = sizes[last], outer = Array(dims.dropLast())
        while step == 1, let d = outer.last, strides[d] == run {
            run &*= sizes[d]
            outer.removeLast()
        }
        let outerSizes = outer.map { sizes[$0] }, outerStrides = outer.map { strides[$0] }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: Swift.max(outer.count, 1)) { buffer in
            let idx = buffer.baseAddress!
            idx.initialize(repeating: 0, count: outer.count)
            var off = 0, unused = 0
            repeat {
                if step == 1 {
                    (dst + off).update(repeating: value, count: run)
                } else {
                    var p = dst + off
                    for _ in 0..<run { p.pointee = value; p += step }
                }
            } while advance(idx, sizes: outerSizes, outerStrides, &off, outerStrides, &unused, dimensions: 0..<outer.count)
        }
    }

    /// `out[o] = Σ_s Π_i operand_i[o, s]` over `outSizes` (dimensions of the output) and
    /// `sumSizes` (summed dimensions). Operand i lives at `bases[operands[i]]`; its strides run
    /// over outer then summed dims, zero where it lacks the label. Used for tiny steps and the
    /// memory-free fallback.
    static func direct<T: BLASScalar>(outSizes: [Int], sumSizes: [Int], operands: [Int],
                                      bases: UnsafeMutablePointer<UnsafeMutablePointer<T>>,
                                      operandStrides: [[Int]], out: UnsafeMutablePointer<T>, outStrides: [Int]) {
        if outSizes.contains(0) { return }
        let no = outSizes.count, ns = sumSizes.count
        let nops = operands.count
        let emptySum = sumSizes.contains(0)
        if nops == 2 && no >= 1 && !emptySum {
            directPair(outSizes: outSizes, sumSizes: sumSizes, a: bases[operands[0]], b: bases[operands[1]],
                       aStrides: operandStrides[0], bStrides: operandStrides[1], out: out, outStrides: outStrides)
            return
        }
        // Index state on the stack: output index, summed index, and per-operand offsets.
        withUnsafeTemporaryAllocation(of: Int.self, capacity: no + ns + 2 * nops + 1) { state in
            let oidx = state.baseAddress!, sidx = oidx + no, offs = sidx + ns, soffs = offs + nops
            for k in 0..<(no + ns + 2 * nops) { oidx[k] = 0 }
            var outOff = 0
            while true {
                var acc: T = 0
                if !emptySum {
                    for i in 0..<nops { soffs[i] = offs[i] }
                    for k in 0..<ns { sidx[k] = 0 }
                    while true {
                        var p: T = 1
                        for i in 0..<nops { p *= bases[operands[i]][soffs[i]] }
                        acc += p
                        var k = ns - 1
                        while k >= 0 {
                            sidx[k] &+= 1
                            for i in 0..<nops { soffs[i] &+= operandStrides[i][no &+ k] }
                            if sidx[k] < sumSizes[k] { break }
                            for i in 0..<nops { soffs[i] &-= operandStrides[i][no &+ k] &* sumSizes[k] }
                            sidx[k] = 0
                            k -= 1
                        }
                        if k < 0 { break }
                    }
                }
                out[outOff] = acc
                var k = no - 1
                while k >= 0 {
                    oidx[k] &+= 1
                    outOff &+= outStrides[k]
                    for i in 0..<nops { offs[i] &+= operandStrides[i][k] }
                    if oidx[k] < outSizes[k] { break }
                    outOff &-= outStrides[k] &* outSizes[k]
                    for i in 0..<nops { offs[i] &-= operandStrides[i][k] &* outSizes[k] }
                    oidx[k] = 0
                    k -= 1
                }
                if k < 0 { return }
            }
        }
    }

    /// `direct` for two operands: out[o] = Σ_s a[o, s] · b[o, s] — the shape of Khatri–Rao
    /// products and small batched contractions, where a generic loop's per-element bookkeeping
    /// dominates. One dimension runs as a raw-pointer inner loop and an odometer walks the
    /// rest. The inner dimension is chosen to vectorise: an output dimension along which out
    /// is contiguous and a and b are contiguous or constant (summed dimensions then loop
    /// around it and accumulate into out), else a summed dimension both operands read
    /// contiguously (a dot product in four partial sums), else the innermost output (no sums)
    /// or summed dimension as given.
    private static func directPair<T: BLASScalar>(outSizes: [Int], sumSizes: [Int], a: UnsafePointer<T>, b: UnsafePointer<T>,
                                                  aStrides: [Int], bStrides: [Int],
                                                  out: UnsafeMutablePointer<T>, outStrides: [Int]) {
        let no = outSizes.count, ns = sumSizes.count, dims = no + ns
        let size = { (d: Int) in d < no ? outSizes[d] : sumSizes[d - no] }
        let inner = directInnerLoop(outSizes: outSizes, sumSizes: sumSizes, aStrides: aStrides, bStrides: bStrides,
                                    outStrides: outStrides).dimension
        let summing = inner >= no   // the inner loop sums (one output element per pass)
        let accumulates = !summing && ns > 0   // summed dimensions loop around an output row
        if accumulates {
            fill(sizes: outSizes, dst: out, strides: outStrides, value: 0)
        }
        let length = size(inner), ia = aStrides[inner], ib = bStrides[inner], ic = summing ? 0 : outStrides[inner]
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 5 &* Swift.max(dims, 1)) { state in
            // The outer dimensions: output dimensions first, summed ones inside them.
            let idx = state.baseAddress!, n = idx + dims, sa = n + dims, sb = sa + dims, sc = sb + dims
            var outer = 0
            for d in 0..<dims where d != inner {
                idx[outer] = 0; n[outer] = size(d); sa[outer] = aStrides[d]; sb[outer] = bStrides[d]
                sc[outer] = d < no ? outStrides[d] : 0
                outer += 1
            }
            let outerOutputs = no - (summing ? 0 : 1)
            var offA = 0, offB = 0, offC = 0
            var acc: T = 0
            while true {
                let pa = a + offA, pb = b + offB, pc = out + offC
                if summing {
                    acc += dotProduct(length, pa, ia, pb, ib)
                } else {
                    productRow(length, pa, ia, pb, ib, pc, ic, accumulate: accumulates)
                }
                // Advance the summed dimensions; when they all wrap, an output element is
                // complete (when the inner loop sums), then advance the output dimensions.
                var k = outer - 1
                var carried = true
                while k >= outerOutputs {
                    idx[k] &+= 1; offA &+= sa[k]; offB &+= sb[k]
                    if idx[k] < n[k] { carried = false; break }
                    offA &-= sa[k] &* n[k]; offB &-= sb[k] &* n[k]; idx[k] = 0
                    k -= 1
                }
                if !carried { continue }
                if summing { out[offC] = acc; acc = 0 }
                while k >= 0 {
                    idx[k] &+= 1; offA &+= sa[k]; offB &+= sb[k]; offC &+= sc[k]
                    if idx[k] < n[k] { break }
                    offA &-= sa[k] &* n[k]; offB &-= sb[k] &* n[k]; offC &-= sc[k] &* n[k]; idx[k] = 0
                    k -= 1
                }
                if k < 0 { return }
            }
        }
    }

    /// The dimension (output dimensions, then summed ones) `directPair` runs as its inner
    /// loop, and whether that loop vectorises (contiguous or constant operands).
    static func directInnerLoop(outSizes: [Int], sumSizes: [Int], aStrides: [Int], bStrides: [Int],
                                outStrides: [Int]) -> (dimension: Int, vectorised: Bool) {
        let no = outSizes.count, ns = sumSizes.count
        let size = { (d: Int) in d < no ? outSizes[d] : sumSizes[d - no] }
        let unitOrZero = { (s: Int) in s == 0 || s == 1 }
        var rowDim = -1, dotDim = -1
        for d in 0..<(no + ns) where size(d) > 1 {
            if d < no {
                if outStrides[d] == 1 && unitOrZero(aStrides[d]) && unitOrZero(bStrides[d])
                    && (rowDim < 0 || size(d) > size(rowDim)) { rowDim = d }
            } else if aStrides[d] == 1 && bStrides[d] == 1 && (dotDim < 0 || size(d) > size(dotDim)) {
                dotDim = d
            }
        }
        if rowDim >= 0 && (dotDim < 0 || size(rowDim) >= Swift.min(size(dotDim), 8)) { return (rowDim, true) }
        if dotDim >= 0 { return (dotDim, true) }
        return (ns == 0 ? no - 1 : no + ns - 1, false)
    }

    /// Σ_j a[j·ia] · b[j·ib]; contiguous operands in four partial sums (so that the adds do
    /// not wait on each other).
    @inline(__always)
    private static func dotProduct<T: BLASScalar>(_ length: Int, _ a: UnsafePointer<T>, _ ia: Int,
                                                  _ b: UnsafePointer<T>, _ ib: Int) -> T {
        if ia == 1 && ib == 1 {
            var s0: T = 0, s1: T = 0, s2: T = 0, s3: T = 0
            var j = 0
            while j &+ 4 <= length {
                s0 += a[j] * b[j]; s1 += a[j &+ 1] * b[j &+ 1]; s2 += a[j &+ 2] * b[j &+ 2]; s3 += a[j &+ 3] * b[j &+ 3]
                j &+= 4
            }
            while j < length { s0 += a[j] * b[j]; j &+= 1 }
            return (s0 + s1) + (s2 + s3)
        }
        var s: T = 0
        var pa = a, pb = b
        for _ in 0..<length { s += pa.pointee * pb.pointee; pa += ia; pb += ib }
        return s
    }

    /// c[j·ic] = (or +=) a[j·ia] · b[j·ib], with the contiguous and broadcast cases written
    /// out so that they vectorise.
    @inline(__always)
    private static func productRow<T: BLASScalar>(_ length: Int, _ a: UnsafePointer<T>, _ ia: Int, _ b: UnsafePointer<T>,
                                                  _ ib: Int, _ c: UnsafeMutablePointer<T>, _ ic: Int, accumulate: Bool) {
        if ic == 1 && ia == 1 && ib == 1 {
            if accumulate {
                for j in 0..<length { c[j] += a[j] * b[j] }
            } else {
                for j in 0..<length { c[j] = a[j] * b[j] }
            }
        } else if ic == 1 && (ia == 0 || ib == 0) && (ia == 1 || ib == 1) {
            let (scalar, row) = ia == 0 ? (a.pointee, b) : (b.pointee, a)
            if accumulate {
                for j in 0..<length { c[j] += scalar * row[j] }
            } else {
                for j in 0..<length { c[j] = scalar * row[j] }
            }
        } else {
            var pa = a, pb = b, pc = c
            if accumulate {
                for _ in 0..<length { pc.pointee += pa.pointee * pb.pointee; pa += ia; pb += ib; pc += ic }
            } else {
                for _ in 0..<length { pc.pointee = pa.pointee * pb.pointee; pa += ia; pb += ib; pc += ic }
            }
        }
    }

    /// Runs `body(i)` for i in 0..<count, split over the cores when `parallel`: the indices go
    /// in `ThreadSettings.workers` contiguous chunks (see `concurrently`).
    static func forEach(_ count: Int, parallel: Bool, _ body: (Int) -> Void) {
        let chunks = parallel ? Swift.min(count, ThreadSettings.workers) : 1
        if chunks < 2 {
            for i in 0..<count { body(i) }
            return
        }
        concurrently(chunks) { c in
            for i in (count &* c / chunks)..<(count &* (c &+ 1) / chunks) { body(i) }
        }
    }

    /// Runs `body(i)` once for every i in 0..<count on the caller and the worker pool
    /// (`tnk_parallel_for`, up to `ThreadSettings.workers` threads): each index goes to the
    /// next thread that is free, so list the long ones first. A loop started inside another,
    /// or on another thread while one runs, runs on its caller alone.
    static func concurrently(_ count: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var task = body
            withUnsafeMutablePointer(to: &task) { pointer in
                tnk_parallel_for(count, Int32(clamping: ThreadSettings.workers), { context, index in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(index)
                }, pointer)
            }
        }
    }
}
