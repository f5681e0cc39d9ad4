/// A set of up to 128 labels as two machine words, for fast path search.
@frozen
public struct LabelSet: Hashable, Sendable {
    @usableFromInline var lo: UInt64
    @usableFromInline var hi: UInt64

    @inlinable public init() { lo = 0; hi = 0 }

    @inlinable public init<S: Sequence>(_ labels: S) where S.Element == Int {
        lo = 0; hi = 0
        for l in labels { insert(l) }
    }

    /// Largest label + 1 a set can hold.
    public static let capacity = 128

    @inlinable public mutating func insert(_ l: Int) {
        if l < 64 { lo |= 1 &<< UInt64(l) } else { hi |= 1 &<< UInt64(l &- 64) }
    }

    @inlinable public func contains(_ l: Int) -> Bool {
        l < 64 ? (lo >> UInt64(l)) & 1 == 1 : (hi >> UInt64(l &- 64)) & 1 == 1
    }

    @inlinable public var isEmpty: Bool { lo == 0 && hi == 0 }
    @inlinable public var count: Int { lo.nonzeroBitCount &+ hi.nonzeroBitCount }

    @inlinable public func union(_ o: LabelSet) -> LabelSet { var r = self; r.lo |= o.lo; r.hi |= o.hi; return r }
    @inlinable public func intersection(_ o: LabelSet) -> LabelSet { var r = self; r.lo &= o.lo; r.hi &= o.hi; return r }
    @inlinable public func subtracting(_ o: LabelSet) -> LabelSet { var r = self; r.lo &= ~o.lo; r.hi &= ~o.hi; return r }

    /// Members in increasing order.
    public var elements: [Int] {
        var out: [Int] = []
        var w = lo
        while w != 0 { out.append(w.trailingZeroBitCount); w &= w &- 1 }
        w = hi
        while w != 0 { out.append(64 + w.trailingZeroBitCount); w &= w &- 1 }
        return out
    }

    /// Product of the sizes of the members.
    @inlinable public func size(_ sizes: [Double]) -> Double {
        var p = 1.0
        var w = lo
        while w != 0 { p *= sizes[w.trailingZeroBitCount]; w &= w &- 1 }
        w = hi
        while w != 0 { p *= sizes[64 &+ w.trailingZeroBitCount]; w &= w &- 1 }
        return p
    }
}
