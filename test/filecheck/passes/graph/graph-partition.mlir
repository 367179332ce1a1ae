// RUN: tidal-opt %s -p 'graph-partition{chip=small}' | filecheck %s
// RUN: not tidal-opt %s -p 'graph-partition{chip=small},graph-to-loop{chip=small}' 2>&1 | filecheck %s --check-prefix=LOWER

// Every op (constants aside) is placed, with the reason: the conv and the reshape
// lower for the small chip; a softmax row of 100000 fp32 does not fit one SBUF
// partition (64 KiB), so NumPy on the host runs it. Each op's kernel plans it for
// the chip (nothing is lowered to decide), and a refusal is the host op's reason.
// CHECK-LABEL: func.func @mixed
// CHECK-NEXT:    %{{.*}} = graph.constant {{.*}} {tidal.origin = "w"}
// CHECK-NEXT:    %[[C:.*]] = graph.conv2d {{.*}} {tidal.origin = "conv", tidal.placement = "accel", tidal.reason = "PE array, filter taps accumulated in PSUM; tiles fit chip 'small'", pads = array<i64: 1, 1, 1, 1>}
// CHECK-NEXT:    %{{.*}} = graph.reshape %[[C]] {tidal.origin = "flat", tidal.placement = "accel", tidal.reason = "a view (free)"}
// CHECK-NEXT:    %{{.*}} = graph.softmax %{{.*}} {tidal.origin = "sm", tidal.placement = "host", tidal.reason = "'sm' needs 400256 bytes per SBUF partition, chip 'small' has 65536", axis = 1 : i64}
// CHECK-NEXT:    %{{.*}} = graph.softmax %{{.*}} {tidal.origin = "sm2", tidal.placement = "host", tidal.reason = "'sm2' needs 400256 bytes per SBUF partition, chip 'small' has 65536", axis = 1 : i64}

// graph-to-loop refuses what was placed on the host, naming it and why.
// LOWER: tidal-opt: error: graph-to-loop: 'sm' (graph.softmax) is placed on the host, which an accelerator binary cannot run: 'sm' needs 400256 bytes per SBUF partition, chip 'small' has 65536
func.func @mixed(%x: tensor<1x8x6x6xf32>, %row: tensor<2x100000xf32>) -> (tensor<1x144xf32>, tensor<2x100000xf32>, tensor<2x100000xf32>) {
  %w = graph.constant dense<0.5> : tensor<4x8x3x3xf32> {tidal.origin = "w"}
  %c = graph.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>, tidal.origin = "conv"} : (tensor<1x8x6x6xf32>, tensor<4x8x3x3xf32>) -> tensor<1x4x6x6xf32>
  %f = graph.reshape %c {tidal.origin = "flat"} : (tensor<1x4x6x6xf32>) -> tensor<1x144xf32>
  %s = graph.softmax %row {axis = 1 : i64, tidal.origin = "sm"} : (tensor<2x100000xf32>) -> tensor<2x100000xf32>
  %s2 = graph.softmax %s {axis = 1 : i64, tidal.origin = "sm2"} : (tensor<2x100000xf32>) -> tensor<2x100000xf32>
  func.return %f, %s, %s2 : tensor<1x144xf32>, tensor<2x100000xf32>, tensor<2x100000xf32>
}

// The framework tier: a graph.onnx_node (an ONNX node Tidal does not import, here a
// Gather of rows by int64 indices) is placed on it with the importer's reason; the
// relu after it is on the accelerator (tidal-run runs the two tiers in turn).
// CHECK-LABEL: func.func @framework
// CHECK-NEXT:    %[[G:.*]] = graph.onnx_node "Gather" {{.*}} {tidal.origin = "gather", tidal.reason = "no kernel for Gather", tidal.placement = "framework", inputs = ["table", "ids"]
// CHECK-NEXT:    %{{.*}} = graph.relu %[[G]] {tidal.origin = "relu", tidal.placement = "accel"
func.func @framework(%t: tensor<10x4xf32>, %i: tensor<3xi64>) -> tensor<3x4xf32> {
  %g = graph.onnx_node "Gather" %t, %i {inputs = ["table", "ids"], outputs = ["rows"], model = "CAg6dQonCgV0YWJsZQoDaWRzEgRyb3dzIgZHYXRoZXIqCwoEYXhpcxgAoAECEgZHYXRoZXJaFwoFdGFibGUSDgoMCAESCAoCCAoKAggEWhEKA2lkcxIKCggIBxIECgIIA2IWCgRyb3dzEg4KDAgBEggKAggDCgIIBEIECgAQEQ==", tidal.origin = "gather", tidal.reason = "no kernel for Gather"} : (tensor<10x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
  %r = graph.relu %g {tidal.origin = "relu"} : (tensor<3x4xf32>) -> tensor<3x4xf32>
  func.return %r : tensor<3x4xf32>
}
