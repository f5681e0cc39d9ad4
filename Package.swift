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
        .target(name: "TNSwift", dependencies: ["CBLAS"]),
        .target(name: "TNSwiftC", dependencies: ["TNSwift"]),
        .testTarget(name: "TNSwiftTests", dependencies: ["TNSwift"]),
    ]
)
