// RUN: tidal-opt %s -p 'graph-to-loop{chip=small}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small pool_pipeline=false}' | filecheck %s --check-prefix=OFF

// pool-pipeline: a 3x3 stride-2 max pool of 24 channels of 40x40 (padding 1) in
// place on the small chip runs its separable maxima in 4 bands of 5 output rows.
// Band b takes the column maxima of the input rows its windows add (rows 0-9, then
// 10-19, ...: [40, 10] per column tap, the last tap one column short of the right
// edge), then the row maxima of its 5 output rows ([20, 5]; the top row tap from
// row 1 on in the first band, reading row 2 x 5 - 1 = 9 in the others), so a band's
// instructions read no input row below its windows and POOL can start on the first
// rows while the producer writes the rest. One load, one store, as before.
// CHECK-LABEL: func.func @pipe
// CHECK:         %[[X:.*]] = loop.alloc_tile : !loop.tile<sbuf, 24, 1600>
// CHECK-NEXT:    %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 24, 400>
// CHECK-NEXT:    %[[COLS:.*]] = loop.alloc_tile : !loop.tile<sbuf, 24, 800>
// CHECK-NEXT:    loop.copy
// CHECK-NEXT:    loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 0, {{\[\[}}1, 24], [20, 10], [1, 20]]>, %[[X]] <sbuf 0, 0, {{\[\[}}1, 24], [40, 10], [2, 20]]>
// CHECK-NEXT:    loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 0, {{\[\[}}1, 24], [20, 10], [1, 20]]>
// CHECK-NEXT:    loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 4, {{\[\[}}1, 24], [20, 10], [1, 19]]>
// CHECK-NEXT:    loop.tensor_tensor "max" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 24], [20, 5], [1, 20]]>, %[[COLS]] <sbuf 0, 0, {{\[\[}}1, 24], [40, 5], [1, 20]]>
// CHECK-NEXT:    loop.tensor_tensor "max" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 24], [20, 5], [1, 20]]>, %[[OUT]] {{.*}}, %[[COLS]] <sbuf 0, 80, {{\[\[}}1, 24], [40, 5], [1, 20]]>
// CHECK-NEXT:    loop.tensor_tensor "max" %[[OUT]] <sbuf 0, 80, {{\[\[}}1, 24], [20, 4], [1, 20]]>
// CHECK-NEXT:    loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 800, {{\[\[}}1, 24], [20, 10], [1, 20]]>, %[[X]] <sbuf 0, 1600, {{\[\[}}1, 24], [40, 10], [2, 20]]>
// CHECK:         loop.tensor_tensor "max" %[[OUT]] <sbuf 0, 400, {{\[\[}}1, 24], [20, 5], [1, 20]]>, %[[OUT]] {{.*}}, %[[COLS]] <sbuf 0, 720, {{\[\[}}1, 24], [40, 5], [1, 20]]>
// CHECK-NEXT:    loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 1600, {{\[\[}}1, 24], [20, 10], [1, 20]]>
// CHECK:         loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 2400, {{\[\[}}1, 24], [20, 10], [1, 20]]>
// CHECK-COUNT-5: loop.tensor_tensor "max"
// CHECK-NEXT:    loop.copy %[[OUT]]

// Without it: each tap once over the whole plane ([40, 40] column maxima, [20, 20]
// row maxima), six maxima in all.
// OFF-LABEL: func.func @pipe
// OFF:         loop.tensor_tensor "max" %{{.*}} <sbuf 0, 0, {{\[\[}}1, 24], [20, 40], [1, 20]]>
// OFF-COUNT-2: loop.tensor_tensor "max"
// OFF-NEXT:    loop.tensor_tensor "max" %{{.*}} <sbuf 0, 0, {{\[\[}}1, 24], [20, 20], [1, 20]]>
// OFF-COUNT-2: loop.tensor_tensor "max"
// OFF-NEXT:    loop.copy
func.func @pipe(%x: tensor<1x24x40x40xf32>) -> tensor<1x24x20x20xf32> {
  %y = graph.maxpool %x {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, tidal.origin = "mp"} : (tensor<1x24x40x40xf32>) -> tensor<1x24x20x20xf32>
  func.return %y : tensor<1x24x20x20xf32>
}
