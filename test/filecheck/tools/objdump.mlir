// tidal-objdump elides dense constants of more than 16 elements that are not splats,
// as MLIR's --mlir-elide-elementsattrs-if-larger does; --full-constants prints them
// all, and that listing parses back (tidal-opt) to the same constants.

// RUN: tidal-compile %s -o %t.tbin --chip small
// RUN: tidal-objdump %t.tbin | filecheck %s
// RUN: tidal-objdump %t.tbin --full-constants | filecheck %s --check-prefix=FULL
// RUN: tidal-objdump %t.tbin --full-constants | tidal-opt | filecheck %s --check-prefix=FULL

// 32 distinct values: elided; 4 and 16 (the limit): whole; a 32-element splat: one value.
// CHECK:      accel.const at {{[0-9]+}} dense_resource<__elided__> : tensor<32xf32>
// CHECK-NEXT: accel.const at {{[0-9]+}} dense<[5.000000e-01, -5.000000e-01, 2.500000e-01, -2.500000e-01]> : tensor<4xf32>
// CHECK-NEXT: accel.const at {{[0-9]+}} dense<[1.000000e+00, 2.000000e+00, {{.*}}, 1.600000e+01]> : tensor<16xf32>
// CHECK-NEXT: accel.const at {{[0-9]+}} dense<1.250000e-01> : tensor<32xf32>
// CHECK-NOT:  __elided__

// (fc1's weight is stored as the DMA reads it, transposed: loop-const-layout.)
// FULL:      accel.const at {{[0-9]+}} dense<[1.000000e+00, 9.000000e+00, {{.*}}, 2.400000e+01, 3.200000e+01]> : tensor<32xf32>
// FULL-NEXT: accel.const at {{[0-9]+}} dense<[5.000000e-01, -5.000000e-01, 2.500000e-01, -2.500000e-01]> : tensor<4xf32>
// FULL-NEXT: accel.const at {{[0-9]+}} dense<[1.000000e+00, 2.000000e+00, {{.*}}, 1.600000e+01]> : tensor<16xf32>
// FULL-NEXT: accel.const at {{[0-9]+}} dense<1.250000e-01> : tensor<32xf32>
// FULL-NOT:  __elided__

func.func @fc(%x: tensor<4x8xf32> {tidal.name = "x"}) -> (tensor<4x8xf32> {tidal.name = "y"}) {
  %w1 = graph.constant dense<[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0], [17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 23.0, 24.0], [25.0, 26.0, 27.0, 28.0, 29.0, 30.0, 31.0, 32.0]]> : tensor<4x8xf32> {tidal.origin = "fc1.weight"}
  %b1 = graph.constant dense<[0.5, -0.5, 0.25, -0.25]> : tensor<4xf32> {tidal.origin = "fc1.bias"}
  %c = graph.constant dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [9.0, 10.0, 11.0, 12.0], [13.0, 14.0, 15.0, 16.0]]> : tensor<4x4xf32> {tidal.origin = "shift"}
  %w2 = graph.constant dense<0.125> : tensor<8x4xf32> {tidal.origin = "fc2.weight"}
  %h = graph.gemm %x, %w1, %b1 {trans_b = 1 : i64, tidal.origin = "fc1"} : (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<4x4xf32>
  %s = graph.add %h, %c {tidal.origin = "add"} : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  %y = graph.gemm %s, %w2 {trans_b = 1 : i64, tidal.origin = "fc2"} : (tensor<4x4xf32>, tensor<8x4xf32>) -> tensor<4x8xf32>
  func.return %y : tensor<4x8xf32>
}

// The elided listing does not parse back: one line at the first elided constant,
// saying how to get one that does (the message under the caret, not the context
// xDSL prints after it).
// RUN: tidal-objdump %t.tbin > %t.elided.mlir
// RUN: not tidal-opt %t.elided.mlir 2>&1 | filecheck %s --check-prefix=ELIDED
// ELIDED-NOT: ^^^
// ELIDED: tidal-opt: error: {{.*}}.elided.mlir:{{[0-9]+}}:{{[0-9]+}}: expected dense<...> : tensor<...xf32> (tidal-objdump elides large constants; --full-constants prints them)
