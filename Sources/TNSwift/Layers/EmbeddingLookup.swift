/// The gather structure of a batch of TT-embedding lookups (everything here is proportional to
/// the batch, never to the vocabulary, when there are two or more modes).
///
/// Row i of the table has digits (i_1, …, i_d) over the row modes, and its value is the chain
/// G_1[:, i_1] · G_2[:, i_2] ⋯ G_d[:, i_d]. Lookups that share a prefix (i_1, …, i_k) share
/// the partial product of the first k cores, so each distinct prefix is computed once: the
/// prefixes of length k (the *keys* of level k) are sorted by (i_k, parent prefix), which makes
/// the keys with the same digit i_k contiguous — one GEMM per digit against the core slice
/// G_k[:, i_k], with the parents' products stacked as its left operand, and each key's product
/// a contiguous block of the result. Level 1's key is the digit i_1 itself (its partial
/// product is a core slice); level d's keys are the distinct looked-up rows.
struct EmbeddingLookup {
    /// Positions (in the caller's index array) of the lookups that are not the padding index.
    let rows: [Int]
    /// digits[k][j]: digit i_{k+1} of lookup `rows[j]`.
    let digits: [[Int]]
    /// Levels 2 … d (index 0 is level 2): their keys, sorted by (digit, parent).
    let levels: [Level]
    /// rowKey[j]: the level-d key of lookup j (its digit when d = 1).
    let rowKey: [Int]
    /// The lookups of each level-d key, for the backward's sum over repeated rows:
    /// `keyRows[keyStarts[t] ..< keyStarts[t + 1]]` are the lookups with key t.
    let keyRows: [Int]
    let keyStarts: [Int]

    struct Level {
        /// For each key: its digit at this level and its parent key one level up.
        let digit: [Int]
        let parent: [Int]
        /// Keys with digit `groupDigits[g]` are `groupStarts[g] ..< groupStarts[g + 1]`.
        let groupDigits: [Int]
        let groupStarts: [Int]
        /// The most keys in one group (the rows of its GEMM's left operand, in keys).
        var largestGroup: Int { zip(groupStarts.dropFirst(), groupStarts).map { $0 - $1 }.max() ?? 0 }
        /// The parent's children, for the backward reduction: children of parent p are
        /// `childOrder[childStarts[p] ..< childStarts[p + 1]]` (parents numbered as their level's keys).
        let childOrder: [Int]
        let childStarts: [Int]
    }

    /// - Parameters:
    ///   - indices: the looked-up rows, each already checked to be in 0 ..< Π rowModes.
    ///   - rowModes: v_1 … v_d.
    ///   - skip: a row to leave out (the padding index), or nil.
    init(indices: UnsafeBufferPointer<Int64>, rowModes: [Int], skip: Int?) {
        let d = rowModes.count
        var rows: [Int] = []
        rows.reserveCapacity(indices.count)
        for (j, v) in indices.enumerated() where skip == nil || Int(v) != skip! { rows.append(j) }
        self.rows = rows
        var digits = [[Int]](repeating: [Int](repeating: 0, count: rows.count), count: d)
        for (j, r) in rows.enumerated() {
            var rest = Int(indices[r])
            for k in stride(from: d - 1, through: 0, by: -1) {
                digits[k][j] = rest % rowModes[k]
                rest /= rowModes[k]
            }
        }
        self.digits = digits
        // keyOf[j]: lookup j's key at the current level (level 1: its digit).
        var keyOf = digits[0]
        var keyCount = rowModes[0]
        var levels: [Level] = []
        for k in 1..<d {
            let (order, starts, distinct) = EmbeddingLookup.groupSorted(major: digits[k], majorBuckets: rowModes[k],
                                                                        minor: keyOf, minorBuckets: keyCount)
            var digit: [Int] = [], parent: [Int] = []
            digit.reserveCapacity(distinct.count)
            parent.reserveCapacity(distinct.count)
            for c in distinct {
                digit.append(c / keyCount)
                parent.append(c % keyCount)
            }
            var newKey = [Int](repeating: 0, count: rows.count)
            for g in 0..<(starts.count - 1) { for t in starts[g]..<starts[g + 1] { newKey[order[t]] = g } }
            var groupDigits: [Int] = [], groupStarts: [Int] = []
            for (t, dg) in digit.enumerated() where t == 0 || dg != digit[t - 1] {
                groupDigits.append(dg)
                groupStarts.append(t)
            }
            groupStarts.append(digit.count)
            let (childOrder, childStarts, _) = EmbeddingLookup.groupSorted(major: parent, majorBuckets: keyCount,
                                                                           keepEmpty: true)
            levels.append(Level(digit: digit, parent: parent, groupDigits: groupDigits, groupStarts: groupStarts,
                                childOrder: childOrder, childStarts: childStarts))
            keyOf = newKey
            keyCount = distinct.count
        }
        self.levels = levels
        rowKey = keyOf
        (keyRows, keyStarts, _) = EmbeddingLookup.groupSorted(major: keyOf, majorBuckets: keyCount, keepEmpty: true)
    }

    /// Stable counting sort of positions by (major, minor) key pairs: the positions in key
    /// order, the start of each run of equal keys (plus the end), and each run's keys as
    /// `major · minorBuckets + minor`. With `keepEmpty`, `starts` has one entry per possible
    /// major key (no minor), empty runs included.
    /// - Complexity: O(n + majorBuckets + minorBuckets).
    static func groupSorted(major: [Int], majorBuckets: Int, minor: [Int]? = nil, minorBuckets: Int = 1,
                            keepEmpty: Bool = false) -> (order: [Int], starts: [Int], distinct: [Int]) {
        let n = major.count
        func countingSort(_ positions: [Int], by key: [Int], buckets: Int) -> ([Int], [Int]) {
            var starts = [Int](repeating: 0, count: buckets + 1)
            for j in positions { starts[key[j] &+ 1] &+= 1 }
            for b in 0..<buckets { starts[b + 1] &+= starts[b] }
            var next = starts
            var out = [Int](repeating: 0, count: positions.count)
            for j in positions {
                out[next[key[j]]] = j
                next[key[j]] &+= 1
            }
            return (out, starts)
        }
        var order = Array(0..<n)
        if let minor { order = countingSort(order, by: minor, buckets: minorBuckets).0 }
        let (sorted, majorStarts) = countingSort(order, by: major, buckets: majorBuckets)
        if keepEmpty { return (sorted, majorStarts, []) }
        var starts: [Int] = [], distinct: [Int] = []
        var previous = -1
        for (t, j) in sorted.enumerated() {
            let code = major[j] &* minorBuckets &+ (minor?[j] ?? 0)
            if code != previous {
                starts.append(t)
                distinct.append(code)
                previous = code
            }
        }
        starts.append(n)
        return (sorted, starts, distinct)
    }
}
