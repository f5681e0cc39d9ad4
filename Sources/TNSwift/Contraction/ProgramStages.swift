/// A bound program's instructions grouped into stages whose instructions touch no common
/// written memory, so that the instructions of a stage may run at the same time.
///
/// A backward program is mostly independent chains (dx, and each factor's gradient) of GEMMs
/// too small to split well: W2's backward is four float64 GEMMs of 0.8–1.6 MFLOP that OpenBLAS
/// runs at ~34 GFLOP/s on one core. Two different GEMMs on two cores run 1.8× faster than in
/// turn, where splitting one of them gains little.
struct ProgramStages {
    /// Instruction indices by stage, in stage order; within a stage in program order, or the
    /// costliest first in a concurrent stage.
    let stages: [[Int]]
    /// Whether a stage's instructions run concurrently (else in program order on the caller).
    let concurrent: [Bool]

    /// The least cost (in multiply-adds) of the second-largest instruction of a stage that
    /// runs concurrently: below it the hand-off to a worker costs more than it saves.
    static let minimumConcurrentCost = 1 << 15

    /// Stages for `instructions`: an instruction goes one stage after the last earlier one it
    /// conflicts with (one writes memory the other reads or writes). `memory(slot)` names a
    /// slot's memory: equal for slots that share a buffer. Caller slots may name distinct
    /// memory because plans keep written caller buffers apart from every other caller buffer
    /// (outputs and gradients that overlap inputs go through temporaries).
    init(_ instructions: [PlanInstruction], memory: (Int) -> Int) {
        let access = instructions.map { ProgramStages.access($0) }
        let reads = access.map { $0.reads.map(memory) }, writes = access.map { $0.writes.map(memory) }
        var level = [Int](repeating: 0, count: instructions.count)
        var stages: [[Int]] = []
        for j in instructions.indices {
            var stage = 0
            for i in 0..<j where level[i] >= stage {
                let conflict = writes[i].contains { reads[j].contains($0) || writes[j].contains($0) }
                    || writes[j].contains { reads[i].contains($0) }
                if conflict { stage = level[i] + 1 }
            }
            level[j] = stage
            if stage == stages.count { stages.append([]) }
            stages[stage].append(j)
        }
        var concurrent: [Bool] = []
        for (s, stage) in stages.enumerated() {
            let costs = stage.map { ProgramStages.cost(instructions[$0]) }
            let sorted = costs.compactMap { $0 }.sorted(by: >)
            let parallel = sorted.count == costs.count && sorted.count >= 2 && sorted[1] >= ProgramStages.minimumConcurrentCost
            concurrent.append(parallel)
            // The longest first: each instruction goes to the next free thread.
            if parallel { stages[s] = zip(stage, costs).sorted { $0.1! > $1.1! }.map(\.0) }
        }
        self.stages = stages
        self.concurrent = concurrent
    }

    /// Slots an instruction reads and writes.
    static func access(_ instruction: PlanInstruction) -> (reads: [Int], writes: [Int]) {
        switch instruction {
        case .transfer(_, let src, _, let dst, _): return ([src], [dst])
        case .zero(let dst, _, _): return ([], [dst])
        case .direct(_, _, let operands, _, let out, _): return (operands, [out])
        case .gemm(let g): return ([g.a, g.b], [g.c])
        }
    }

    /// An instruction's work in GEMM multiply-adds (a copied element, or a multiply-add of a
    /// loop, counts as four), or nil when it spreads over the workers by itself (a large GEMM
    /// or copy, a batch of GEMMs): inside a concurrent stage it would run on one core.
    static func cost(_ instruction: PlanInstruction) -> Int? {
        switch instruction {
        case .transfer(let sizes, _, _, _, _):
            let elements = sizes.reduce(1, &*)
            return elements >= TensorKernels.parallelTransfer ? nil : 4 &* elements
        case .zero(_, let sizes, _):
            return sizes.reduce(1, &*)
        case .direct(let outSizes, let sumSizes, let operands, _, _, _):
            return 4 &* outSizes.reduce(1, &*) &* sumSizes.reduce(1, &*) &* Swift.max(1, operands.count - 1)
        case .gemm(let g):
            let work = g.batchSizes.reduce(1, &*) &* g.m &* g.n &* g.k
            return g.batchSizes.reduce(1, &*) > 1 || LinalgKernels.gemmSpreadsOverWorkers(m: g.m, n: g.n, k: g.k) ? nil : work
        }
    }
}
