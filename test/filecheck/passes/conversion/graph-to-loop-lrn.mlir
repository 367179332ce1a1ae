// RUN: tidal-opt %s -p 'graph-to-loop{chip=small dma_merge=false}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small}' | filecheck %s --check-prefix=PIECES
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small lrn_pieces=false}' | filecheck %s --check-prefix=WHOLE

// LRN, channels on partitions (48 -> two tiles of 24 on the small chip). The sum of
// squares over neighbouring channels crosses partitions, so it is a matmul with a
// constant [48, 48] band matrix (alpha / size = 0.1 inside the band, here 0x3DCCCCCD)
// accumulated over the input-channel tiles (d1, zero_at = 1). Then
// y = x * exp(-beta * ln(bias + acc)): ACT's log with bias 2 straight from PSUM,
// then exp with scale -beta = -0.5, times x.
// CHECK-LABEL: func.func @lrn
// CHECK-SAME:    (%[[X:.*]]: memref<1x48x4x5xf32>) -> memref<1x48x4x5xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<1x48x4x5xf32>
// CHECK-NEXT:    %[[BAND:.*]] = loop.const dense<"0xCDCCCC3DCDCCCC3D0000{{.*}}"> : tensor<48x48xf32> : memref<48x48xf32>
// CHECK-NEXT:    loop.nest "lrn" domain [2, 2] order [0, 1] {
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 24, 20>
// CHECK-NEXT:      %[[SQ:.*]] = loop.alloc_tile : !loop.tile<sbuf, 24, 20>
// CHECK-NEXT:      %[[BT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 24, 24>
// CHECK-NEXT:      %[[ACC:.*]] = loop.alloc_tile : !loop.tile<psum, 24, 20>
// CHECK-NEXT:      %[[LN:.*]] = loop.alloc_tile : !loop.tile<sbuf, 24, 20>
// CHECK-NEXT:      %[[T:.*]] = loop.alloc_tile : !loop.tile<sbuf, 24, 20>
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.for d1 {
// CHECK-NEXT:          loop.copy %[[X]] <dram 0 + 1920 * i1, {{\[\[}}20, 24], [1, 20]]> -> %[[XT]]
// CHECK-NEXT:          loop.tensor_tensor "mul" %[[SQ]] <{{.*}}>, %[[XT]] <{{.*}}>, %[[XT]] <{{.*}}>
// CHECK-NEXT:          loop.copy %[[BAND]] <dram 0 + 96 * i0 + 4608 * i1, {{\[\[}}48, 24], [1, 24]]> -> %[[BT]]
// CHECK-NEXT:          loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 24], [1, 20]]>, %[[BT]] <sbuf 0, 0, {{\[\[}}1, 24], [1, 24]]>, %[[SQ]] <sbuf 0, 0, {{\[\[}}1, 24], [1, 20]]> {zero_at = 1 : i64}
// CHECK-NEXT:        }
// CHECK-NEXT:        loop.act "log" %[[LN]] <{{.*}}>, %[[ACC]] <{{.*}}> {scale = 1.000000e+00 : f32, bias = 2.000000e+00 : f32}
// CHECK-NEXT:        loop.act "exp" %[[T]] <{{.*}}>, %[[LN]] <{{.*}}> {scale = -5.000000e-01 : f32, bias = 0.000000e+00 : f32}
// CHECK-NEXT:        loop.copy %[[X]] <dram 0 + 1920 * i0, {{\[\[}}20, 24], [1, 20]]> -> %[[XT]]
// CHECK-NEXT:        loop.tensor_tensor "mul" %[[T]] <{{.*}}>, %[[T]] <{{.*}}>, %[[XT]] <{{.*}}>
// CHECK-NEXT:        loop.copy %[[T]] <sbuf 0, 0, {{\[\[}}1, 24], [1, 20]]> -> %[[Y]] <dram 0 + 1920 * i0, {{\[\[}}20, 24], [1, 20]]>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
func.func @lrn(%x: tensor<1x48x4x5xf32>) -> tensor<1x48x4x5xf32> {
  %r = graph.lrn %x {size = 3 : i64, alpha = 3.0e-1 : f32, beta = 0.5 : f32, bias = 2.0 : f32, tidal.origin = "lrn"} : (tensor<1x48x4x5xf32>) -> tensor<1x48x4x5xf32>
  func.return %r : tensor<1x48x4x5xf32>
}

// Merged (dma-merge, the default), a 40x40 plane in 4 blocks of 400 pixels:
// lrn-pieces squares each channel tile's blocks in runs [0], [1], [2, 3], the runs'
// instructions in that order and all before the loops, so the first matmuls wait
// for one block's squares only. Off: one instruction squares both whole planes.
// PIECES-LABEL: func.func @lrn_pieces
// PIECES:         loop.copy %x <dram 0, {{\[\[}}1600, 24], [38400, 2], [1, 1600]]> -> %[[XT:.*]] <sbuf 0, 0, {{\[\[}}1, 24], [1, 3200]]>
// PIECES-NEXT:    loop.tensor_tensor "mul" %[[SQ:.*]] <sbuf 0, 0, {{\[\[}}1, 24], [1, 400]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 24], [1, 400]]>, %[[XT]]
// PIECES-NEXT:    loop.tensor_tensor "mul" %[[SQ]] <sbuf 0, 6400, {{\[\[}}1, 24], [1, 400]]>
// PIECES-NEXT:    loop.tensor_tensor "mul" %[[SQ]] <sbuf 0, 1600, {{\[\[}}1, 24], [1, 400]]>
// PIECES-NEXT:    loop.tensor_tensor "mul" %[[SQ]] <sbuf 0, 8000, {{\[\[}}1, 24], [1, 400]]>
// PIECES-NEXT:    loop.tensor_tensor "mul" %[[SQ]] <sbuf 0, 3200, {{\[\[}}1, 24], [1, 800]]>
// PIECES-NEXT:    loop.tensor_tensor "mul" %[[SQ]] <sbuf 0, 9600, {{\[\[}}1, 24], [1, 800]]>
// PIECES-NEXT:    loop.for d0 {
// PIECES-NEXT:      loop.for d1 {
// PIECES-NEXT:        loop.for d2 {
// PIECES-NEXT:          loop.matmul %{{.*}}, %[[SQ]] <sbuf 0, 0 + 1600 * i0 + 6400 * i2, {{\[\[}}1, 24], [1, 400]]> {zero_at = 2 : i64}
// WHOLE-LABEL:   func.func @lrn_pieces
// WHOLE:         loop.tensor_tensor "mul" %{{.*}} <sbuf 0, 0, {{\[\[}}1, 24], [1, 3200]]>
// WHOLE-NEXT:    loop.for d0 {
func.func @lrn_pieces(%x: tensor<1x48x40x40xf32>) -> tensor<1x48x40x40xf32> {
  %r = graph.lrn %x {size = 3 : i64, alpha = 3.0e-1 : f32, beta = 0.5 : f32, bias = 2.0 : f32, tidal.origin = "lrn"} : (tensor<1x48x40x40xf32>) -> tensor<1x48x40x40xf32>
  func.return %r : tensor<1x48x40x40xf32>
}
