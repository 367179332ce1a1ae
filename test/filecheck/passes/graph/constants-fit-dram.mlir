// A constant is sized from its type before any pass expands it: a 40000x40000 fill
// (6.4 GB as an array) is refused where it stands, by graph-canonicalize (which folds
// constants; bounded by the largest preset's DRAM) and by graph-to-loop (bounded by
// the chip's), never a MemoryError. Splat `graph.constant`s count the same way.

// RUN: not tidal-opt %s -p graph-canonicalize --split-input-file 2>&1 | filecheck %s --check-prefix=CANON
// RUN: not tidal-opt %s -p 'graph-to-loop{chip=small}' --split-input-file 2>&1 | filecheck %s --check-prefix=LOWER
// RUN: tidal-opt %s -p graph-canonicalize,graph-to-loop --split-input-file --verify-diagnostics | filecheck %s --check-prefix=DIAG

// CANON-NOT: Traceback
// CANON: tidal-opt: error: {{.*}}constants-fit-dram.mlir:14:3: graph-canonicalize: constant 'fill' (graph.constant_of_shape tensor<40000x40000xf32>) needs 6400000000 bytes, more than the 4294967296 bytes of DRAM of the largest chip preset ('default')
// LOWER: tidal-opt: error: {{.*}}constants-fit-dram.mlir:14:3: graph-to-loop: constant 'fill' (graph.constant_of_shape tensor<40000x40000xf32>) needs 6400000000 bytes, more than the 1073741824 bytes of DRAM of chip 'small'
func.func @fill(%x: tensor<40000x40000xf32>) -> tensor<40000x40000xf32> {
  %c = graph.constant_of_shape {value = 1.0 : f32, tidal.origin = "fill"} : tensor<40000x40000xf32>
  %y = graph.add %x, %c {tidal.origin = "add"} : (tensor<40000x40000xf32>, tensor<40000x40000xf32>) -> tensor<40000x40000xf32>
  func.return %y : tensor<40000x40000xf32>
}

// -----

// Each constant fits, together they do not.
// DIAG: graph-canonicalize: constant 'b' (graph.constant_of_shape tensor<30000x30000xf32>) needs 3600000000 bytes (all constants so far: 7200000000 bytes), more than the 4294967296 bytes of DRAM of the largest chip preset ('default')
func.func @two(%x: tensor<30000x30000xf32>) -> tensor<30000x30000xf32> {
  %a = graph.constant_of_shape {value = 1.0 : f32, tidal.origin = "a"} : tensor<30000x30000xf32>
  %b = graph.constant_of_shape {value = 2.0 : f32, tidal.origin = "b"} : tensor<30000x30000xf32>
  %s = graph.add %a, %b {tidal.origin = "s"} : (tensor<30000x30000xf32>, tensor<30000x30000xf32>) -> tensor<30000x30000xf32>
  func.return %s : tensor<30000x30000xf32>
}

// tidal-compile, which checks a model's tensors as it loads it, refuses the 6.4 GB
// input itself first, at the function that takes it.
// RUN: not tidal-compile %s -o %t.tbin 2>&1 | filecheck %s --check-prefix=COMPILE
// COMPILE: tidal-compile: error: {{.*}}constants-fit-dram.mlir:13:1: tensor<40000x40000xf32> takes 6400000000 bytes, more than the 4294967296 bytes of DRAM of the largest chip preset
