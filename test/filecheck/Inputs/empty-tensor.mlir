func.func @main(%x: tensor<0x8xf32> {tidal.name = "x"}) -> (tensor<0x8xf32> {tidal.name = "y"}) {
  %y = graph.relu %x : (tensor<0x8xf32>) -> tensor<0x8xf32>
  func.return %y : tensor<0x8xf32>
}
