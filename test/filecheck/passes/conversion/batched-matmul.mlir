// RUN: tidal-opt %s -p 'graph-to-loop{chip=small}' | filecheck %s

// A batched matmul (attention's scores, 4 heads): [1, 4, 16, 8] x [1, 4, 8, 16].
// The weights-stationary nest gains one outer loop over the 4 products (d0), which
// steps A by one 16x8 matrix (512 bytes), B by one 8x16 matrix (512 bytes) and Y
// by one 16x16 matrix (1024 bytes); inside, each product is the 2-D nest (one K
// step of 8 rows, the 16 output columns on partitions).
// CHECK-LABEL: func.func @scores
// CHECK:         loop.nest "scores" domain [4] order [0] {
// CHECK:           loop.for d0 {
// CHECK-NEXT:        loop.copy %{{.*}} <dram 0 + 512 * i0, {{\[\[}}16, 8], [1, 16]]> -> %{{.*}} <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]>
// CHECK-NEXT:        loop.copy %{{.*}} <dram 0 + 512 * i0, {{\[\[}}1, 8], [8, 16]]> -> %{{.*}} <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]>
// CHECK-NEXT:        loop.matmul
// CHECK-NEXT:        loop.act "identity"
// CHECK-NEXT:        loop.copy %{{.*}} -> %{{.*}} <dram 0 + 1024 * i0, {{\[\[}}1, 16], [16, 16]]>
func.func @scores(%q: tensor<1x4x16x8xf32>, %k: tensor<1x4x8x16xf32>) -> tensor<1x4x16x16xf32> {
  %s = graph.matmul %q, %k {tidal.origin = "scores"} : (tensor<1x4x16x8xf32>, tensor<1x4x8x16xf32>) -> tensor<1x4x16x16xf32>
  func.return %s : tensor<1x4x16x16xf32>
}
