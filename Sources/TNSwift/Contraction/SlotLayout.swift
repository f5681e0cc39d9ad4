/// Physical labels of a tensor in a slot, with the element stride of each label.
struct SlotLayout {
    var slot: Int
    var labels: [Int]
    var strides: [Int]

    func stride(of label: Int) -> Int? {
        guard let i = labels.firstIndex(of: label) else { return nil }
        return strides[i]
    }

    /// A contiguous layout of `labels` in this order.
    static func contiguous(slot: Int, labels: [Int], sizes: [Int]) -> SlotLayout {
        var strides = [Int](repeating: 1, count: labels.count)
        var step = 1
        for d in Swift.stride(from: labels.count - 1, through: 0, by: -1) {
            strides[d] = step
            step &*= sizes[labels[d]]
        }
        return SlotLayout(slot: slot, labels: labels, strides: strides)
    }

    /// Strides of this tensor over `labels` (zero where it lacks one).
    func strides(over labels: [Int]) -> [Int] { labels.map { stride(of: $0) ?? 0 } }
}
