// --check-numerics runs the IR after every pass (graph and loop levels with NumPy,
// unified accel programs sequentially, split programs on the hardware model) and
// names the first pass whose outputs disagree with the input module's.

// RUN: tidal-opt %s -p 'graph-to-loop{chip=small},loop-to-accel{chip=small},accel-insert-sync,accel-split-streams' --check-numerics -o /dev/null 2>&1 | filecheck %s
// RUN: not TIDAL_TEST_OPT %s -p 'graph-to-loop{chip=small},test-break-numerics,loop-to-accel{chip=small}' --check-numerics 2>&1 | filecheck %s --check-prefix=BROKEN

// CHECK:      numerics: graph level evaluated (reference)
// CHECK-NEXT: numerics: after 'graph-to-loop' (loop level): agrees
// CHECK-NEXT: numerics: after 'loop-to-accel' (accel level): agrees
// CHECK-NEXT: numerics: after 'accel-insert-sync' (accel level): agrees
// CHECK-NEXT: numerics: after 'accel-split-streams' (binary level): agrees

// BROKEN: tidal-opt: error: numerics: 'test-break-numerics' changed the result: output 'y' max|err|
// BROKEN-SAME: (loop level vs reference)

func.func @main(%x: tensor<4x40xf32> {tidal.name = "x"}, %b: tensor<40xf32> {tidal.name = "b"}) -> (tensor<4x40xf32> {tidal.name = "y"}) {
  %s = graph.add %x, %b {tidal.origin = "add"} : (tensor<4x40xf32>, tensor<40xf32>) -> tensor<4x40xf32>
  %r = graph.relu %s {tidal.origin = "relu"} : (tensor<4x40xf32>) -> tensor<4x40xf32>
  func.return %r : tensor<4x40xf32>
}
