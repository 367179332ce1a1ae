// RUN: not tidal-opt %s -p 'loop-allocate{chip=small}' --split-input-file 2>&1 | filecheck %s
// RUN: tidal-opt %s -p 'loop-allocate{chip=small}' --split-input-file --verify-diagnostics | filecheck %s --check-prefix=DIAG

// tidal-opt stops at the first failing chunk with a one-line error; with
// --verify-diagnostics it reports every chunk's failure and goes on.

// Two 32 KiB tiles and a 64-byte column exceed the small chip's 64 KiB per
// SBUF partition.
// CHECK-NOT: Traceback
// CHECK: tidal-opt: error: loop-allocate: nest 'big' needs 65600 bytes of SBUF per partition; the chip has 65536 (chip 'small')
// CHECK-NOT: loop-allocate
// DIAG: loop-allocate: nest 'big' needs 65600 bytes of SBUF per partition; the chip has 65536 (chip 'small')
func.func @sbuf(%x: memref<32x8192xf32>) -> memref<32x8192xf32> {
  %y = loop.alloc : memref<32x8192xf32>
  loop.nest "big" domain [] order [] {
    %a = loop.alloc_tile : !loop.tile<sbuf, 32, 8192>
    %b = loop.alloc_tile : !loop.tile<sbuf, 32, 8192>
    %c = loop.alloc_tile : !loop.tile<sbuf, 32, 1>
    loop.copy %x <dram 0, [[8192, 32], [1, 8192]]> -> %a <sbuf 0, 0, [[1, 32], [1, 8192]]> : memref<32x8192xf32> -> !loop.tile<sbuf, 32, 8192>
    loop.act "relu" %b <sbuf 0, 0, [[1, 32], [1, 8192]]>, %a <sbuf 0, 0, [[1, 32], [1, 8192]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 8192>, !loop.tile<sbuf, 32, 8192>
    loop.copy %b <sbuf 0, 0, [[1, 32], [1, 8192]]> -> %y <dram 0, [[8192, 32], [1, 8192]]> : !loop.tile<sbuf, 32, 8192> -> memref<32x8192xf32>
  }
  func.return %y : memref<32x8192xf32>
}

// -----

// An accumulator of 1024 fp32 does not fit one 2 KiB PSUM bank.
// DIAG: loop-allocate: nest 'acc' needs a 4096-byte PSUM accumulator; a bank holds 2048 (chip 'small')
func.func @psum(%x: memref<32x1024xf32>) -> memref<32x1024xf32> {
  %y = loop.alloc : memref<32x1024xf32>
  loop.nest "acc" domain [] order [] {
    %a = loop.alloc_tile : !loop.tile<psum, 32, 1024>
    %b = loop.alloc_tile : !loop.tile<sbuf, 32, 1024>
    loop.act "relu" %b <sbuf 0, 0, [[1, 32], [1, 1024]]>, %a <psum 0, 0, [[1, 32], [1, 1024]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 1024>, !loop.tile<psum, 32, 1024>
    loop.copy %b <sbuf 0, 0, [[1, 32], [1, 1024]]> -> %y <dram 0, [[1024, 32], [1, 1024]]> : !loop.tile<sbuf, 32, 1024> -> memref<32x1024xf32>
  }
  func.return %y : memref<32x1024xf32>
}

// -----

// A 64-partition tile on a 32-partition chip.
// DIAG: loop-allocate: nest 'wide' needs a 64-partition sbuf tile; the chip has 32 partitions (chip 'small')
func.func @parts(%x: memref<64x4xf32>) -> memref<64x4xf32> {
  loop.nest "wide" domain [] order [] {
    %a = loop.alloc_tile : !loop.tile<sbuf, 64, 4>
    loop.copy %x <dram 0, [[4, 64], [1, 4]]> -> %a <sbuf 0, 0, [[1, 64], [1, 4]]> : memref<64x4xf32> -> !loop.tile<sbuf, 64, 4>
  }
  func.return %x : memref<64x4xf32>
}

// -----

// Four 2 KiB accumulators fill the small chip's four PSUM banks; a fifth ends at
// 10240 bytes.
// DIAG: loop-allocate: nest 'banks' needs 10240 bytes of PSUM per partition; the chip has 8192 (chip 'small')
func.func @banks(%x: memref<32x512xf32>) -> memref<32x512xf32> {
  loop.nest "banks" domain [] order [] {
    %a = loop.alloc_tile : !loop.tile<psum, 32, 512>
    %b = loop.alloc_tile : !loop.tile<psum, 32, 512>
    %c = loop.alloc_tile : !loop.tile<psum, 32, 512>
    %d = loop.alloc_tile : !loop.tile<psum, 32, 512>
    %e = loop.alloc_tile : !loop.tile<psum, 32, 512>
  }
  func.return %x : memref<32x512xf32>
}

// -----

// One program is one function: a second is refused where it starts.
// DIAG: loop-allocate: expects one func.func, found 2
func.func @first(%x: memref<4xf32>) -> memref<4xf32> {
  func.return %x : memref<4xf32>
}
func.func @second(%x: memref<4xf32>) -> memref<4xf32> {
  func.return %x : memref<4xf32>
}
