import XCTest
@testable import TNSwift

final class ParserTests: XCTestCase {
    func testExplicitAndImplicitOutputs() throws {
        let e = try EinsumParser.parse("ij,jk->ik", ndims: [2, 2])
        XCTAssertEqual(e.equation, "ij,jk->ik")
        // Implicit: labels appearing once, uppercase before lowercase (NumPy's order).
        XCTAssertEqual(try EinsumParser.parse("Ab,aB", ndims: [2, 2]).equation, "Ab,aB->ABab")
        XCTAssertEqual(try EinsumParser.parse("ij,jk", ndims: [2, 2]).equation, "ij,jk->ik")
        XCTAssertEqual(try EinsumParser.parse(" i j , j k -> i k ", ndims: [2, 2]).equation, "ij,jk->ik")
        XCTAssertEqual(try EinsumParser.parse("ii", ndims: [2]).output, [])
    }

    func testEllipsisIsRightAligned() throws {
        let e = try EinsumParser.parse("...ij,j...->...i", ndims: [4, 2])
        // Operand 0 has two ellipsis dims, operand 1 one: it takes the last of them.
        XCTAssertEqual(e.inputs[0].count, 4)
        XCTAssertEqual(e.inputs[1].count, 2)
        XCTAssertEqual(e.inputs[1][1], e.inputs[0][1])
        XCTAssertEqual(e.output, [e.inputs[0][0], e.inputs[0][1], e.inputs[0][2]])
        // Implicit output puts the ellipsis first.
        let imp = try EinsumParser.parse("...i,...i", ndims: [2, 3])
        XCTAssertEqual(imp.output.count, 2)
    }

    func testErrorsNameTheProblem() {
        func message(_ s: String, _ nd: [Int]) -> String {
            do { _ = try EinsumParser.parse(s, ndims: nd); return "" } catch { return "\(error)" }
        }
        XCTAssertTrue(message("ij,j%->i", [2, 2]).contains("invalid character '%' (labels are a-z and A-Z) at position 4"))
        XCTAssertTrue(message("ij->i->j", [2]).contains("second '->'"))
        XCTAssertTrue(message("i..j", [2]).contains("ellipsis"))
        XCTAssertTrue(message("ij->ii", [2]).contains("more than once"))
        XCTAssertTrue(message("ij->k", [2]).contains("does not appear"))
        XCTAssertTrue(message("ij,jk", [2]).contains("2 operand(s) but 1"))
        XCTAssertTrue(message("ijk", [2]).contains("has 2 dimension(s)"))
        XCTAssertTrue(message("...ij->ij", [3]).contains("no '...'"))
        XCTAssertTrue(message("i-j", [1]).contains("'-' not followed by '>'"))
    }

    func testNconBecomesAnExpression() throws {
        let e = try NconNetwork.expression(labels: [[-1, 1], [1, -2]], ndims: [2, 2])
        XCTAssertEqual(e.equation, "ba,ac->bc")
        XCTAssertEqual(e.inputs[0][1], e.inputs[1][0])
        XCTAssertEqual(e.output, [e.inputs[0][0], e.inputs[1][1]])
        XCTAssertThrowsError(try NconNetwork.expression(labels: [[1, 2], [1, -1]], ndims: [2, 2]))
        XCTAssertThrowsError(try NconNetwork.expression(labels: [[-2, 1], [1, -3]], ndims: [2, 2]))
        XCTAssertThrowsError(try NconNetwork.expression(labels: [[0, 1], [1, -1]], ndims: [2, 2]))
    }
}
