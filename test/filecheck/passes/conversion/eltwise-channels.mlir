// RUN: tidal-opt %s -p 'graph-to-loop{chip=default},loop-keep-on-chip{chip=default}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=default eltwise_channels=false},loop-keep-on-chip{chip=default}' | filecheck %s --check-prefix=OFF
// RUN: tidal-opt %s -p 'graph-to-loop{chip=default},loop-keep-on-chip{chip=default}' --check-numerics -o /dev/null 2>&1 | filecheck %s --check-prefix=NUM

// A SiLU (x * sigmoid(x)) between two 1x1 convs, EfficientNet's activation. With
// eltwise_channels (the default) the sigmoid and the multiply lay the 64 channels
// on partitions and each 32x32 plane on the free dim, as the convs do, so
// loop-keep-on-chip keeps %c, %s and %m on chip and forwards them: the nests
// compute from and into the kept tiles, no DRAM. Without it they spread the flat
// tensor over 128 partitions (512 elements each), which fits neither conv's
// copies: %c and %m go through DRAM.
// CHECK-LABEL: func.func @silu
// CHECK-NOT:     = loop.alloc :
// CHECK:         loop.nest "sig"
// CHECK-NEXT:      loop.act "sigmoid" %s <sbuf 0, 0, {{\[\[}}1, 64], [1, 1024]]>, %c <sbuf 0, 0, {{\[\[}}1, 64], [1, 1024]]>
// CHECK:         loop.nest "silu"
// CHECK-NEXT:      loop.tensor_tensor "mul" %m <sbuf 0, 0, {{\[\[}}1, 64], [1, 1024]]>, %c <sbuf 0, 0, {{\[\[}}1, 64], [1, 1024]]>, %s <sbuf 0, 0, {{\[\[}}1, 64], [1, 1024]]>
// CHECK:         %y = loop.alloc : memref<1x64x32x32xf32>
// OFF-LABEL: func.func @silu
// OFF:         %c = loop.alloc : memref<1x64x32x32xf32>
// OFF:         loop.nest "sig"
// OFF:           loop.copy %c <dram 0, {{\[\[}}512, 128], [1, 512]]>
// OFF:         %m = loop.alloc : memref<1x64x32x32xf32>
// NUM-COUNT-2: agrees
func.func @silu(%x: tensor<1x64x32x32xf32>) -> tensor<1x64x32x32xf32> {
  %w = graph.constant dense<0.25> : tensor<64x64x1x1xf32>
  %c = graph.conv2d %x, %w {tidal.origin = "c1"} : (tensor<1x64x32x32xf32>, tensor<64x64x1x1xf32>) -> tensor<1x64x32x32xf32>
  %s = graph.activation %c {func = "sigmoid", tidal.origin = "sig"} : (tensor<1x64x32x32xf32>) -> tensor<1x64x32x32xf32>
  %m = graph.mul %c, %s {tidal.origin = "silu"} : (tensor<1x64x32x32xf32>, tensor<1x64x32x32xf32>) -> tensor<1x64x32x32xf32>
  %y = graph.conv2d %m, %w {tidal.origin = "c2"} : (tensor<1x64x32x32xf32>, tensor<64x64x1x1xf32>) -> tensor<1x64x32x32xf32>
  func.return %y : tensor<1x64x32x32xf32>
}
