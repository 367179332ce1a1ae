// RUN: tidal-opt %s -p 'loop-to-accel' | filecheck %s
// RUN: tidal-opt %s -p 'loop-to-accel,accel-insert-sync,accel-split-streams' -t tbin-listing | filecheck %s --check-prefix=BINARY

// A model input of another element type than f32 (Hugging Face exports keep an
// int64 token_type_ids no node reads) is not in the program's io table, which holds
// f32 tensors; the program names it in tidal.unread_inputs, with its dtype and
// shape, and the binary's metadata carries it (decoded back the same), so that
// tidal-sim checks a feed of it and ignores it, as onnxruntime takes it.

// CHECK:       accel.program "small" dram 192 attributes {tidal.unread_inputs = [{name = "token_type_ids", dtype = "int64", shape = [2 : i64, 3 : i64]}]} {
// CHECK-NEXT:    accel.io input "x" at 0 : tensor<2x3xf32>
// CHECK-NOT:     accel.io input "token_type_ids"
// CHECK:         accel.io output "y" at 128 : tensor<2x3xf32>

// BINARY:      accel.program "small" dram 192 attributes {tidal.unread_inputs = [{name = "token_type_ids", dtype = "int64", shape = [2 : i64, 3 : i64]}]} {
// BINARY-NEXT:   accel.io input "x" at 0 : tensor<2x3xf32>
// BINARY-NEXT:   accel.io output "y" at 128 : tensor<2x3xf32>

builtin.module {
  func.func @main(%x: memref<2x3xf32> {tidal.name = "x", tidal.addr = 0 : i64}, %token_type_ids: memref<2x3xi64> {tidal.name = "token_type_ids", tidal.addr = 64 : i64}) -> (memref<2x3xf32> {tidal.name = "y"}) attributes {tidal.chip = "small", tidal.dram_bytes = 192 : i64} {
    %y = loop.alloc {tidal.addr = 128 : i64} : memref<2x3xf32>
    loop.nest "Relu_0" domain [] order [] {
      %0 = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 6, 1>
      %1 = loop.alloc_tile {tidal.addr = 64 : i64} : !loop.tile<sbuf, 6, 1>
      loop.copy %x <dram 0, [[1, 6], [1, 1]]> -> %0 <sbuf 0, 0, [[1, 6], [1, 1]]> : memref<2x3xf32> -> !loop.tile<sbuf, 6, 1>
      loop.act "relu" %1 <sbuf 0, 0, [[1, 6], [1, 1]]>, %0 <sbuf 0, 0, [[1, 6], [1, 1]]> {scale = 1.000000e+00 : f32, bias = 0.000000e+00 : f32} : !loop.tile<sbuf, 6, 1>, !loop.tile<sbuf, 6, 1>
      loop.copy %1 <sbuf 0, 0, [[1, 6], [1, 1]]> -> %y <dram 0, [[1, 6], [1, 1]]> : !loop.tile<sbuf, 6, 1> -> memref<2x3xf32>
    }
    func.return %y : memref<2x3xf32>
  }
}

