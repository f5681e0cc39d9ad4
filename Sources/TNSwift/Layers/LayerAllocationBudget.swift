/// A cap on the values a layer being built may allocate, set while a model file is decoded:
/// a file whose description names a huge layer but holds few values fails before anything is
/// allocated, so a lying file cannot make the loader allocate more than the file holds.
enum LayerAllocationBudget {
    /// The values (parameters and bias) the layer under construction may hold; nil: no cap.
    @TaskLocal static var values: Int?

    /// - Throws: `TNError.value` when `needed` exceeds the current budget.
    static func check(_ needed: Int) throws {
        if let limit = values, needed > limit {
            throw TNError.value("the layer's description needs \(needed) values but the file holds only \(limit) for it")
        }
    }
}
