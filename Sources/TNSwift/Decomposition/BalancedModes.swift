/// Factors `n` into `order` integers whose product is exactly `n`, as equal as a greedy
/// split of its prime factors makes them, largest first.
///
/// The prime factors of `n` are handed out largest first, each to the factor whose product is
/// currently smallest (like tltorch's `get_tensorized_shape`, used to choose the modes of a
/// tensorized layer). Powers of a prime split evenly: 1024 in 5 gives [4, 4, 4, 4, 4], 4096 in
/// 4 gives [8, 8, 8, 8]. A prime p (or an `n` with fewer prime factors than `order`) cannot
/// be split further and gives factors of 1: 13 in 3 gives [13, 1, 1].
/// - Parameters:
///   - n: the integer to factor, at least 1.
///   - order: the number of factors, at least 1.
/// - Returns: `order` factors in descending order whose product is `n`.
/// - Throws: `TNError.value` when `n` < 1 or `order` < 1.
/// - Complexity: O(√n + order · log n).
public func balancedModes(_ n: Int, order: Int) throws -> [Int] {
    guard n >= 1 else { throw TNError.value("balancedModes: the integer to factor must be at least 1 (got \(n))") }
    guard order >= 1 else { throw TNError.value("balancedModes: the order must be at least 1 (got \(order))") }
    var primes: [Int] = []
    var rest = n
    var p = 2
    while p <= rest / p {
        while rest % p == 0 { primes.append(p); rest /= p }
        p += 1
    }
    if rest > 1 { primes.append(rest) }
    var factors = [Int](repeating: 1, count: order)
    for prime in primes.sorted(by: >) {
        let smallest = factors.indices.min { factors[$0] < factors[$1] }!
        factors[smallest] *= prime
    }
    return factors.sorted(by: >)
}
