// RUN: not tidal-opt %s -p tidal-lower --split-input-file 2>&1 | filecheck %s
// RUN: tidal-opt %s -p tidal-lower --split-input-file --verify-diagnostics | filecheck %s --check-prefix=DIAG

// Graph-level passes take functions of one block: a declaration, which has nothing
// to compile, and a function of several blocks are refused where they are, in one
// line, before any pass reads a block (no xDSL-internal message).

// CHECK-NOT: Traceback
// CHECK: tidal-opt: error: {{.*}}graph-function-errors.mlir:[[# @LINE + 3]]:1: tidal-lower: expects graph-level IR (func.func on tensors with graph ops); function @declared has no body (a declaration)
// CHECK-NOT: error
// DIAG: function @declared has no body (a declaration)
func.func private @declared(tensor<2xf32>) -> tensor<2xf32>

// -----

// DIAG: function @blocks has 2 blocks (Tidal compiles functions of one block)
func.func @blocks(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  cf.br ^bb1
^bb1:
  func.return %x : tensor<2x3xf32>
}
