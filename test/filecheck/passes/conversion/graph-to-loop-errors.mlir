// RUN: not tidal-opt %s -p 'graph-to-loop{chip=small}' 2>&1 | filecheck %s

// A softmax row is held whole in one SBUF partition: 100000 fp32 plus four
// per-row columns do not fit the small chip's 64 KiB. The one-line message names
// the op by its origin and gives both sizes.

// CHECK-NOT: Traceback
// CHECK: tidal-opt: error: graph-to-loop: 'Softmax_7' needs 400256 bytes per SBUF partition, chip 'small' has 65536
// CHECK-NOT: Traceback
func.func @too_long(%x: tensor<2x100000xf32>) -> tensor<2x100000xf32> {
  %r = graph.softmax %x {axis = 1 : i64, tidal.origin = "Softmax_7"} : (tensor<2x100000xf32>) -> tensor<2x100000xf32>
  func.return %r : tensor<2x100000xf32>
}
