// graph.onnx_node (the framework tier) under --check-numerics: its value comes from
// onnxruntime running the node's model; a model onnxruntime cannot load is one error
// line naming the subgraph, not a traceback.

// RUN: tidal-opt %s -p graph-partition --check-numerics -o /dev/null 2>&1 | filecheck %s --allow-empty --check-prefix=OK
// RUN: not tidal-opt %S/Inputs/broken-onnx-node.mlir -p graph-partition --check-numerics 2>&1 | filecheck %s --check-prefix=BROKEN

// OK-NOT: error
// BROKEN: tidal-opt: error: onnxruntime cannot load the framework-tier subgraph of 1 node(s) (Neg): Error parsing message with type 'onnx.ModelProto'
func.func @main(%t: tensor<10x4xf32> {tidal.name = "t"}, %i: tensor<3xi64> {tidal.name = "i"}) -> (tensor<3x4xf32> {tidal.name = "y"}) {
  %g = graph.onnx_node "Gather" %t, %i {inputs = ["table", "ids"], outputs = ["rows"], model = "CAg6dQonCgV0YWJsZQoDaWRzEgRyb3dzIgZHYXRoZXIqCwoEYXhpcxgAoAECEgZHYXRoZXJaFwoFdGFibGUSDgoMCAESCAoCCAoKAggEWhEKA2lkcxIKCggIBxIECgIIA2IWCgRyb3dzEg4KDAgBEggKAggDCgIIBEIECgAQEQ=="} : (tensor<10x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
  %y = graph.relu %g : (tensor<3x4xf32>) -> tensor<3x4xf32>
  func.return %y : tensor<3x4xf32>
}
