builtin.module {
  func.func @main(%x: tensor<4x8xf32> {tidal.name = "x"}) -> (tensor<4x8xf32> {tidal.name = "r"}) {
    %r = graph.loop %x {body = @step, max_trips = 8 : i64, reduce = "max", input = "abs_a_minus_b", cmp = "gt", threshold = 1.0e-03 : f32} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    func.return %r : tensor<4x8xf32>
  }
  func.func @step(%v: tensor<4x8xf32>) -> tensor<4x8xf32> {
    %h = graph.activation %v {func = "tanh"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    func.return %h : tensor<4x8xf32>
  }
}
