// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "tnswift",
    products: [
        // The C ABI library that Python and C programs load (libtnswift.so).
        .library(name: "tnswift", type: .dynamic, targets: ["TNSwiftC"]),
        // The Swift API, for SwiftPM users.
        .library(name: "TNSwift", targets: ["TNSwift"]),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        // AVX2/FMA kernels for GEMM shapes OpenBLAS handles poorly; they check the CPU at run time.
        .target(name: "TNKernels"),
        .target(name: "TNSwift", dependencies: ["CBLAS", "TNKernels"]),
        .target(name: "TNSwiftC", dependencies: ["TNSwift"]),
        .testTarget(name: "TNSwiftTests", dependencies: ["TNSwift"]),
    ]
)
