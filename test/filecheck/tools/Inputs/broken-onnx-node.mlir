func.func @main(%x: tensor<2xf32> {tidal.name = "x"}) -> (tensor<2xf32> {tidal.name = "y"}) {
  %r = graph.onnx_node "Neg" %x {inputs = ["x"], outputs = ["r"], model = "/////w=="} : (tensor<2xf32>) -> tensor<2xf32>
  %y = graph.relu %r : (tensor<2xf32>) -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}
