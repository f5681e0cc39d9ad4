/// What a recurrent layer's forward keeps for its backward, and the scratch of both, for one
/// (batch, sequence length).
///
/// Layouts (row-major, batch first like the caller's arrays):
/// - `input`: x, (batch · steps, input_size) — rows b · steps + t;
/// - `gates`: the activated gates, (batch · steps, G · hidden), same rows;
/// - `hidden`: (batch, steps + 1, hidden) — h_{t−1} of step t at [b, t], h0 at [b, 0];
/// - `cell` (LSTM): the same for c; `candidate` (GRU): W_hn h + b_hn, (batch · steps, hidden);
/// - `inputGateGradient`: dL/d(x W_ih + b_ih), (batch · steps, G · hidden);
///   `hiddenGateGradient` (GRU only; the LSTM's equals the former): dL/d(h W_hh + b_hh).
final class RecurrentTape<T: BLASScalar> {
    let batch: Int
    let steps: Int
    let input: Workspace<T>
    let gates: Workspace<T>
    let hidden: Workspace<T>
    let cell: Workspace<T>?
    let candidate: Workspace<T>?
    let inputGateGradient: Workspace<T>
    let hiddenGateGradient: Workspace<T>?
    let inputGradient: Workspace<T>
    /// One step's h W_hh + b_hh (GRU), (batch, G · hidden).
    let stepGates: Workspace<T>
    /// dL/dh and dL/dc flowing into the step being differentiated, and the next ones.
    let hiddenGradient: Workspace<T>
    let nextHiddenGradient: Workspace<T>
    let cellGradient: Workspace<T>?
    /// Set when a forward has filled the tape completely.
    var complete = false

    /// - Throws: `TNError.memory` when a size overflows or cannot be allocated.
    init(batch: Int, steps: Int, inputSize: Int, hiddenSize h: Int, gates g: Int, hasCell: Bool) throws {
        self.batch = batch
        self.steps = steps
        let rows = try checkedProduct([batch, steps], what: "the batch times the sequence length")
        let gateCount = try checkedProduct([rows, g, h], what: "the gates of a sequence")
        let states = try checkedProduct([batch, steps + 1, h], what: "the states of a sequence")
        let inputs = try checkedProduct([rows, inputSize], what: "the input sequence")
        input = try Workspace(count: inputs)
        gates = try Workspace(count: gateCount)
        hidden = try Workspace(count: states)
        cell = hasCell ? try Workspace(count: states) : nil
        candidate = hasCell ? nil : try Workspace(count: rows * h)
        inputGateGradient = try Workspace(count: gateCount)
        hiddenGateGradient = hasCell ? nil : try Workspace(count: gateCount)
        inputGradient = try Workspace(count: inputs)
        stepGates = try Workspace(count: batch * g * h)
        hiddenGradient = try Workspace(count: batch * h)
        nextHiddenGradient = try Workspace(count: batch * h)
        cellGradient = hasCell ? try Workspace(count: batch * h) : nil
    }

    /// dL/d(h W_hh + b_hh): its own buffer (GRU) or the input gates' gradient (LSTM).
    var hiddenGates: UnsafeMutablePointer<T> { (hiddenGateGradient ?? inputGateGradient).pointer }
}
