/// One step of a `Sequential` model: a layer, an element-wise activation, or a stage that only
/// matters in training or for input shapes (identity on batch × features rows at inference).
public enum ModelStage<T: LAPACKScalar> {
    case layer(EinsumLayer<T>)
    case activation(Activation)
    /// Python's `Flatten`: reshapes (batch, ...) to (batch, features); the rows here are flat already.
    case flatten
    /// Dropout with drop probability p (0 ≤ p < 1); identity at inference. Kept so that a
    /// saved model round-trips with its training configuration.
    case dropout(Double)
}
