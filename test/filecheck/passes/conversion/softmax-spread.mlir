// RUN: tidal-opt %s -p 'graph-to-loop{chip=small}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small softmax_spread=false}' | filecheck %s --check-prefix=ROW

// softmax-spread on the small chip (32 partitions): a batch-1 classifier's 320
// logits lie as [32 partitions, 10 columns], logit t * 32 + p on partition p.
// The gemm (activations stationary) holds 32 outputs' weights stationary against
// X^T's one column: one matmul per output tile and K step, into column t of one
// [32, 10] PSUM tile; the bias is added in that layout, and the store walks it.
// CHECK-LABEL: func.func @classifier
// CHECK:         loop.nest "fc"
// CHECK:           %[[ACC:.*]] = loop.alloc_tile : !loop.tile<psum, 32, 10>
// CHECK:           loop.copy %b <dram 0, [[1, 32], [32, 10]]> -> %[[BT:.*]] <sbuf 0, 0, [[1, 32], [1, 10]]>
// CHECK:           loop.matmul %[[ACC]] <psum 0, 0, [[1, 32], [1, 1]]>, %[[W:.*]] <sbuf 0, 0, [[1, 32], [1, 32]]>, %[[X:.*]] <sbuf 0, 0, [[1, 32], [1, 1]]> {zero_at = -1 : i64}
// CHECK-NEXT:      loop.matmul %[[ACC]] <psum 0, 4, [[1, 32], [1, 1]]>, %[[W]] <sbuf 0, 128, [[1, 32], [1, 32]]>, %[[X]] <sbuf 0, 0, [[1, 32], [1, 1]]> {zero_at = -1 : i64}
// CHECK:           loop.tensor_tensor "add" %[[OUT:.*]] <sbuf 0, 0, [[1, 32], [1, 10]]>, %[[ACC]] <psum 0, 0, [[1, 32], [1, 10]]>, %[[BT]] <sbuf 0, 0, [[1, 32], [1, 10]]>
// CHECK-NEXT:      loop.copy %[[OUT]] <sbuf 0, 0, [[1, 32], [1, 10]]> -> %y <dram 0, [[1, 32], [32, 10]]>
// The softmax reads that layout. Max: per partition (at least -FLT_MAX), then
// every partition's max on every partition (ones^T @ diag(max)), the max of those;
// sum: ones^T @ exp(x - max) puts the column sums on every partition, then a row
// sum. Loads and stores walk the same [32, 10] layout.
// CHECK:         %[[ID:.*]] = loop.const {{.*}} : tensor<32x32xf32> : memref<32x32xf32>
// CHECK:         loop.nest "prob"
// CHECK:           loop.copy %y <dram 0, [[1, 32], [32, 10]]> -> %[[XT:.*]] <sbuf 0, 0, [[1, 32], [1, 10]]>
// CHECK-NEXT:      loop.copy %[[ID]] <dram 0, [[32, 32], [1, 32]]> -> %[[IT:.*]] <sbuf 0, 0, [[1, 32], [1, 32]]>
// CHECK-NEXT:      loop.memset %[[ONES:.*]] <sbuf 0, 0, [[1, 32], [1, 32]]> = 1.000000e+00
// CHECK-NEXT:      loop.memset %[[PAIR:.*]] <sbuf 0, 4, [[1, 32], [1, 1]]> = -3.40282347e+38
// CHECK-NEXT:      loop.reduce "max" %[[PAIR]] <sbuf 0, 0, [[1, 32], [1, 1]]>, %[[XT]] <sbuf 0, 0, [[1, 32], [1, 10]]>
// CHECK-NEXT:      loop.reduce "max" %[[PAIR]] <sbuf 0, 0, [[1, 32], [1, 1]]>, %[[PAIR]] <sbuf 0, 0, [[1, 32], [1, 2]]>
// CHECK-NEXT:      loop.act "identity" %[[DG:.*]] <sbuf 0, 0, [[1, 32], [1, 32]]>, %[[IT]] <sbuf 0, 0, [[1, 32], [1, 32]]> scale(%[[PAIR]] : {{.*}}) <sbuf 0, 0, [[1, 32], [1, 1]]>
// CHECK-NEXT:      loop.matmul %[[BC:.*]] <psum 0, 0, [[1, 32], [1, 32]]>, %[[ONES]] <sbuf 0, 0, [[1, 32], [1, 32]]>, %[[DG]] <sbuf 0, 0, [[1, 32], [1, 32]]>
// CHECK-NEXT:      loop.reduce "max" %[[GM:.*]] <sbuf 0, 0, [[1, 32], [1, 1]]>, %[[BC]] <psum 0, 0, [[1, 32], [1, 32]]>
// CHECK-NEXT:      loop.act "identity" %[[NEG:.*]] <sbuf 0, 0, [[1, 32], [1, 1]]>, %[[GM]] {{.*}} {scale = -1.000000e+00 : f32
// CHECK-NEXT:      loop.act "exp" %[[ET:.*]] <sbuf 0, 0, [[1, 32], [1, 10]]>, %[[XT]] <sbuf 0, 0, [[1, 32], [1, 10]]> bias(%[[NEG]]
// CHECK-NEXT:      loop.matmul %[[SUMS:.*]] <psum 0, 0, [[1, 32], [1, 10]]>, %[[ONES]] <sbuf 0, 0, [[1, 32], [1, 32]]>, %[[ET]] <sbuf 0, 0, [[1, 32], [1, 10]]>
// CHECK-NEXT:      loop.reduce "add" %[[TOT:.*]] <sbuf 0, 0, [[1, 32], [1, 1]]>, %[[SUMS]] <psum 0, 0, [[1, 32], [1, 10]]>
// CHECK-NEXT:      loop.act "reciprocal" %[[RC:.*]] <sbuf 0, 0, [[1, 32], [1, 1]]>, %[[TOT]]
// CHECK-NEXT:      loop.act "identity" %[[ET]] <sbuf 0, 0, [[1, 32], [1, 10]]>, %[[ET]] <sbuf 0, 0, [[1, 32], [1, 10]]> scale(%[[RC]]
// CHECK-NEXT:      loop.copy %[[ET]] <sbuf 0, 0, [[1, 32], [1, 10]]> -> %p <dram 0, [[1, 32], [32, 10]]>

// Off: the logits on one partition, [1, 320], and the softmax's passes over it.
// ROW-LABEL:     func.func @classifier
// ROW:             loop.alloc_tile : !loop.tile<psum, 1, 320>
// ROW:             loop.copy %{{.*}} -> %y <dram 0, [[320, 1], [1, 320]]>
// ROW:           loop.nest "prob"
// ROW:             loop.copy %y <dram 0, [[320, 1], [1, 320]]> -> %[[XT:.*]] <sbuf 0, 0, [[1, 1], [1, 320]]>
// ROW-NEXT:        loop.reduce "max" %{{.*}} <sbuf 0, 0, [[1, 1], [1, 1]]>, %[[XT]] <sbuf 0, 0, [[1, 1], [1, 320]]>
func.func @classifier(%x: tensor<1x64xf32>) -> tensor<1x320xf32> {
  %w = graph.constant dense<0.5> : tensor<64x320xf32>
  %b = graph.constant dense<0.25> : tensor<320xf32>
  %y = graph.gemm %x, %w, %b {tidal.origin = "fc"} : (tensor<1x64xf32>, tensor<64x320xf32>, tensor<320xf32>) -> tensor<1x320xf32>
  %p = graph.softmax %y {axis = 1 : i64, tidal.origin = "prob"} : (tensor<1x320xf32>) -> tensor<1x320xf32>
  func.return %p : tensor<1x320xf32>
}
