// RUN: tidal-opt %s -p 'graph-to-loop{chip=default}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=default depthwise_bands=false}' | filecheck %s --check-prefix=OFF
// RUN: tidal-opt %s -p 'graph-to-loop{chip=default}' --check-numerics -o /dev/null 2>&1 | filecheck %s --check-prefix=NUM

// MobileNet v2's first depthwise conv: 32 channels at 112x112, too big to stay
// whole in SBUF, runs band by band on ACT and POOL. With depthwise_bands (the
// default) 4 bands of 28 output rows lie side by side on the 128 partitions, band
// b's channels on partitions 32 b onwards: each band loads its own 16 padded input
// rows (28 rows apart: 12,768 bytes) and holds its own copy of the weight and bias
// columns, every ACT and POOL instruction covers all 128 partitions (blocks of 14
// rows), and each band stores its rows: 2 steps instead of 8. Without it, 32 of the
// 128 lanes work.
// CHECK-LABEL: loop.nest "dw" domain [2] order [0]
// CHECK-COUNT-4: loop.copy %w {{.*}} -> %{{.*}} <sbuf {{0|32|64|96}}, 0, {{\[\[}}1, 32], [1, 9]]>
// CHECK:         loop.for d0 {
// CHECK-NEXT:      loop.copy %{{.*}} <dram 0 + 6384 * i0, {{\[\[}}12996, 32], [1, 1824]]> -> %[[X:.*]] <sbuf 0, 0,
// CHECK-NEXT:      loop.copy %{{.*}} <dram 12768 + 6384 * i0, {{\[\[}}12996, 32], [1, 1824]]> -> %[[X]] <sbuf 32, 0,
// CHECK-NEXT:      loop.copy %{{.*}} <dram 25536 + 6384 * i0, {{.*}} -> %[[X]] <sbuf 64, 0,
// CHECK-NEXT:      loop.copy %{{.*}} <dram 38304 + 6384 * i0, {{.*}} -> %[[X]] <sbuf 96, 0,
// CHECK-NEXT:      loop.act "identity" %[[S:.*]] <sbuf 0, 0, {{\[\[}}1, 128], [1, 1568]]>, %[[X]] <sbuf 0, 0, {{\[\[}}1, 128], [114, 14], [1, 112]]>
// CHECK-COUNT-8:   loop.tensor_tensor "add" %[[S]] <sbuf 0, 0, {{\[\[}}1, 128], [1, 1568]]>
// CHECK-NEXT:      loop.copy %[[S]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 1568]]> -> %y <dram 0 + 6272 * i0,
// CHECK-NEXT:      loop.copy %[[S]] <sbuf 32, 0, {{\[\[}}1, 32], [1, 1568]]> -> %y <dram 12544 + 6272 * i0,
// CHECK-NEXT:      loop.copy %[[S]] <sbuf 64, 0,
// CHECK-NEXT:      loop.copy %[[S]] <sbuf 96, 0,
// CHECK-NEXT:    }
// OFF-LABEL: loop.nest "dw" domain [7] order [0]
// OFF:         loop.act "identity" %{{.*}} <sbuf 0, 0, {{\[\[}}1, 32], [1, 1792]]>
// NUM-COUNT-1: agrees
func.func @depthwise(%x: tensor<1x32x112x112xf32>) -> tensor<1x32x112x112xf32> {
  %w = graph.constant dense<0.125> : tensor<32x1x3x3xf32>
  %b = graph.constant dense<0.5> : tensor<32xf32>
  %y = graph.conv2d %x, %w, %b {group = 32 : i64, pads = array<i64: 1, 1, 1, 1>, tidal.origin = "dw"} : (tensor<1x32x112x112xf32>, tensor<32x1x3x3xf32>, tensor<32xf32>) -> tensor<1x32x112x112xf32>
  func.return %y : tensor<1x32x112x112xf32>
}
