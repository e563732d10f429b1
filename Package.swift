// swift-tools-version:6.0
import PackageDescription

// Language mode 5 (set below): the kernels hand raw buffers to concurrent loops; strict-concurrency
// checking of every such closure would cost more than it finds here (docs/decisions.md).
//
// On x86-64 the kernels are compiled for AVX2 + FMA (`haswell`: every x86 server CPU since 2013):
// Swift's default target is SSE2, which runs the loops that are not GEMMs 4 floats wide. The
// results are the same bits either way (no contraction into FMA; lane sums keep their order).
// IUMAD_TARGET_CPU overrides it: `x86-64` for a CPU without AVX2, or another LLVM CPU name
// (docs/decisions.md, "Kernels compiled for AVX2 + FMA").
#if arch(x86_64)
let targetCPU = Context.environment["IUMAD_TARGET_CPU"] ?? "haswell"
let swiftSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", targetCPU])]
#else
let swiftSettings: [SwiftSetting] = []
#endif

let package = Package(
  name: "IUMAD",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "iumad", targets: ["iumad"]),
    .library(name: "Tensor", targets: ["Tensor"]),
    .library(name: "ImageIO", targets: ["ImageIO"]),
    .library(name: "Datasets", targets: ["Datasets"]),
    .library(name: "Backbone", targets: ["Backbone"]),
    .library(name: "Metrics", targets: ["Metrics"]),
    .library(name: "Baseline", targets: ["Baseline"]),
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
    .target(name: "Configuration", dependencies: [.product(name: "Yams", package: "Yams")], swiftSettings: swiftSettings),
    .target(name: "Model", dependencies: ["Tensor", "Configuration"], swiftSettings: swiftSettings),
    .target(name: "ImageIO", dependencies: ["CPNG", "CTIFF"], swiftSettings: swiftSettings),
    .target(
      name: "Datasets",
      dependencies: ["ImageIO", "Tensor", "Configuration", .product(name: "Yams", package: "Yams")],
      swiftSettings: swiftSettings),
    // Checksums and zstd frames, shared by the feature cache and checkpoints.
    .target(name: "Storage", dependencies: ["CZstd"], swiftSettings: swiftSettings),
    .target(name: "Backbone", dependencies: ["Tensor", "Storage"], swiftSettings: swiftSettings),
    .target(name: "Metrics", dependencies: ["ImageIO", "Datasets"], swiftSettings: swiftSettings),
    .target(name: "Cluster", dependencies: ["Tensor", "CMPI"], swiftSettings: swiftSettings),
    // The training algorithm (SPEC §7): its configuration, the trainer, projection, compression
    // loss and the checkpoint it saves its state into.
    .target(
      name: "Incremental",
      dependencies: ["Tensor", "Model", "Datasets", "Backbone", "Storage", "Metrics", "Configuration", "Cluster"],
      swiftSettings: swiftSettings),
    // Runs of it: data pipeline, run directory and identity, checkpoints on disk, evaluation per
    // step, seeds, studies, model files and inference.
    .target(
      name: "Runs",
      dependencies: ["Incremental", "Tensor", "Model", "Datasets", "ImageIO", "Backbone", "Storage", "Metrics", "Configuration", "Cluster"],
      swiftSettings: swiftSettings),
    // The training-free PatchCore baseline: the run pipeline and evaluation of Runs,
    // nearest neighbours instead of a trained model.
    .target(
      name: "Baseline",
      dependencies: ["Tensor", "Model", "Datasets", "Metrics", "Incremental", "Runs"],
      swiftSettings: swiftSettings),
    .executableTarget(
      name: "iumad",
      dependencies: [
        "Tensor", "Model", "ImageIO", "Datasets", "Backbone", "Metrics", "Incremental", "Runs", "Configuration", "Cluster", "Baseline",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Yams", package: "Yams"),
      ],
      swiftSettings: swiftSettings),

    // MARK: tests
    // Helpers shared by the test targets (gradient checker, closeness, random tensors).
    .target(name: "TestSupport", dependencies: ["Tensor", "Model"], path: "Tests/TestSupport"),
    .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"]),
    .testTarget(name: "ConfigurationTests", dependencies: ["Configuration"]),
    .testTarget(name: "ClusterTests", dependencies: ["Cluster", "Tensor"]),
    .testTarget(name: "StorageTests", dependencies: ["Storage"]),
    .testTarget(name: "ModelTests", dependencies: ["Model", "Tensor", "Backbone", "TestSupport"]),
    .testTarget(name: "IncrementalTests", dependencies: ["Incremental", "Runs", "Backbone", "Storage", "Cluster", "Datasets", "Model", "Tensor", "TestSupport"]),
    .testTarget(name: "RunsTests", dependencies: ["Runs", "Incremental", "Metrics", "Datasets", "Model", "TestSupport"]),
    .testTarget(name: "ImageIOTests", dependencies: ["ImageIO"], resources: [.copy("../Fixtures/imageio")]),
    .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "ImageIO", "Tensor", "TestSupport"]),
    .testTarget(name: "BackboneTests", dependencies: ["Backbone", "Tensor", "TestSupport"]),
    .testTarget(name: "BaselineTests", dependencies: ["Baseline", "Tensor", "TestSupport"]),
    .testTarget(name: "MetricsTests", dependencies: ["Metrics", "ImageIO", "Datasets"], resources: [.copy("../Fixtures/metrics")]),
    // Runs the built `iumad` binary as a child process; the libraries write the inputs some
    // commands read (e.g. anomaly maps for `iumad evaluate`).
    .testTarget(name: "CLITests", dependencies: ["Metrics", "ImageIO", "Datasets", "Backbone", "TestSupport"]),
  ],
  swiftLanguageModes: [.v5]
)
