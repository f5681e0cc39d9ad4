#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Instructions bound to concrete strides, with the scratch memory they need.
final class BoundProgram<T: BLASScalar> {
    let instructions: [PlanInstruction]
    /// Owned memory by slot (scratch and gradient buffers of intermediates).
    let owned: [Int: Workspace<T>]
    let slotCount: Int
    /// Layouts chosen for step results (forward) — backward binds against them.
    let nodeLayouts: [Int: SlotLayout]
    /// The caller strides this program was bound for.
    let key: [[Int]]
    /// Index of the first instruction of the last step (the ones that write the output).
    let lastStepStart: Int
    /// Operand copies this program makes (see `CopyRecord`).
    let copies: [CopyRecord]
    /// Intermediates by slot (kept alive by the program that points at them).
    let nodeBuffers: [Int: Workspace<T>]

    /// Stages of instructions that run at the same time when there are several workers; nil
    /// when no stage has two instructions worth running concurrently.
    let stages: ProgramStages?

    /// The slot table: fixed memory (intermediates, scratch) filled once, caller buffers per call.
    let bases: UnsafeMutablePointer<UnsafeMutablePointer<T>>

    init(instructions: [PlanInstruction], owned: [Int: Workspace<T>], slotCount: Int,
         nodeLayouts: [Int: SlotLayout], key: [[Int]], lastStepStart: Int? = nil,
         nodeBuffers: [Int: Workspace<T>], copies: [CopyRecord] = []) {
        self.lastStepStart = lastStepStart ?? instructions.count
        self.copies = copies
        bases = .allocate(capacity: Swift.max(1, slotCount))
        bases.initialize(repeating: UnsafeMutablePointer<T>(bitPattern: 64)!, count: Swift.max(1, slotCount))
        for (slot, buffer) in nodeBuffers where slot < slotCount { bases[slot] = buffer.pointer }
        for (slot, buffer) in owned { bases[slot] = buffer.pointer }
        self.nodeBuffers = nodeBuffers
        if BoundProgram.trace {
            print("tnswift: bound program (\(instructions.count) instructions)")
            for i in instructions { print("  \(i)") }
        }
        self.instructions = instructions
        // Slots of one buffer are one memory; caller slots (the rest) are each their own.
        var memory: [Int: Int] = [:]
        for (slot, buffer) in nodeBuffers where slot < slotCount { memory[slot] = Int(bitPattern: buffer.pointer) }
        for (slot, buffer) in owned { memory[slot] = Int(bitPattern: buffer.pointer) }
        let stages = ProgramStages(instructions) { memory[$0] ?? -1 - $0 }
        self.stages = stages.concurrent.contains(true) ? stages : nil
        if BoundProgram.trace, let concurrent = self.stages {
            let groups = zip(concurrent.stages, concurrent.concurrent).filter(\.1).map { "\($0.0)" }
            print("  runs at the same time (instruction numbers from 0): \(groups.joined(separator: ", "))")
        }
        self.owned = owned
        self.slotCount = slotCount
        self.nodeLayouts = nodeLayouts
        self.key = key
    }

    deinit { bases.deallocate() }

    /// Nanoseconds spent in each instruction, and runs timed (`TNSWIFT_PROFILE`).
    var profile: [Double] = []
    var profileFastest: [Double] = []
    var profiledRuns = 0

    /// Set TNSWIFT_TRACE=1 to print every program as it is bound (for developers).
    static var trace: Bool { getenv("TNSWIFT_TRACE").map { String(cString: $0) == "1" } ?? false }

    /// Whether this program was bound for these caller strides (no allocation).
    func matches(_ strides: [[Int]], prefix: Int) -> Bool {
        guard key.count >= prefix, strides.count >= prefix else { return false }
        for i in 0..<prefix where key[i] != strides[i] { return false }
        return true
    }

    /// Runs the instructions over the slot table (caller slots already filled). Returns false
    /// when the thread's `InterruptCheck` stopped it part-way.
    func run() -> Bool {
        if BoundProgram.profiling { return runProfiled() }
        let check = InterruptCheck.current
        if let stages, ThreadSettings.workers > 1 {
            for (s, stage) in stages.stages.enumerated() {
                if let check, check.requested { return false }
                if stages.concurrent[s] {
                    TensorKernels.concurrently(stage.count) { perform(instructions[stage[$0]], check: nil) }
                } else {
                    for i in stage where !perform(instructions[i], check: check) { return false }
                }
            }
            return true
        }
        for instruction in instructions {
            if let check, check.requested { return false }
            if !perform(instruction, check: check) { return false }
        }
        return true
    }

    /// Runs one instruction over the slot table. A single GEMM polls `check` between chunks
    /// when it is large (see `LinalgKernels.gemm`); false when the check stopped it part-way.
    @discardableResult
    func perform(_ instruction: PlanInstruction, check: InterruptCheck.Installed?) -> Bool {
        switch instruction {
        case .transfer(let sizes, let src, let ss, let dst, let ds):
            TensorKernels.transfer(sizes: sizes, src: bases[src], srcStrides: ss, dst: bases[dst], dstStrides: ds, accumulate: false)
        case .zero(let dst, let sizes, let strides):
            TensorKernels.fill(sizes: sizes, dst: bases[dst], strides: strides, value: 0)
        case .direct(let outSizes, let sumSizes, let operands, let strides, let out, let outStrides):
            TensorKernels.direct(outSizes: outSizes, sumSizes: sumSizes, operands: operands, bases: bases,
                                 operandStrides: strides, out: bases[out], outStrides: outStrides)
        case .gemm(let g):
            return runGemm(g, check: check)
        }
        return true
    }

    private func runGemm(_ g: GemmCall, check: InterruptCheck.Installed?) -> Bool {
        let a = UnsafePointer(bases[g.a]), b = UnsafePointer(bases[g.b]), c = bases[g.c]
        let count = g.batchSizes.reduce(1, *)
        let workers = ThreadSettings.workers
        let streaming = count &* g.m &* g.n &* MemoryLayout<T>.stride >= LinalgKernels.streamingOutputBytes
        if count == 1 {
            return LinalgKernels.gemm(transA: g.transA, transB: g.transB, m: g.m, n: g.n, k: g.k, a: a, lda: g.lda,
                                      b: b, ldb: g.ldb, c: c, ldc: g.ldc, streaming: streaming, check: check)
        }
        let dims = g.batchSizes.count
        TensorKernels.forEach(count, parallel: workers > 1) { index in
            var rest = index, oa = 0, ob = 0, oc = 0
            var d = dims - 1
            while d >= 0 {
                let size = g.batchSizes[d]
                let i = rest % size
                rest /= size
                oa &+= i &* g.batchStridesA[d]; ob &+= i &* g.batchStridesB[d]; oc &+= i &* g.batchStridesC[d]
                d -= 1
            }
            T.gemmOverwriting(transA: g.transA, transB: g.transB, m: g.m, n: g.n, k: g.k, a: a + oa, lda: g.lda,
                              b: b + ob, ldb: g.ldb, c: c + oc, ldc: g.ldc, streaming: streaming)
        }
        return true
    }
}
