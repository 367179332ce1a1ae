// RUN: not tidal-opt %s -p 'graph-partition{chip=small}' 2>&1 | filecheck %s

// An op that neither the accelerator nor NumPy on the host can run is refused in
// one line naming its origin and why.
// CHECK-NOT: Traceback
// CHECK: tidal-opt: error: graph-partition: 'custom' (test.op) cannot run on the accelerator or the host: 'test.op' is not a graph op
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = "test.op"(%x) {tidal.origin = "custom"} : (tensor<4xf32>) -> tensor<4xf32>
  func.return %r : tensor<4xf32>
}
