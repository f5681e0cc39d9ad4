import XCTest
import TNSwift

/// The Swift example of README.md, verbatim between the markers (python/tests/test_readme.py
/// checks that the README shows exactly this code).
final class ReadmeExampleTests: XCTestCase {
    func testReadmeExample() throws {
        // README-SWIFT-BEGIN
        let plan = try ContractionPlan<Double>("ij,jk->ik", shapes: [[2, 3], [3, 2]])
        var a: [Double] = [1, 2, 3, 4, 5, 6], b: [Double] = [1, 0, 0, 1, 1, 1]
        var c = [Double](repeating: 0, count: 4)
        try a.withUnsafeMutableBufferPointer { pa in
            try b.withUnsafeMutableBufferPointer { pb in
                try c.withUnsafeMutableBufferPointer { pc in
                    try plan.execute([StridedView(contiguous: pa.baseAddress!, shape: [2, 3]),
                                      StridedView(contiguous: pb.baseAddress!, shape: [3, 2])],
                                     into: StridedView(contiguous: pc.baseAddress!, shape: [2, 2]))
                }
            }
        }
        print(plan.report)
        // c == [4, 5, 10, 11]
        // README-SWIFT-END
        XCTAssertEqual(c, [4, 5, 10, 11])
    }
}
