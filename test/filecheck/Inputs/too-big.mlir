func.func @f(%x: tensor<2x100000xf32>) -> tensor<2x100000xf32> {
  %r = graph.softmax %x {axis = 1 : i64, tidal.origin = "big_softmax"} : (tensor<2x100000xf32>) -> tensor<2x100000xf32>
  func.return %r : tensor<2x100000xf32>
}
