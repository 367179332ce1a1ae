// RUN: not tidal-opt %s -p 'graph-to-loop{chip=small}' 2>&1 | filecheck %s

// The fit check counts tiles as loop-allocate places them (64-byte aligned):
// a 16380-long row (65520 bytes, 65536 once aligned) plus four 1-element columns (64 bytes each) is
// 65792 bytes, over the small chip's 65536, so graph-to-loop refuses it rather than
// leaving loop-allocate to fail.

// CHECK: tidal-opt: error: graph-to-loop: 'sm' needs 65792 bytes per SBUF partition, chip 'small' has 65536
func.func @edge(%x: tensor<2x16380xf32>) -> tensor<2x16380xf32> {
  %r = graph.softmax %x {axis = 1 : i64, tidal.origin = "sm"} : (tensor<2x16380xf32>) -> tensor<2x16380xf32>
  func.return %r : tensor<2x16380xf32>
}
