// RUN: tidal-opt %s -p 'graph-to-loop{chip=small row_pack=false}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small conv_inplace=false row_pack=false halo_chunks=false}' | filecheck %s --check-prefix=OFF

// A padded 3x3 conv, 24 -> 16 channels on 24x40 pixels, on the small chip (row_pack
// off: conv-row-pack.mlir packs rows in place), in place (conv_inplace): the input tile is the unpadded 24x40 plane, loaded by one
// whole copy (which loop-keep-on-chip replaces by the producer's tile when it keeps
// the input), with no memsets. Each tap runs, per PSUM block of 12 rows, over the
// rectangle of the block's outputs whose 3x3 window lies inside the image, into
// that rectangle of the bank: the centre tap first (every output; it starts both
// accumulations), then tap 0 over rows 1-11 and columns 1-39 of the first block
// (bank offset 41 fp32, the input from pixel (0, 0)) and rows 12-23 of the second
// (bank offset 1, the input from row 11), ..., tap 8 over rows 12-22 of the second
// block, from pixel (13, 1). 18 matmuls, as with the padded plane, each streaming
// only its rectangle.
// CHECK-LABEL: func.func @conv
// CHECK:         loop.nest "conv" domain [] order [] {
// CHECK-NEXT:      %[[A0:.*]] = loop.alloc_tile : !loop.tile<psum, 16, 480>
// CHECK-NEXT:      %[[A1:.*]] = loop.alloc_tile : !loop.tile<psum, 16, 480>
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 24, 960>
// CHECK-NEXT:      %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 24, 144>
// CHECK-NOT:       loop.memset
// CHECK:           loop.copy %{{.*}} <dram 0, {{\[\[}}960, 24], [1, 960]]> -> %[[XT]] <sbuf 0, 0, {{\[\[}}1, 24], [1, 960]]>
// CHECK:           loop.matmul %[[A0]] <psum 0, 0, {{\[\[}}1, 16], [40, 12], [1, 40]]>, %[[WT]] <sbuf 0, 256, {{\[\[}}1, 24], [1, 16]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 24], [40, 12], [1, 40]]> {zero_at = -1 : i64}
// CHECK-NEXT:      loop.matmul %[[A1]] <psum 0, 0, {{\[\[}}1, 16], [40, 12], [1, 40]]>, %[[WT]] <sbuf 0, 256, {{\[\[}}1, 24], [1, 16]]>, %[[XT]] <sbuf 0, 1920, {{\[\[}}1, 24], [40, 12], [1, 40]]> {zero_at = -1 : i64}
// CHECK-NEXT:      loop.matmul %[[A0]] <psum 0, 164, {{\[\[}}1, 16], [40, 11], [1, 39]]>, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 24], [1, 16]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 24], [40, 11], [1, 39]]> :
// CHECK-NEXT:      loop.matmul %[[A1]] <psum 0, 4, {{\[\[}}1, 16], [40, 12], [1, 39]]>, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 24], [1, 16]]>, %[[XT]] <sbuf 0, 1760, {{\[\[}}1, 24], [40, 12], [1, 39]]> :
// CHECK-COUNT-13:  loop.matmul
// CHECK-NEXT:      loop.matmul %[[A1]] <psum 0, 0, {{\[\[}}1, 16], [40, 11], [1, 39]]>, %[[WT]] <sbuf 0, 512, {{\[\[}}1, 24], [1, 16]]>, %[[XT]] <sbuf 0, 2084, {{\[\[}}1, 24], [40, 11], [1, 39]]> :
// CHECK-NEXT:      loop.act "relu"

// Off: the 26x42 padded plane, its borders zeroed by three memsets, the input
// copied into its interior (a copy no forwarding can remove), 18 whole-block matmuls.
// OFF-LABEL: func.func @conv
// OFF:         %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 24, 1092>
// OFF-COUNT-3:   loop.memset %[[XT]]
// OFF-NEXT:      loop.copy %{{.*}} -> %[[XT]] <sbuf 0, 172, {{\[\[}}1, 24], [42, 24], [1, 40]]>
// OFF-COUNT-18:  loop.matmul %{{.*}} <psum 0, 0, {{\[\[}}1, 16], [1, 480]]>
func.func @conv(%x: tensor<1x24x24x40xf32>, %w: tensor<16x24x3x3xf32>, %b: tensor<16xf32>) -> tensor<1x16x24x40xf32> {
  %r = graph.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>, activation = "relu", tidal.origin = "conv"} : (tensor<1x24x24x40xf32>, tensor<16x24x3x3xf32>, tensor<16xf32>) -> tensor<1x16x24x40xf32>
  func.return %r : tensor<1x16x24x40xf32>
}
