// RUN: tidal-opt %s -p 'graph-to-loop{chip=small},loop-keep-on-chip{chip=small}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small read_addend=false},loop-keep-on-chip{chip=small}' | filecheck %s --check-prefix=OFF
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small},loop-keep-on-chip{chip=small}' --check-numerics -o /dev/null 2>&1 | filecheck %s --check-prefix=NUM

// A residual conv (c3 adds c1's output, which stays on chip). read_addend (the
// default): the epilogue's POOL add writes the sum into the output tile and only
// reads the addend's tile, so loop-keep-on-chip lets it read the kept %a itself:
// no copy of the addend into a tile of c3's. With read_addend=false the add
// writes into the addend's tile, which must then be a copy of %a (an SBUF-to-SBUF
// DMA, 1,400 cycles of latency on the default chip).
// CHECK-LABEL:   loop.nest "c3"
// CHECK-NOT:       loop.copy %a
// CHECK:           loop.tensor_tensor "add" %[[OUT:.*]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 36]]>, %{{.*}} <psum 0, 0, {{\[\[}}1, 32], [1, 36]]>, %a <sbuf 0, 0, {{\[\[}}1, 32], [1, 36]]>
// CHECK-NEXT:      loop.act "relu" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 36]]>, %[[OUT]]
// CHECK-NEXT:      loop.copy %[[OUT]]
// OFF-LABEL:     loop.nest "c3"
// OFF:             loop.copy %a <sbuf 0, 0, {{\[\[}}1, 32], [1, 36]]> -> %[[AT:.*]] <sbuf
// OFF:             loop.tensor_tensor "add" %[[AT]] {{.*}}, %[[AT]]
// NUM-COUNT-2: agrees
func.func @residual(%x: tensor<1x32x6x6xf32>) -> tensor<1x32x6x6xf32> {
  %w1 = graph.constant dense<0.25> : tensor<32x32x1x1xf32>
  %w2 = graph.constant dense<0.5> : tensor<32x32x1x1xf32>
  %a = graph.conv2d %x, %w1 {activation = "relu", tidal.origin = "c1"} : (tensor<1x32x6x6xf32>, tensor<32x32x1x1xf32>) -> tensor<1x32x6x6xf32>
  %b = graph.conv2d %a, %w2 {activation = "relu", tidal.origin = "c2"} : (tensor<1x32x6x6xf32>, tensor<32x32x1x1xf32>) -> tensor<1x32x6x6xf32>
  %y = graph.conv2d %b, %w2 addend %a {activation = "relu", tidal.origin = "c3"} : (tensor<1x32x6x6xf32>, tensor<32x32x1x1xf32>, tensor<1x32x6x6xf32>) -> tensor<1x32x6x6xf32>
  func.return %y : tensor<1x32x6x6xf32>
}
