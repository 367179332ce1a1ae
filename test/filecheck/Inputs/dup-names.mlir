func.func @main(%x: tensor<4x8xf32> {tidal.name = "x"}, %z: tensor<4x8xf32> {tidal.name = "x"}) -> (tensor<4x8xf32> {tidal.name = "y"}) {
  %y = graph.relu %x : (tensor<4x8xf32>) -> tensor<4x8xf32>
  func.return %y : tensor<4x8xf32>
}
