// RUN: tidal-opt %s -p 'graph-to-loop{chip=default}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=default pool_bands_pipeline=false}' | filecheck %s --check-prefix=OFF

// ShuffleNet's stem pool on the default chip: max 3x3 stride 2 pads 1 over 24
// channels of 112x112, banded in place (pool-bands, pool-in-place): 4 bands of 14
// output rows side by side on 96 partitions, each band's own 28 input rows (offset
// 0 of the band tile) and the row above it (a halo tile, -inf for the first band).
// With pool-bands-pipeline (the default) the maxima run in 4 pieces of output rows,
// each after the column maxima of the band rows its windows add, so POOL starts on
// the first rows while the conv before it (conv-bands, writing every band's rows in
// order) still evacuates the rest: output rows 1-3 after input rows 0-7 (column
// maxima rows 1-8, the halo row being row 0: offset 224 = 56 x 4), rows 4-6 after
// input rows 8-13, rows 7-9 after 14-19; the last piece takes input rows 20-27, then
// the halo row, whose maxima output row 0 needs (the band before's last row, which
// the conv writes last), then output rows 10-13. Every band's piece is one
// instruction per tap over all 96 partitions.
// CHECK-LABEL: func.func @bands_pipeline
// CHECK:         %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 96, 3136>
// CHECK-NEXT:    %[[HALO:.*]] = loop.alloc_tile : !loop.tile<sbuf, 96, 112>
// CHECK-NEXT:    %[[COLS:[0-9]+]] = loop.alloc_tile : !loop.tile<sbuf, 96, 1624>
// CHECK-NEXT:    %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 96, 784>
// CHECK-COUNT-7: loop.copy %x
// CHECK-NEXT:    loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 224, {{\[\[}}1, 96], [56, 8], [1, 56]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 96], [112, 8], [2, 56]]>, %[[XT]]
// CHECK-COUNT-2: loop.tensor_tensor "max" %[[COLS]] <sbuf 0, {{224|228}}, {{\[\[}}1, 96], [56, 8],
// CHECK-NEXT:    loop.tensor_tensor "max" %[[OUT]] <sbuf 0, 224, {{\[\[}}1, 96], [56, 3], [1, 56]]>, %[[COLS]] <sbuf 0, 448, {{\[\[}}1, 96], [112, 3], [1, 56]]>, %[[COLS]] <sbuf 0, 672,
// CHECK-NEXT:    loop.tensor_tensor "max" %[[OUT]] <sbuf 0, 224, {{\[\[}}1, 96], [56, 3], [1, 56]]>, %[[OUT]] {{.*}}, %[[COLS]] <sbuf 0, 896,
// CHECK-NEXT:    loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 2016, {{\[\[}}1, 96], [56, 6], [1, 56]]>, %[[XT]] <sbuf 0, 3584, {{\[\[}}1, 96], [112, 6], [2, 56]]>
// CHECK-COUNT-2: loop.tensor_tensor "max" %[[COLS]]
// CHECK-COUNT-2: loop.tensor_tensor "max" %[[OUT]] <sbuf 0, 896, {{\[\[}}1, 96], [56, 3], [1, 56]]>
// CHECK-NEXT:    loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 3360, {{\[\[}}1, 96], [56, 6], [1, 56]]>, %[[XT]] <sbuf 0, 6272,
// CHECK-COUNT-2: loop.tensor_tensor "max" %[[COLS]]
// CHECK-COUNT-2: loop.tensor_tensor "max" %[[OUT]] <sbuf 0, 1568, {{\[\[}}1, 96], [56, 3], [1, 56]]>
// CHECK-NEXT:    loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 4704, {{\[\[}}1, 96], [56, 8], [1, 56]]>, %[[XT]] <sbuf 0, 8960,
// CHECK-COUNT-2: loop.tensor_tensor "max" %[[COLS]] {{.*}}, %[[XT]]
// CHECK-NEXT:    loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 0, {{\[\[}}1, 96], [56, 1], [1, 56]]>, %[[HALO]]
// CHECK-COUNT-2: loop.tensor_tensor "max" %[[COLS]] {{.*}}, %[[HALO]]
// CHECK-COUNT-2: loop.tensor_tensor "max" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 96], [56, 1], [1, 56]]>
// CHECK-COUNT-2: loop.tensor_tensor "max" %[[OUT]] <sbuf 0, 2240, {{\[\[}}1, 96], [56, 4], [1, 56]]>
// CHECK-COUNT-4: loop.copy %[[OUT]]

// Off: the halo rows' column maxima, then every band row's, then every output row's.
// OFF-LABEL: func.func @bands_pipeline
// OFF:         loop.tensor_tensor "max" %[[COLS:[0-9]+]] <sbuf 0, 0, {{\[\[}}1, 96], [56, 1], [1, 56]]>, %[[HALO:[0-9]+]] <sbuf 0, 0,
// OFF-COUNT-2: loop.tensor_tensor "max" %[[COLS]] {{.*}}, %[[HALO]]
// OFF-NEXT:    loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 224, {{\[\[}}1, 96], [56, 28], [1, 56]]>
// OFF-COUNT-2: loop.tensor_tensor "max" %[[COLS]]
// OFF-NEXT:    loop.tensor_tensor "max" %[[OUT:[0-9]+]] <sbuf 0, 0, {{\[\[}}1, 96], [56, 14], [1, 56]]>
// OFF-NEXT:    loop.tensor_tensor "max" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 96], [56, 14], [1, 56]]>
// OFF-NEXT:    loop.copy %[[OUT]]
func.func @bands_pipeline(%x: tensor<1x24x112x112xf32>) -> tensor<1x24x56x56xf32> {
  %y = graph.maxpool %x {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, tidal.origin = "mpp"} : (tensor<1x24x112x112xf32>) -> tensor<1x24x56x56xf32>
  func.return %y : tensor<1x24x56x56xf32>
}
