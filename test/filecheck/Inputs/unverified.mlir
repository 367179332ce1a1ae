func.func @f(%x: tensor<4xf32>) -> tensor<5xf32> {
  %r = graph.relu %x : (tensor<4xf32>) -> tensor<5xf32>
  func.return %r : tensor<5xf32>
}
