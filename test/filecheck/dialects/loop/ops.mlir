// RUN: TIDAL_ROUNDTRIP
// RUN: TIDAL_GENERIC_ROUNDTRIP

// CHECK-LABEL: func.func @every_op
func.func @every_op(%x: memref<8x64xf32>) -> memref<8x16xf32> {
  // CHECK: %[[W:.*]] = loop.const dense<5.000000e-01> : tensor<64x16xf32> : memref<64x16xf32>
  %w = loop.const dense<0.5> : tensor<64x16xf32> : memref<64x16xf32>
  // CHECK: %[[Y:.*]] = loop.alloc : memref<8x16xf32>
  %y = loop.alloc : memref<8x16xf32>
  // CHECK: %[[V:.*]] = loop.view %[[Y]] : memref<8x16xf32> -> memref<128xf32>
  %v = loop.view %y : memref<8x16xf32> -> memref<128xf32>
  // CHECK: loop.nest "mm" domain [2] order [0] {
  loop.nest "mm" domain [2] order [0] {
    // CHECK-NEXT: %[[ACC:.*]] = loop.alloc_tile : !loop.tile<psum, 16, 8>
    %acc = loop.alloc_tile : !loop.tile<psum, 16, 8>
    %wt = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    %xt = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %o = loop.alloc_tile : !loop.tile<sbuf, 16, 8>
    %c = loop.alloc_tile : !loop.tile<sbuf, 16, 1>
    // CHECK: loop.memset %{{.*}} <sbuf 0, 0, {{\[\[}}1, 16], [1, 1]]> = 1.000000e+00 : f32 : !loop.tile<sbuf, 16, 1>
    loop.memset %c <sbuf 0, 0, [[1, 16], [1, 1]]> = 1.0 : f32 : !loop.tile<sbuf, 16, 1>
    // CHECK: loop.for d0 {
    loop.for d0 {
      // CHECK-NEXT: loop.copy %[[W]] <dram 0 + 2048 * i0, {{\[\[}}16, 32], [1, 16]]> -> %{{.*}} <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]> : memref<64x16xf32> -> !loop.tile<sbuf, 32, 16>
      loop.copy %w <dram 0 + 2048 * i0, [[16, 32], [1, 16]]> -> %wt <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<64x16xf32> -> !loop.tile<sbuf, 32, 16>
      loop.copy %x <dram 0 + 128 * i0, [[1, 32], [64, 8]]> -> %xt <sbuf 0, 0, [[1, 32], [1, 8]]> : memref<8x64xf32> -> !loop.tile<sbuf, 32, 8>
      // CHECK: loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 16], [1, 8]]>, %{{.*}}, %{{.*}} {zero_at = 0 : i64}
      loop.matmul %acc <psum 0, 0, [[1, 16], [1, 8]]>, %wt <sbuf 0, 0, [[1, 32], [1, 16]]>, %xt <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = 0 : i64} : !loop.tile<psum, 16, 8>, !loop.tile<sbuf, 32, 16>, !loop.tile<sbuf, 32, 8>
    }
    // CHECK: loop.act "relu" %{{.*}} <sbuf 0, 0, {{\[\[}}1, 16], [1, 8]]>, %[[ACC]] <psum 0, 0, {{\[\[}}1, 16], [1, 8]]> scale(%{{.*}} : !loop.tile<sbuf, 16, 1>) <sbuf 0, 0, {{\[\[}}1, 16], [1, 1]]> bias(%{{.*}} : !loop.tile<sbuf, 16, 1>)
    loop.act "relu" %o <sbuf 0, 0, [[1, 16], [1, 8]]>, %acc <psum 0, 0, [[1, 16], [1, 8]]> scale(%c : !loop.tile<sbuf, 16, 1>) <sbuf 0, 0, [[1, 16], [1, 1]]> bias(%c : !loop.tile<sbuf, 16, 1>) <sbuf 0, 0, [[1, 16], [1, 1]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 16, 8>, !loop.tile<psum, 16, 8>
    // The bare spelling of an enum operand parses too and prints quoted.
    // CHECK: loop.act "exp" %{{.*}} <sbuf 0, 0, {{\[\[}}1, 16], [1, 8]]>, %[[ACC]] <psum 0, 0, {{\[\[}}1, 16], [1, 8]]> {scale = 5.000000e-01 : f32, bias = 0.000000e+00 : f32}
    loop.act exp %o <sbuf 0, 0, [[1, 16], [1, 8]]>, %acc <psum 0, 0, [[1, 16], [1, 8]]> {scale = 0.5 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 16, 8>, !loop.tile<psum, 16, 8>
    // CHECK: loop.tensor_tensor "max" %{{.*}} <sbuf 0, 0, {{\[\[}}1, 16], [1, 8]]>, %{{.*}}, %{{.*}}
    loop.tensor_tensor "max" %o <sbuf 0, 0, [[1, 16], [1, 8]]>, %o <sbuf 0, 0, [[1, 16], [1, 8]]>, %o <sbuf 0, 0, [[1, 16], [1, 8]]> : !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>
    // CHECK: loop.reduce "add" %{{.*}} <sbuf 0, 0, {{\[\[}}1, 16], [1, 1]]>, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 16], [1, 8]]> {nreduce = 1 : i64, scale = 2.500000e-01 : f32}
    loop.reduce "add" %c <sbuf 0, 0, [[1, 16], [1, 1]]>, %o <sbuf 0, 0, [[1, 16], [1, 8]]> {nreduce = 1 : i64, scale = 0.25 : f32} : !loop.tile<sbuf, 16, 1>, !loop.tile<sbuf, 16, 8>
    // CHECK: loop.copy %{{.*}} <sbuf 0, 0, {{\[\[}}1, 16], [1, 8]]> -> %[[Y]] <dram 0, {{\[\[}}1, 16], [16, 8]]>
    loop.copy %o <sbuf 0, 0, [[1, 16], [1, 8]]> -> %y <dram 0, [[1, 16], [16, 8]]> : !loop.tile<sbuf, 16, 8> -> memref<8x16xf32>
  }
  func.return %y : memref<8x16xf32>
}
