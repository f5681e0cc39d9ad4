/// One step of a `Sequential` model: a layer or an element-wise activation.
public enum ModelStage<T: LAPACKScalar> {
    case layer(EinsumLayer<T>)
    case activation(Activation)
}
