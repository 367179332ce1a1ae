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
    // CHECK: loop.random %{{.*}} <sbuf 0, 0, {{\[\[}}1, 16], [1, 8]]> seed 7 low -1.000000e+00 : f32 high 2.000000e+00 : f32 : !loop.tile<sbuf, 16, 8>
    loop.random %o <sbuf 0, 0, [[1, 16], [1, 8]]> seed 7 low -1.0 : f32 high 2.0 : f32 : !loop.tile<sbuf, 16, 8>
    // CHECK: loop.dropout %{{.*}} <sbuf 0, 0, {{\[\[}}1, 16], [1, 8]]>, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 16], [1, 8]]> seed -3 ratio 2.500000e-01 : f32 : !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>
    loop.dropout %o <sbuf 0, 0, [[1, 16], [1, 8]]>, %o <sbuf 0, 0, [[1, 16], [1, 8]]> seed -3 ratio 0.25 : f32 : !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>
    // CHECK: loop.bernoulli %{{.*}} <sbuf 0, 0, {{\[\[}}1, 16], [1, 8]]>, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 16], [1, 8]]> seed 2 : !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>
    loop.bernoulli %o <sbuf 0, 0, [[1, 16], [1, 8]]>, %o <sbuf 0, 0, [[1, 16], [1, 8]]> seed 2 : !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>
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
    // A scale column: o = o * c + o in one POOL instruction.
    // CHECK: loop.tensor_tensor "add" %{{.*}} <sbuf 0, 0, {{\[\[}}1, 16], [1, 8]]>, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 16], [1, 8]]>, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 16], [1, 8]]> scale(%{{.*}} : !loop.tile<sbuf, 16, 1>) <sbuf 0, 0, {{\[\[}}1, 16], [1, 1]]> : !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>
    loop.tensor_tensor "add" %o <sbuf 0, 0, [[1, 16], [1, 8]]>, %o <sbuf 0, 0, [[1, 16], [1, 8]]>, %o <sbuf 0, 0, [[1, 16], [1, 8]]> scale(%c : !loop.tile<sbuf, 16, 1>) <sbuf 0, 0, [[1, 16], [1, 1]]> : !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>
    // CHECK: loop.reduce "add" %{{.*}} <sbuf 0, 0, {{\[\[}}1, 16], [1, 1]]>, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 16], [1, 8]]> {nreduce = 1 : i64, scale = 2.500000e-01 : f32}
    loop.reduce "add" %c <sbuf 0, 0, [[1, 16], [1, 1]]>, %o <sbuf 0, 0, [[1, 16], [1, 8]]> {nreduce = 1 : i64, scale = 0.25 : f32} : !loop.tile<sbuf, 16, 1>, !loop.tile<sbuf, 16, 8>
    // CHECK: loop.copy %{{.*}} <sbuf 0, 0, {{\[\[}}1, 16], [1, 8]]> -> %[[Y]] <dram 0, {{\[\[}}1, 16], [16, 8]]>
    loop.copy %o <sbuf 0, 0, [[1, 16], [1, 8]]> -> %y <dram 0, [[1, 16], [16, 8]]> : !loop.tile<sbuf, 16, 8> -> memref<8x16xf32>
  }
  func.return %y : memref<8x16xf32>
}

// A tile allocated in the function lives across nests; a nest may hold sibling
// loops, which at one depth iterate the same dimension.
// CHECK-LABEL: func.func @across_nests
func.func @across_nests(%x: memref<32x32xf32>) -> memref<32x32xf32> {
  %y = loop.alloc : memref<32x32xf32>
  // CHECK: %[[KEEP:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
  %keep = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
  // CHECK-NEXT: loop.nest "load" domain [2, 2] order [0, 1] {
  // CHECK-NEXT:   loop.for d0 {
  // CHECK-NEXT:     loop.for d1 {
  // CHECK-NEXT:       loop.copy %{{.*}} <dram 0 + 2048 * i0 + 64 * i1, {{\[\[}}32, 16], [1, 16]]> -> %[[KEEP]] <sbuf 0 + 16 * i0, 0 + 64 * i1, {{\[\[}}1, 16], [1, 16]]>
  // CHECK-NEXT:     }
  // CHECK-NEXT:     loop.for d1 {
  // CHECK-NEXT:       loop.act "exp" %[[KEEP]] <sbuf 0 + 16 * i0, 0 + 64 * i1, {{\[\[}}1, 16], [1, 16]]>, %[[KEEP]]
  // CHECK-NEXT:     }
  // CHECK-NEXT:   }
  // CHECK-NEXT: }
  loop.nest "load" domain [2, 2] order [0, 1] {
    loop.for d0 {
      loop.for d1 {
        loop.copy %x <dram 0 + 2048 * i0 + 64 * i1, [[32, 16], [1, 16]]> -> %keep <sbuf 0 + 16 * i0, 0 + 64 * i1, [[1, 16], [1, 16]]> : memref<32x32xf32> -> !loop.tile<sbuf, 32, 32>
      }
      loop.for d1 {
        loop.act "exp" %keep <sbuf 0 + 16 * i0, 0 + 64 * i1, [[1, 16], [1, 16]]>, %keep <sbuf 0 + 16 * i0, 0 + 64 * i1, [[1, 16], [1, 16]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 32>, !loop.tile<sbuf, 32, 32>
      }
    }
  }
  // CHECK-NEXT: loop.nest "store" domain [2] order [0] {
  // CHECK-NEXT:   loop.for d0 {
  // CHECK-NEXT:     loop.copy %[[KEEP]] <sbuf 0 + 16 * i0, 0, {{\[\[}}1, 16], [1, 32]]> -> %{{.*}} <dram 0 + 2048 * i0, {{\[\[}}32, 16], [1, 32]]>
  // CHECK-NEXT:   }
  // CHECK-NEXT:   loop.for d0 {
  // CHECK-NEXT:   }
  // CHECK-NEXT: }
  loop.nest "store" domain [2] order [0] {
    loop.for d0 {
      loop.copy %keep <sbuf 0 + 16 * i0, 0, [[1, 16], [1, 32]]> -> %y <dram 0 + 2048 * i0, [[32, 16], [1, 32]]> : !loop.tile<sbuf, 32, 32> -> memref<32x32xf32>
    }
    loop.for d0 {
    }
  }
  func.return %y : memref<32x32xf32>
}
