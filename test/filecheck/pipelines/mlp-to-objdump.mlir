// RUN: tidal-opt %s -p 'tidal-lower{chip=small}' -t tbin-listing | filecheck %s
// RUN: tidal-compile %s -o %t.tbin --chip small && tidal-objdump %t.tbin | filecheck %s --check-prefix=OBJDUMP

// A two-layer MLP at graph level (gemm -> relu -> gemm -> softmax, tiny constant
// weights) through the whole pipeline to the binary. The listing is the decoded
// binary: one stream per engine (pe, act, pool, dma0, dma1) with its repeats
// expanded (fc1's K = 64 runs as two matmuls and two pairs of loads), constant
// addresses, the waits of accel-insert-sync that accel-prune-waits keeps, each
// folded into the instruction it holds back (accel-fold-waits: wait_sem, wait_value), a halt
// closing each stream, and the io table with the tidal.name names.

func.func @mlp(%x: tensor<4x64xf32> {tidal.name = "input"}) -> (tensor<4x10xf32> {tidal.name = "probs"}) {
  %w1 = graph.constant dense<0.125> : tensor<32x64xf32> {tidal.origin = "fc1.weight"}
  %b1 = graph.constant dense<0.5> : tensor<32xf32> {tidal.origin = "fc1.bias"}
  %w2 = graph.constant dense<-0.25> : tensor<10x32xf32> {tidal.origin = "fc2.weight"}
  %b2 = graph.constant dense<[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]> : tensor<10xf32> {tidal.origin = "fc2.bias"}
  %h = graph.gemm %x, %w1, %b1 {trans_b = 1 : i64, tidal.origin = "fc1"} : (tensor<4x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<4x32xf32>
  %r = graph.relu %h {tidal.origin = "relu1"} : (tensor<4x32xf32>) -> tensor<4x32xf32>
  %l = graph.gemm %r, %w2, %b2 {trans_b = 1 : i64, tidal.origin = "fc2"} : (tensor<4x32xf32>, tensor<10x32xf32>, tensor<10xf32>) -> tensor<4x10xf32>
  %p = graph.softmax %l {axis = 1 : i64, tidal.origin = "softmax"} : (tensor<4x10xf32>) -> tensor<4x10xf32>
  func.return %p : tensor<4x10xf32>
}

// The whole listing, line by line: no accel.repeat anywhere, zero_at resolved per
// matmul instance (-1 on the first of an accumulation, absent on the others).
// graph-fuse-epilogue made relu1 fc1's activation (one ACT relu on fc1's result,
// no relu nest); fc1 and fc2 have 4 rows, so their inputs are the stationary
// operand and the weights stream (gemm-orientation); fc1's result stays on chip
// for fc2 (loop-keep-on-chip) and fc2's for the softmax, which reads it where fc2's
// bias add wrote it (sbuf 576: its exp goes to a row of its own, so no copy of the
// row is made), and DRAM holds only the input, the constants and the output. fc2's weights and bias are reserved from the first nest on, at the
// top of the partitions (loop-allocate{fill}: sbuf 65472 and 65408). The weights
// are stored as their loads read them (loop-const-layout): fc1's two K halves one
// after the other (dram 1024 and 5120), each load one run of 32 x 32 elements.
// CHECK-LABEL: accel.program "small" dram 11392 {
// CHECK-NEXT:   accel.io input "input" at 0 : tensor<4x64xf32>
// CHECK-NEXT:   accel.io output "probs" at 11200 : tensor<4x10xf32>
// CHECK-NEXT:   accel.const at 1024 dense<1.250000e-01> : tensor<2048xf32>
// CHECK-NEXT:   accel.const at 9216 dense<5.000000e-01> : tensor<32xf32>
// CHECK-NEXT:   accel.const at 9344 dense<-2.500000e-01> : tensor<320xf32>
// CHECK-NEXT:   accel.const at 10624 dense<[0.000000e+00, 1.000000e-01, 2.000000e-01, 3.000000e-01, 4.000000e-01, 5.000000e-01, 6.000000e-01, 7.000000e-01, 8.000000e-01, 9.000000e-01]> : tensor<10xf32>
// CHECK-NEXT:   accel.stream pe {
// CHECK-NEXT:     accel.matmul <psum 0, 0, {{\[\[}}1, 4], [1, 32]]>, <sbuf 0, 0, {{\[\[}}1, 32], [1, 4]]>, <sbuf 0, 64, {{\[\[}}1, 32], [1, 32]]> {zero_at = -1 : i64, signal = 0 : i64, origin = "fc1", wait_sem = 3 : i64, wait_value = #accel.aff<2>}
// CHECK-NEXT:     accel.matmul <psum 0, 0, {{\[\[}}1, 4], [1, 32]]>, <sbuf 0, 16, {{\[\[}}1, 32], [1, 4]]>, <sbuf 0, 192, {{\[\[}}1, 32], [1, 32]]> {signal = 0 : i64, origin = "fc1", wait_sem = 3 : i64, wait_value = #accel.aff<3>}
// CHECK-NEXT:     accel.matmul <psum 0, 128, {{\[\[}}1, 4], [1, 10]]>, <sbuf 0, 640, {{\[\[}}1, 32], [1, 4]]>, <sbuf 0, 65472, {{\[\[}}1, 32], [1, 10]]> {zero_at = -1 : i64, signal = 0 : i64, origin = "fc2", wait_sem = 3 : i64, wait_value = #accel.aff<5>}
// CHECK-NEXT:     accel.halt pe
// CHECK-NEXT:   }
// CHECK-NEXT:   accel.stream act {
// CHECK-NEXT:     accel.act relu <sbuf 0, 320, {{\[\[}}1, 4], [1, 32]]>, <sbuf 0, 320, {{\[\[}}1, 4], [1, 32]]> {signal = 1 : i64, origin = "fc1", wait_sem = 2 : i64, wait_value = #accel.aff<1>}
// CHECK-NEXT:     accel.act identity <sbuf 0, 64, {{\[\[}}1, 4], [1, 1]]>, <sbuf 0, 0, {{\[\[}}1, 4], [1, 1]]> scale -1.0 {origin = "softmax", wait_sem = 2 : i64, wait_value = #accel.aff<3>}
// CHECK-NEXT:     accel.act exp <sbuf 0, 256, {{\[\[}}1, 4], [1, 10]]>, <sbuf 0, 576, {{\[\[}}1, 4], [1, 10]]> bias <sbuf 0, 64, {{\[\[}}1, 4], [1, 1]]> {signal = 1 : i64, origin = "softmax"}
// CHECK-NEXT:     accel.act reciprocal <sbuf 0, 192, {{\[\[}}1, 4], [1, 1]]>, <sbuf 0, 128, {{\[\[}}1, 4], [1, 1]]> {origin = "softmax", wait_sem = 2 : i64, wait_value = #accel.aff<4>}
// CHECK-NEXT:     accel.act identity <sbuf 0, 256, {{\[\[}}1, 4], [1, 10]]>, <sbuf 0, 256, {{\[\[}}1, 4], [1, 10]]> scale <sbuf 0, 192, {{\[\[}}1, 4], [1, 1]]> {signal = 1 : i64, origin = "softmax"}
// CHECK-NEXT:     accel.halt act
// CHECK-NEXT:   }
// CHECK-NEXT:   accel.stream pool {
// CHECK-NEXT:     accel.tensor_tensor add <sbuf 0, 320, {{\[\[}}1, 4], [1, 32]]>, <psum 0, 0, {{\[\[}}1, 4], [1, 32]]>, <sbuf 0, 448, {{\[\[}}1, 4], [1, 32]]> {signal = 2 : i64, origin = "fc1", wait_sem = 0 : i64, wait_value = #accel.aff<2>}
// CHECK-NEXT:     accel.tensor_tensor add <sbuf 0, 576, {{\[\[}}1, 4], [1, 10]]>, <psum 0, 128, {{\[\[}}1, 4], [1, 10]]>, <sbuf 0, 65408, {{\[\[}}1, 4], [1, 10]]> {signal = 2 : i64, origin = "fc2", wait_sem = 0 : i64, wait_value = #accel.aff<3>}
// CHECK-NEXT:     accel.reduce max <sbuf 0, 0, {{\[\[}}1, 4], [1, 1]]>, <sbuf 0, 576, {{\[\[}}1, 4], [1, 10]]> over 1 {signal = 2 : i64, origin = "softmax"}
// CHECK-NEXT:     accel.reduce add <sbuf 0, 128, {{\[\[}}1, 4], [1, 1]]>, <sbuf 0, 256, {{\[\[}}1, 4], [1, 10]]> over 1 {signal = 2 : i64, origin = "softmax", wait_sem = 1 : i64, wait_value = #accel.aff<2>}
// CHECK-NEXT:     accel.halt pool
// CHECK-NEXT:   }
// CHECK-NEXT:   accel.stream dma0 {
// CHECK-NEXT:     accel.dma 0 <dram 9216, {{\[\[}}0, 4], [1, 32]]> -> <sbuf 0, 448, {{\[\[}}1, 4], [1, 32]]> {signal = 3 : i64, origin = "fc1"}
// CHECK-NEXT:     accel.dma 0 <dram 1024, {{\[\[}}32, 32], [1, 32]]> -> <sbuf 0, 64, {{\[\[}}1, 32], [1, 32]]> {origin = "fc1"}
// CHECK-NEXT:     accel.dma 0 <dram 0, {{\[\[}}1, 32], [32, 2], [64, 4]]> -> <sbuf 0, 0, {{\[\[}}1, 32], [1, 8]]> {signal = 3 : i64, origin = "fc1"}
// CHECK-NEXT:     accel.dma 0 <dram 5120, {{\[\[}}32, 32], [1, 32]]> -> <sbuf 0, 192, {{\[\[}}1, 32], [1, 32]]> {signal = 3 : i64, origin = "fc1"}
// CHECK-NEXT:     accel.dma 0 <dram 10624, {{\[\[}}0, 4], [1, 10]]> -> <sbuf 0, 65408, {{\[\[}}1, 4], [1, 10]]> {signal = 3 : i64, origin = "fc2"}
// CHECK-NEXT:     accel.dma 0 <dram 10688, {{\[\[}}1, 32], [32, 1], [32, 4]]> -> <sbuf 0, 640, {{\[\[}}1, 32], [1, 4]]> {origin = "fc2", wait_sem = 4 : i64, wait_value = #accel.aff<1>}
// CHECK-NEXT:     accel.dma 0 <dram 9344, {{\[\[}}10, 32], [1, 10]]> -> <sbuf 0, 65472, {{\[\[}}1, 32], [1, 10]]> {signal = 3 : i64, origin = "fc2"}
// CHECK-NEXT:     accel.halt dma0
// CHECK-NEXT:   }
// CHECK-NEXT:   accel.stream dma1 {
// CHECK-NEXT:     accel.dma 1 <sbuf 0, 320, {{\[\[}}1, 4], [1, 32]]> -> <dram 10688, {{\[\[}}32, 4], [1, 32]]> {signal = 4 : i64, origin = "fc1", wait_sem = 1 : i64, wait_value = #accel.aff<1>}
// CHECK-NEXT:     accel.dma 1 <sbuf 0, 256, {{\[\[}}1, 4], [1, 10]]> -> <dram 11200, {{\[\[}}10, 4], [1, 10]]> {origin = "softmax", wait_sem = 1 : i64, wait_value = #accel.aff<3>}
// CHECK-NEXT:     accel.halt dma1
// CHECK-NEXT:   }
// CHECK-NEXT: }

// The binary written by tidal-compile decodes to the same program, line by line.
// OBJDUMP-LABEL: accel.program "small" dram 11392 {
// OBJDUMP-NEXT:   accel.io input "input" at 0 : tensor<4x64xf32>
// OBJDUMP-NEXT:   accel.io output "probs" at 11200 : tensor<4x10xf32>
// OBJDUMP-NEXT:   accel.const at 1024 dense<1.250000e-01> : tensor<2048xf32>
// OBJDUMP-NEXT:   accel.const at 9216 dense<5.000000e-01> : tensor<32xf32>
// OBJDUMP-NEXT:   accel.const at 9344 dense<-2.500000e-01> : tensor<320xf32>
// OBJDUMP-NEXT:   accel.const at 10624 dense<[0.000000e+00, 1.000000e-01, 2.000000e-01, 3.000000e-01, 4.000000e-01, 5.000000e-01, 6.000000e-01, 7.000000e-01, 8.000000e-01, 9.000000e-01]> : tensor<10xf32>
// OBJDUMP-NEXT:   accel.stream pe {
// OBJDUMP-NEXT:     accel.matmul <psum 0, 0, {{\[\[}}1, 4], [1, 32]]>, <sbuf 0, 0, {{\[\[}}1, 32], [1, 4]]>, <sbuf 0, 64, {{\[\[}}1, 32], [1, 32]]> {zero_at = -1 : i64, signal = 0 : i64, origin = "fc1", wait_sem = 3 : i64, wait_value = #accel.aff<2>}
// OBJDUMP-NEXT:     accel.matmul <psum 0, 0, {{\[\[}}1, 4], [1, 32]]>, <sbuf 0, 16, {{\[\[}}1, 32], [1, 4]]>, <sbuf 0, 192, {{\[\[}}1, 32], [1, 32]]> {signal = 0 : i64, origin = "fc1", wait_sem = 3 : i64, wait_value = #accel.aff<3>}
// OBJDUMP-NEXT:     accel.matmul <psum 0, 128, {{\[\[}}1, 4], [1, 10]]>, <sbuf 0, 640, {{\[\[}}1, 32], [1, 4]]>, <sbuf 0, 65472, {{\[\[}}1, 32], [1, 10]]> {zero_at = -1 : i64, signal = 0 : i64, origin = "fc2", wait_sem = 3 : i64, wait_value = #accel.aff<5>}
// OBJDUMP-NEXT:     accel.halt pe
// OBJDUMP-NEXT:   }
// OBJDUMP-NEXT:   accel.stream act {
// OBJDUMP-NEXT:     accel.act relu <sbuf 0, 320, {{\[\[}}1, 4], [1, 32]]>, <sbuf 0, 320, {{\[\[}}1, 4], [1, 32]]> {signal = 1 : i64, origin = "fc1", wait_sem = 2 : i64, wait_value = #accel.aff<1>}
// OBJDUMP-NEXT:     accel.act identity <sbuf 0, 64, {{\[\[}}1, 4], [1, 1]]>, <sbuf 0, 0, {{\[\[}}1, 4], [1, 1]]> scale -1.0 {origin = "softmax", wait_sem = 2 : i64, wait_value = #accel.aff<3>}
// OBJDUMP-NEXT:     accel.act exp <sbuf 0, 256, {{\[\[}}1, 4], [1, 10]]>, <sbuf 0, 576, {{\[\[}}1, 4], [1, 10]]> bias <sbuf 0, 64, {{\[\[}}1, 4], [1, 1]]> {signal = 1 : i64, origin = "softmax"}
// OBJDUMP-NEXT:     accel.act reciprocal <sbuf 0, 192, {{\[\[}}1, 4], [1, 1]]>, <sbuf 0, 128, {{\[\[}}1, 4], [1, 1]]> {origin = "softmax", wait_sem = 2 : i64, wait_value = #accel.aff<4>}
// OBJDUMP-NEXT:     accel.act identity <sbuf 0, 256, {{\[\[}}1, 4], [1, 10]]>, <sbuf 0, 256, {{\[\[}}1, 4], [1, 10]]> scale <sbuf 0, 192, {{\[\[}}1, 4], [1, 1]]> {signal = 1 : i64, origin = "softmax"}
// OBJDUMP-NEXT:     accel.halt act
// OBJDUMP-NEXT:   }
// OBJDUMP-NEXT:   accel.stream pool {
// OBJDUMP-NEXT:     accel.tensor_tensor add <sbuf 0, 320, {{\[\[}}1, 4], [1, 32]]>, <psum 0, 0, {{\[\[}}1, 4], [1, 32]]>, <sbuf 0, 448, {{\[\[}}1, 4], [1, 32]]> {signal = 2 : i64, origin = "fc1", wait_sem = 0 : i64, wait_value = #accel.aff<2>}
// OBJDUMP-NEXT:     accel.tensor_tensor add <sbuf 0, 576, {{\[\[}}1, 4], [1, 10]]>, <psum 0, 128, {{\[\[}}1, 4], [1, 10]]>, <sbuf 0, 65408, {{\[\[}}1, 4], [1, 10]]> {signal = 2 : i64, origin = "fc2", wait_sem = 0 : i64, wait_value = #accel.aff<3>}
// OBJDUMP-NEXT:     accel.reduce max <sbuf 0, 0, {{\[\[}}1, 4], [1, 1]]>, <sbuf 0, 576, {{\[\[}}1, 4], [1, 10]]> over 1 {signal = 2 : i64, origin = "softmax"}
// OBJDUMP-NEXT:     accel.reduce add <sbuf 0, 128, {{\[\[}}1, 4], [1, 1]]>, <sbuf 0, 256, {{\[\[}}1, 4], [1, 10]]> over 1 {signal = 2 : i64, origin = "softmax", wait_sem = 1 : i64, wait_value = #accel.aff<2>}
// OBJDUMP-NEXT:     accel.halt pool
// OBJDUMP-NEXT:   }
// OBJDUMP-NEXT:   accel.stream dma0 {
// OBJDUMP-NEXT:     accel.dma 0 <dram 9216, {{\[\[}}0, 4], [1, 32]]> -> <sbuf 0, 448, {{\[\[}}1, 4], [1, 32]]> {signal = 3 : i64, origin = "fc1"}
// OBJDUMP-NEXT:     accel.dma 0 <dram 1024, {{\[\[}}32, 32], [1, 32]]> -> <sbuf 0, 64, {{\[\[}}1, 32], [1, 32]]> {origin = "fc1"}
// OBJDUMP-NEXT:     accel.dma 0 <dram 0, {{\[\[}}1, 32], [32, 2], [64, 4]]> -> <sbuf 0, 0, {{\[\[}}1, 32], [1, 8]]> {signal = 3 : i64, origin = "fc1"}
// OBJDUMP-NEXT:     accel.dma 0 <dram 5120, {{\[\[}}32, 32], [1, 32]]> -> <sbuf 0, 192, {{\[\[}}1, 32], [1, 32]]> {signal = 3 : i64, origin = "fc1"}
// OBJDUMP-NEXT:     accel.dma 0 <dram 10624, {{\[\[}}0, 4], [1, 10]]> -> <sbuf 0, 65408, {{\[\[}}1, 4], [1, 10]]> {signal = 3 : i64, origin = "fc2"}
// OBJDUMP-NEXT:     accel.dma 0 <dram 10688, {{\[\[}}1, 32], [32, 1], [32, 4]]> -> <sbuf 0, 640, {{\[\[}}1, 32], [1, 4]]> {origin = "fc2", wait_sem = 4 : i64, wait_value = #accel.aff<1>}
// OBJDUMP-NEXT:     accel.dma 0 <dram 9344, {{\[\[}}10, 32], [1, 10]]> -> <sbuf 0, 65472, {{\[\[}}1, 32], [1, 10]]> {signal = 3 : i64, origin = "fc2"}
// OBJDUMP-NEXT:     accel.halt dma0
// OBJDUMP-NEXT:   }
// OBJDUMP-NEXT:   accel.stream dma1 {
// OBJDUMP-NEXT:     accel.dma 1 <sbuf 0, 320, {{\[\[}}1, 4], [1, 32]]> -> <dram 10688, {{\[\[}}32, 4], [1, 32]]> {signal = 4 : i64, origin = "fc1", wait_sem = 1 : i64, wait_value = #accel.aff<1>}
// OBJDUMP-NEXT:     accel.dma 1 <sbuf 0, 256, {{\[\[}}1, 4], [1, 10]]> -> <dram 11200, {{\[\[}}10, 4], [1, 10]]> {origin = "softmax", wait_sem = 1 : i64, wait_value = #accel.aff<3>}
// OBJDUMP-NEXT:     accel.halt dma1
// OBJDUMP-NEXT:   }
// OBJDUMP-NEXT: }
