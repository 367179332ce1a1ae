// --check-numerics runs the IR after every pass (graph and loop levels with NumPy,
// unified accel programs sequentially, split programs on the hardware model) and
// names the first pass whose outputs disagree with the input module's.

// Both tools run their passes through one driver (passes/pipeline.py): the checker is
// one callback among others, after xdsl-opt's own (verification, and IR printed
// between passes) in tidal-opt, after verification and the placement report in
// tidal-compile.

// RUN: tidal-opt %s -p 'graph-to-loop{chip=small},loop-allocate{chip=small},loop-to-accel,accel-assign-queues,accel-insert-sync,accel-split-streams' --check-numerics -o /dev/null 2>&1 | filecheck %s
// RUN: not TIDAL_TEST_OPT %s -p 'graph-to-loop{chip=small},test-break-numerics,loop-to-accel{chip=small}' --check-numerics 2>&1 | filecheck %s --check-prefix=BROKEN
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small},loop-allocate{chip=small},loop-to-accel' --check-numerics --print-between-passes 2>/dev/null | filecheck %s --check-prefix=BETWEEN
// RUN: tidal-opt %s -p 'tidal-lower{chip=small}' --check-numerics -o /dev/null 2>&1 | filecheck %s --check-prefix=LOWER
// RUN: tidal-compile %s -o %t.tbin --chip small --check-numerics --report 2>&1 | filecheck %s --check-prefix=COMPILE

// CHECK:      numerics: graph level evaluated (reference)
// CHECK-NEXT: numerics: after 'graph-to-loop' (loop level): agrees
// CHECK-NEXT: numerics: after 'loop-allocate' (loop level): agrees
// CHECK-NEXT: numerics: after 'loop-to-accel' (accel level): agrees
// CHECK-NEXT: numerics: after 'accel-assign-queues' (accel level): agrees
// CHECK-NEXT: numerics: after 'accel-insert-sync' (accel level): agrees
// CHECK-NEXT: numerics: after 'accel-split-streams' (binary level): agrees

// BROKEN: tidal-opt: error: numerics: 'test-break-numerics' changed the result: output 'y' max|err|
// BROKEN-SAME: (loop level vs reference)

// BETWEEN:      IR after graph-to-loop:
// BETWEEN:      loop.
// BETWEEN:      accel.program

// LOWER:      numerics: graph level evaluated (reference)
// LOWER-NEXT: numerics: after 'tidal-lower' (binary level): agrees

// The whole pipeline, one line per pass; the placement report is printed after the
// binary is written.
// COMPILE:     numerics: graph level evaluated (reference)
// COMPILE:     numerics: after 'graph-partition' (graph level): agrees
// COMPILE:     numerics: after 'graph-to-loop' (loop level): agrees
// COMPILE:     numerics: after 'accel-split-streams' (binary level): agrees
// COMPILE:     numerics: after 'accel-verify-sync' (binary level): agrees
// COMPILE-NOT: numerics:
// COMPILE:     origin  op          placement  reason
// COMPILE:     add     graph.add   accel
// COMPILE:     relu    graph.relu  accel
// COMPILE:     tidal-compile: wrote

func.func @main(%x: tensor<4x40xf32> {tidal.name = "x"}, %b: tensor<40xf32> {tidal.name = "b"}) -> (tensor<4x40xf32> {tidal.name = "y"}) {
  %s = graph.add %x, %b {tidal.origin = "add"} : (tensor<4x40xf32>, tensor<40xf32>) -> tensor<4x40xf32>
  %r = graph.relu %s {tidal.origin = "relu"} : (tensor<4x40xf32>) -> tensor<4x40xf32>
  func.return %r : tensor<4x40xf32>
}
