// RUN: tidal-opt %s --split-input-file --parsing-diagnostics | filecheck %s

// Type strings the parser rejects in !graph.onnx_value (ONNX's grammar: seq(T),
// optional(T), map(K,T) over tensor(E), E an ONNX element type).
func.func @f(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %s = graph.onnx_node "Identity" %x {inputs = ["x"], outputs = ["s"], model = ""} : (tensor<4x2xf32>) -> !graph.onnx_value<"tensor(float)">
  func.return %x : tensor<4x2xf32>
}
// CHECK: !graph.onnx_value: 'tensor(float)' is a tensor (a builtin tensor type)

// -----

func.func @f(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %s = graph.onnx_node "SplitToSequence" %x {inputs = ["x"], outputs = ["s"], model = ""} : (tensor<4x2xf32>) -> !graph.onnx_value<"seq(tensor(float32))">
  func.return %x : tensor<4x2xf32>
}
// CHECK: !graph.onnx_value: unknown element type at offset 11 of 'seq(tensor(float32))'

// -----

func.func @f(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %s = graph.onnx_node "SplitToSequence" %x {inputs = ["x"], outputs = ["s"], model = ""} : (tensor<4x2xf32>) -> !graph.onnx_value<"seq(tensor(float)">
  func.return %x : tensor<4x2xf32>
}
// CHECK: !graph.onnx_value: expected ')' at offset 17 of 'seq(tensor(float)'

// -----

func.func @f(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %s = graph.onnx_node "Build" %x {inputs = ["x"], outputs = ["s"], model = ""} : (tensor<4x2xf32>) -> !graph.onnx_value<"map(tensor(int64),tensor(float))">
  func.return %x : tensor<4x2xf32>
}
// CHECK: !graph.onnx_value: unknown map key type at offset 4 of 'map(tensor(int64),tensor(float))'

// -----

func.func @f(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %s = graph.onnx_node "SplitToSequence" %x {inputs = ["x"], outputs = ["s"], model = ""} : (tensor<4x2xf32>) -> !graph.onnx_value<"list(tensor(float))">
  func.return %x : tensor<4x2xf32>
}
// CHECK: !graph.onnx_value: expected tensor(, seq(, optional( or map( at offset 0 of 'list(tensor(float))'

// -----

func.func @f(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %s = graph.onnx_node "SplitToSequence" %x {inputs = ["x"], outputs = ["s"], model = ""} : (tensor<4x2xf32>) -> !graph.onnx_value<"seq(tensor(float))x">
  func.return %x : tensor<4x2xf32>
}
// CHECK: !graph.onnx_value: unexpected 'x' after the type in 'seq(tensor(float))x'
