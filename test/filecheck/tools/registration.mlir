// tidal-opt lists Tidal's passes; plain xdsl-opt sees them through the entry point.
// Test-only passes (tidal.passes.testing) are listed only with TIDAL_TEST_PASSES=1.
// RUN: env COLUMNS=1000 tidal-opt --help | filecheck %s --check-prefixes=HELP,PUBLIC
// RUN: env COLUMNS=1000 xdsl-opt --help | filecheck %s --check-prefix=PUBLIC
// RUN: env COLUMNS=1000 TIDAL_TEST_OPT --help | filecheck %s --check-prefix=TESTING
// RUN: xdsl-opt %s -p graph-to-loop | filecheck %s

// HELP: Available passes are: graph-to-loop,loop-to-accel,accel-insert-sync,accel-split-streams,accel-verify-sync,tidal-lower,{{.*}}loop-double-buffer
// PUBLIC-NOT: test-break-numerics
// TESTING: Available passes are: {{.*}}test-break-numerics

// CHECK-LABEL: func.func @relu(%{{.*}}: memref<4x8xf32>) -> memref<4x8xf32>
// CHECK:         loop.nest "r" domain [] order [] {
// CHECK:           loop.act "relu"
func.func @relu(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %r = graph.relu %x {tidal.origin = "r"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  func.return %r : tensor<4x8xf32>
}
