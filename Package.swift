// swift-tools-version:6.0
import PackageDescription

// Language mode 5 (set below): the kernels hand raw buffers to concurrent loops; strict-concurrency
// checking of every such closure would cost more than it finds here (docs/decisions.md).
let swiftSettings: [SwiftSetting] = []

let package = Package(
  name: "IUMAD",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "iumad", targets: ["iumad"]),
    .library(name: "Tensor", targets: ["Tensor"]),
    .library(name: "Backbone", targets: ["Backbone"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
  ],
  targets: [
    // MARK: native libraries (module maps and static-inline shims only)
    .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
    .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(name: "CTIFF", pkgConfig: "libtiff-4", providers: [.apt(["libtiff-dev"])]),
    .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
    .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),

    // MARK: modules
    .target(name: "Tensor", dependencies: ["COpenBLAS"], swiftSettings: swiftSettings),
    .target(name: "Backbone", dependencies: ["Tensor", "CZstd"], swiftSettings: swiftSettings),
    .executableTarget(
      name: "iumad",
      dependencies: [
        "Tensor",
        "Backbone",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: swiftSettings),

    // MARK: tests
    .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
    .testTarget(name: "BackboneTests", dependencies: ["Backbone", "Tensor"]),
    // Runs the built `iumad` binary as a child process (no module dependency on it).
    .testTarget(name: "CLITests", dependencies: []),
  ],
  swiftLanguageModes: [.v5]
)
