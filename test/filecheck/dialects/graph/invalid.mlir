// RUN: TIDAL_VERIFY_DIAG

// Each case breaks one rule of a graph op's verifier.
// Element types and static shapes are checked by every op.

func.func @f(%x: tensor<2x3xf64>) -> tensor<2x3xf32> {
  %r = graph.relu %x : (tensor<2x3xf64>) -> tensor<2x3xf32>
  func.return %r : tensor<2x3xf32>
}
// CHECK: 'graph.relu' op operand 'input' must be a tensor of f32, got tensor<2x3xf64>

// -----

func.func @f(%x: tensor<?x3xf32>, %y: tensor<3x4xf32>) -> tensor<2x4xf32> {
  %r = graph.matmul %x, %y : (tensor<?x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  func.return %r : tensor<2x4xf32>
}
// CHECK: 'graph.matmul' op operand 'lhs' must have a static shape, got tensor<?x3xf32>

// -----

func.func @f(%x: tensor<2x3xf32>) -> tensor<2x3xi32> {
  %r = graph.relu %x : (tensor<2x3xf32>) -> tensor<2x3xi32>
  func.return %r : tensor<2x3xi32>
}
// CHECK: 'graph.relu' op result must be a tensor of f32, got tensor<2x3xi32>

// -----

func.func @f(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %r = graph.relu %x : (tensor<2x3xf32>) -> tensor<3x2xf32>
  func.return %r : tensor<3x2xf32>
}
// CHECK: 'graph.relu' op result shape [3, 2] does not match the inferred shape [2, 3]

// -----
// graph.activation

func.func @f(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %r = graph.activation %x {func = "softsign"} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %r : tensor<2x3xf32>
}
// CHECK: 'graph.activation' op func 'softsign' is not one of: exp, log, reciprocal, sqrt, rsqrt, sigmoid, tanh, erf, softplus, gelu

// -----

func.func @f(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %r = graph.activation %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %r : tensor<2x3xf32>
}
// CHECK: property 'func' expected in operation 'graph.activation'

// -----

func.func @f(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %r = graph.activation %x {func = "tanh"} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  func.return %r : tensor<3x2xf32>
}
// CHECK: 'graph.activation' op result shape [3, 2] does not match the inferred shape [2, 3]

// -----
// graph.constant

%c = graph.constant dense<1> : tensor<2xi32>
// CHECK: 'graph.constant' op value must be a tensor of f32, got tensor<2xi32>

// -----

%c = "graph.constant"() <{value = dense<1.0> : tensor<2xf32>}> : () -> tensor<3xf32>
// CHECK: attribute tensor<3xf32> expected from variable 'T', but got tensor<2xf32>

// -----
// graph.matmul

func.func @f(%x: tensor<2x3x4xf32>, %y: tensor<4x5xf32>) -> tensor<2x5xf32> {
  %r = graph.matmul %x, %y : (tensor<2x3x4xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  func.return %r : tensor<2x5xf32>
}
// CHECK: 'graph.matmul' op lhs and rhs must have one rank of at least 2, got [2, 3, 4] and [4, 5]

// -----

func.func @f(%x: tensor<2x3x4xf32>, %y: tensor<3x4x5xf32>) -> tensor<2x3x5xf32> {
  %r = graph.matmul %x, %y : (tensor<2x3x4xf32>, tensor<3x4x5xf32>) -> tensor<2x3x5xf32>
  func.return %r : tensor<2x3x5xf32>
}
// CHECK: 'graph.matmul' op batch dimensions differ: lhs [2, 3, 4], rhs [3, 4, 5]

// -----

func.func @f(%x: tensor<2x3xf32>, %y: tensor<4x5xf32>) -> tensor<2x5xf32> {
  %r = graph.matmul %x, %y : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  func.return %r : tensor<2x5xf32>
}
// CHECK: 'graph.matmul' op contraction dimensions differ: lhs [2, 3], rhs [4, 5]

// -----

func.func @f(%x: tensor<2x3xf32>, %y: tensor<3x5xf32>) -> tensor<2x6xf32> {
  %r = graph.matmul %x, %y : (tensor<2x3xf32>, tensor<3x5xf32>) -> tensor<2x6xf32>
  func.return %r : tensor<2x6xf32>
}
// CHECK: 'graph.matmul' op result shape [2, 6] does not match the inferred shape [2, 5]

// -----
// graph.gemm

func.func @f(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  %r = graph.gemm %a, %b {trans_a = 2 : i64} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  func.return %r : tensor<2x4xf32>
}
// CHECK: 'graph.gemm' op trans_a must be 0 or 1, got 2

// -----

func.func @f(%a: tensor<3xf32>, %b: tensor<3x4xf32>) -> tensor<1x4xf32> {
  %r = graph.gemm %a, %b : (tensor<3xf32>, tensor<3x4xf32>) -> tensor<1x4xf32>
  func.return %r : tensor<1x4xf32>
}
// CHECK: 'graph.gemm' op a must have rank 2, got shape [3]

// -----

func.func @f(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  %r = graph.gemm %a, %b {trans_b = 1 : i64} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  func.return %r : tensor<2x4xf32>
}
// CHECK: 'graph.gemm' op contraction dimensions differ: a [2, 3] (trans_a=0), b [3, 4] (trans_b=1)

// -----

func.func @f(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>, %c: tensor<2xf32>) -> tensor<2x4xf32> {
  %r = graph.gemm %a, %b, %c : (tensor<2x3xf32>, tensor<3x4xf32>, tensor<2xf32>) -> tensor<2x4xf32>
  func.return %r : tensor<2x4xf32>
}
// CHECK: 'graph.gemm' op c of shape [2] is not broadcastable to [2, 4]

// -----

func.func @f(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<4x2xf32> {
  %r = graph.gemm %a, %b : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<4x2xf32>
  func.return %r : tensor<4x2xf32>
}
// CHECK: 'graph.gemm' op result shape [4, 2] does not match the inferred shape [2, 4]

// -----

func.func @f(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  %r = graph.gemm %a, %b {alpha = 1.0 : f64} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  func.return %r : tensor<2x4xf32>
}
// CHECK: f64 should be of base attribute f32

// -----
// graph.conv2d's and graph.gemm's fused epilogue

func.func @f(%x: tensor<1x8x4x4xf32>, %w: tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32> {
  %r = graph.conv2d %x, %w {activation = "tanh"} : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32>
  func.return %r : tensor<1x8x4x4xf32>
}
// CHECK: 'graph.conv2d' op activation 'tanh' is not one of: relu, clip01

// -----

func.func @f(%x: tensor<1x8x4x4xf32>, %w: tensor<8x8x1x1xf32>, %s: tensor<1x8x2x2xf32>) -> tensor<1x8x4x4xf32> {
  %r = graph.conv2d %x, %w addend %s : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>, tensor<1x8x2x2xf32>) -> tensor<1x8x4x4xf32>
  func.return %r : tensor<1x8x4x4xf32>
}
// CHECK: 'graph.conv2d' op addend shape [1, 8, 2, 2] must be the result's [1, 8, 4, 4]

// -----

func.func @f(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  %r = graph.gemm %a, %b {activation = "exp"} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  func.return %r : tensor<2x4xf32>
}
// CHECK: 'graph.gemm' op activation 'exp' is not one of: relu, clip01

// -----
// graph.conv2d

func.func @f(%x: tensor<3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %r = graph.conv2d %x, %w : (tensor<3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: 'graph.conv2d' op input must have rank 4, got shape [3, 8, 8]

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %r = graph.conv2d %x, %w : (tensor<1x3x8x8xf32>, tensor<4x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: 'graph.conv2d' op weight must have rank 4, got shape [4, 3, 3]

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %r = graph.conv2d %x, %w {strides = array<i64: 1, 1, 1>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: 'graph.conv2d' op strides must have 2 elements, got 3

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %r = graph.conv2d %x, %w {pads = array<i64: 1, 1>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: 'graph.conv2d' op pads must have 4 elements, got 2

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %r = graph.conv2d %x, %w {strides = array<i64: 0, 1>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: 'graph.conv2d' op strides must be positive, got [0, 1]

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %r = graph.conv2d %x, %w {pads = array<i64: 0, -1, 0, 1>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: 'graph.conv2d' op pads must be non-negative, got [0, -1, 0, 1]

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %r = graph.conv2d %x, %w {dilations = array<i64: 1>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: 'graph.conv2d' op dilations must have 2 elements, got 1

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %r = graph.conv2d %x, %w {dilations = array<i64: 1, 0>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: 'graph.conv2d' op dilations must be positive, got [1, 0]

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x1x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %r = graph.conv2d %x, %w {group = 2 : i64} : (tensor<1x3x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: 'graph.conv2d' op group 2 must be positive and divide the input channels (3) and output channels (4)

// -----

func.func @f(%x: tensor<1x4x8x8xf32>, %w: tensor<4x4x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %r = graph.conv2d %x, %w {group = 2 : i64} : (tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: 'graph.conv2d' op weight [4, 4, 3, 3] expects 8 input channels (group 2), input [1, 4, 8, 8] has 4

// -----

func.func @f(%x: tensor<1x8x4x4xf32>, %w: tensor<6x8x1x1xf32>) -> tensor<1x6x4x4xf32> {
  %r = graph.conv2d %x, %w {interleave = 2 : i64} : (tensor<1x8x4x4xf32>, tensor<6x8x1x1xf32>) -> tensor<1x6x4x4xf32>
  func.return %r : tensor<1x6x4x4xf32>
}
// CHECK: 'graph.conv2d' op interleave 2 must be 0, or, with more than one group, a positive divisor of the group's input channels (8)

// -----

func.func @f(%x: tensor<1x8x4x4xf32>, %w: tensor<6x4x1x1xf32>) -> tensor<1x6x4x4xf32> {
  %r = graph.conv2d %x, %w {group = 2 : i64, interleave = 3 : i64} : (tensor<1x8x4x4xf32>, tensor<6x4x1x1xf32>) -> tensor<1x6x4x4xf32>
  func.return %r : tensor<1x6x4x4xf32>
}
// CHECK: 'graph.conv2d' op interleave 3 must be 0, or, with more than one group, a positive divisor of the group's input channels (4)

// -----

func.func @f(%x: tensor<1x8x4x4xf32>, %w: tensor<6x4x1x1xf32>) -> tensor<1x6x4x4xf32> {
  %r = graph.conv2d %x, %w {group = 2 : i64, interleave = -1 : i64} : (tensor<1x8x4x4xf32>, tensor<6x4x1x1xf32>) -> tensor<1x6x4x4xf32>
  func.return %r : tensor<1x6x4x4xf32>
}
// CHECK: 'graph.conv2d' op interleave -1 must be 0, or, with more than one group, a positive divisor of the group's input channels (4)

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<3xf32>) -> tensor<1x4x6x6xf32> {
  %r = graph.conv2d %x, %w, %b : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<3xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: 'graph.conv2d' op bias must have shape [4], got [3]

// -----

func.func @f(%x: tensor<1x3x2x2xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x1x1xf32> {
  %r = graph.conv2d %x, %w : (tensor<1x3x2x2xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x1x1xf32>
  func.return %r : tensor<1x4x1x1xf32>
}
// CHECK: 'graph.conv2d' op the window does not fit: input [1, 3, 2, 2], weight [4, 3, 3, 3]

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32> {
  %r = graph.conv2d %x, %w : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>
  func.return %r : tensor<1x4x8x8xf32>
}
// CHECK: 'graph.conv2d' op result shape [1, 4, 8, 8] does not match the inferred shape [1, 4, 6, 6]

// -----
// graph.add, graph.mul

func.func @f(%x: tensor<2x3xf32>, %y: tensor<4xf32>) -> tensor<2x3xf32> {
  %r = graph.add %x, %y : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  func.return %r : tensor<2x3xf32>
}
// CHECK: 'graph.add' op operand shapes [2, 3] and [4] are not broadcastable

// -----

func.func @f(%x: tensor<2x1xf32>, %y: tensor<3xf32>) -> tensor<2x1xf32> {
  %r = graph.add %x, %y : (tensor<2x1xf32>, tensor<3xf32>) -> tensor<2x1xf32>
  func.return %r : tensor<2x1xf32>
}
// CHECK: 'graph.add' op result shape [2, 1] does not match the inferred shape [2, 3]

// -----

func.func @f(%x: tensor<2x3xf32>, %y: tensor<2xf32>) -> tensor<2x3xf32> {
  %r = graph.mul %x, %y : (tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>
  func.return %r : tensor<2x3xf32>
}
// CHECK: 'graph.mul' op operand shapes [2, 3] and [2] are not broadcastable

// -----

func.func @f(%x: tensor<2x3xf32>, %y: tensor<3xf32>) -> tensor<3xf32> {
  %r = graph.mul %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<3xf32>
  func.return %r : tensor<3xf32>
}
// CHECK: 'graph.mul' op result shape [3] does not match the inferred shape [2, 3]

// -----
// graph.maxpool

func.func @f(%x: tensor<8x32x32xf32>) -> tensor<8x16x16xf32> {
  %r = graph.maxpool %x {kernel_shape = array<i64: 2, 2>} : (tensor<8x32x32xf32>) -> tensor<8x16x16xf32>
  func.return %r : tensor<8x16x16xf32>
}
// CHECK: 'graph.maxpool' op input must have rank 4, got shape [8, 32, 32]

// -----

func.func @f(%x: tensor<1x8x32x32xf32>) -> tensor<1x8x16x16xf32> {
  %r = graph.maxpool %x {kernel_shape = array<i64: 2>} : (tensor<1x8x32x32xf32>) -> tensor<1x8x16x16xf32>
  func.return %r : tensor<1x8x16x16xf32>
}
// CHECK: 'graph.maxpool' op kernel_shape must have 2 elements, got 1

// -----

func.func @f(%x: tensor<1x8x32x32xf32>) -> tensor<1x8x16x16xf32> {
  %r = graph.maxpool %x {kernel_shape = array<i64: 2, 0>} : (tensor<1x8x32x32xf32>) -> tensor<1x8x16x16xf32>
  func.return %r : tensor<1x8x16x16xf32>
}
// CHECK: 'graph.maxpool' op kernel_shape must be positive, got [2, 0]

// -----

func.func @f(%x: tensor<1x8x32x32xf32>) -> tensor<1x8x16x16xf32> {
  %r = graph.maxpool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, -2>} : (tensor<1x8x32x32xf32>) -> tensor<1x8x16x16xf32>
  func.return %r : tensor<1x8x16x16xf32>
}
// CHECK: 'graph.maxpool' op strides must be positive, got [2, -2]

// -----

func.func @f(%x: tensor<1x8x32x32xf32>) -> tensor<1x8x34x34xf32> {
  %r = graph.maxpool %x {kernel_shape = array<i64: 2, 2>, pads = array<i64: 2, 2, 2, 2>} : (tensor<1x8x32x32xf32>) -> tensor<1x8x34x34xf32>
  func.return %r : tensor<1x8x34x34xf32>
}
// CHECK: 'graph.maxpool' op pads [2, 2, 2, 2] must be smaller than kernel_shape [2, 2]

// -----

func.func @f(%x: tensor<1x8x2x2xf32>) -> tensor<1x8x1x1xf32> {
  %r = graph.maxpool %x {kernel_shape = array<i64: 3, 3>} : (tensor<1x8x2x2xf32>) -> tensor<1x8x1x1xf32>
  func.return %r : tensor<1x8x1x1xf32>
}
// CHECK: 'graph.maxpool' op the window does not fit: input [1, 8, 2, 2], kernel_shape [3, 3]

// -----

func.func @f(%x: tensor<1x8x32x32xf32>) -> tensor<1x8x16x16xf32> {
  %r = graph.maxpool %x {kernel_shape = array<i64: 2, 2>} : (tensor<1x8x32x32xf32>) -> tensor<1x8x16x16xf32>
  func.return %r : tensor<1x8x16x16xf32>
}
// CHECK: 'graph.maxpool' op result shape [1, 8, 16, 16] does not match the inferred shape [1, 8, 31, 31]

// -----

func.func @f(%x: tensor<1x8x32x32xf32>) -> tensor<1x8x16x16xf32> {
  %r = graph.maxpool %x : (tensor<1x8x32x32xf32>) -> tensor<1x8x16x16xf32>
  func.return %r : tensor<1x8x16x16xf32>
}
// CHECK: property 'kernel_shape' expected in operation 'graph.maxpool'

// -----
// graph.reshape

func.func @f(%x: tensor<2x3xf32>) -> tensor<5xf32> {
  %r = graph.reshape %x : (tensor<2x3xf32>) -> tensor<5xf32>
  func.return %r : tensor<5xf32>
}
// CHECK: 'graph.reshape' op cannot reshape [2, 3] (6 elements) to [5] (5 elements)

// -----
// graph.flatten

func.func @f(%x: tensor<2x3xf32>) -> tensor<6x1xf32> {
  %r = graph.flatten %x {axis = 3 : i64} : (tensor<2x3xf32>) -> tensor<6x1xf32>
  func.return %r : tensor<6x1xf32>
}
// CHECK: 'graph.flatten' op axis 3 is out of range [0, 2]

// -----

func.func @f(%x: tensor<2x3x4xf32>) -> tensor<2x12xf32> {
  %r = graph.flatten %x {axis = 2 : i64} : (tensor<2x3x4xf32>) -> tensor<2x12xf32>
  func.return %r : tensor<2x12xf32>
}
// CHECK: 'graph.flatten' op result shape [2, 12] does not match the inferred shape [6, 4]

// -----
// graph.softmax

func.func @f(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %r = graph.softmax %x {axis = -1 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %r : tensor<2x3xf32>
}
// CHECK: 'graph.softmax' op axis -1 is out of range [0, 1]

// -----

func.func @f(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %r = graph.softmax %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %r : tensor<2x3xf32>
}
// CHECK: property 'axis' expected in operation 'graph.softmax'

// -----

func.func @f(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %r = graph.softmax %x {axis = 1 : i64} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  func.return %r : tensor<3x2xf32>
}
// CHECK: 'graph.softmax' op result shape [3, 2] does not match the inferred shape [2, 3]

// -----
// graph.batchnorm

func.func @f(%x: tensor<1x8x4x4xf32>, %p: tensor<8xf32>, %q: tensor<4xf32>) -> tensor<1x8x4x4xf32> {
  %r = graph.batchnorm %x, %p, %p, %q, %p : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<4xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  func.return %r : tensor<1x8x4x4xf32>
}
// CHECK: 'graph.batchnorm' op mean must have shape [8] (the channels of input [1, 8, 4, 4]), got [4]

// -----

func.func @f(%x: tensor<8xf32>, %p: tensor<8xf32>) -> tensor<8xf32> {
  %r = graph.batchnorm %x, %p, %p, %p, %p : (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  func.return %r : tensor<8xf32>
}
// CHECK: 'graph.batchnorm' op input must have rank 2 or more, got shape [8]

// -----
// graph.avgpool

func.func @f(%x: tensor<1x8x7x7xf32>) -> tensor<1x8x7x7xf32> {
  %r = graph.avgpool %x {kernel_shape = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = 2 : i64} : (tensor<1x8x7x7xf32>) -> tensor<1x8x7x7xf32>
  func.return %r : tensor<1x8x7x7xf32>
}
// CHECK: 'graph.avgpool' op count_include_pad must be 0 or 1, got 2

// -----

func.func @f(%x: tensor<1x8x7x7xf32>) -> tensor<1x8x9x9xf32> {
  %r = graph.avgpool %x {kernel_shape = array<i64: 2, 2>, pads = array<i64: 2, 2, 2, 2>} : (tensor<1x8x7x7xf32>) -> tensor<1x8x9x9xf32>
  func.return %r : tensor<1x8x9x9xf32>
}
// CHECK: 'graph.avgpool' op pads [2, 2, 2, 2] must be smaller than kernel_shape [2, 2]

// -----

func.func @f(%x: tensor<1x8x7x7xf32>) -> tensor<1x8x6x6xf32> {
  %r = graph.avgpool %x {kernel_shape = array<i64: 3, 3>} : (tensor<1x8x7x7xf32>) -> tensor<1x8x6x6xf32>
  func.return %r : tensor<1x8x6x6xf32>
}
// CHECK: 'graph.avgpool' op result shape [1, 8, 6, 6] does not match the inferred shape [1, 8, 5, 5]

// -----
// graph.global_avgpool

func.func @f(%x: tensor<8x7x7xf32>) -> tensor<8x1x1xf32> {
  %r = graph.global_avgpool %x : (tensor<8x7x7xf32>) -> tensor<8x1x1xf32>
  func.return %r : tensor<8x1x1xf32>
}
// CHECK: 'graph.global_avgpool' op input must have rank 4, got shape [8, 7, 7]

// -----

func.func @f(%x: tensor<1x8x7x7xf32>) -> tensor<1x8xf32> {
  %r = graph.global_avgpool %x : (tensor<1x8x7x7xf32>) -> tensor<1x8xf32>
  func.return %r : tensor<1x8xf32>
}
// CHECK: 'graph.global_avgpool' op result shape [1, 8] does not match the inferred shape [1, 8, 1, 1]

// -----
// graph.concat

func.func @f(%a: tensor<1x4x8x8xf32>, %b: tensor<1x2x8x7xf32>) -> tensor<1x6x8x8xf32> {
  %r = graph.concat %a, %b {axis = 1 : i64} : (tensor<1x4x8x8xf32>, tensor<1x2x8x7xf32>) -> tensor<1x6x8x8xf32>
  func.return %r : tensor<1x6x8x8xf32>
}
// CHECK: 'graph.concat' op operand shapes [1, 4, 8, 8] and [1, 2, 8, 7] differ outside axis 1

// -----

func.func @f(%a: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %r = graph.concat %a {axis = 2 : i64} : (tensor<1x4xf32>) -> tensor<1x4xf32>
  func.return %r : tensor<1x4xf32>
}
// CHECK: 'graph.concat' op axis 2 is out of range [0, 1]

// -----

func.func @f() -> tensor<1x4xf32> {
  %r = graph.concat {axis = 0 : i64} : () -> tensor<1x4xf32>
  func.return %r : tensor<1x4xf32>
}
// CHECK: 'graph.concat' op expected at least one operand

// -----

func.func @f(%a: tensor<1x4xf32>, %b: tensor<1x3xf32>) -> tensor<1x8xf32> {
  %r = graph.concat %a, %b {axis = 1 : i64} : (tensor<1x4xf32>, tensor<1x3xf32>) -> tensor<1x8xf32>
  func.return %r : tensor<1x8xf32>
}
// CHECK: 'graph.concat' op result shape [1, 8] does not match the inferred shape [1, 7]

// -----
// graph.transpose

func.func @f(%x: tensor<2x3x4xf32>) -> tensor<3x2x4xf32> {
  %r = graph.transpose %x {perm = array<i64: 1, 0, 0>} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
  func.return %r : tensor<3x2x4xf32>
}
// CHECK: 'graph.transpose' op perm [1, 0, 0] is not a permutation of the 3 dimensions of [2, 3, 4]

// -----

func.func @f(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %r = graph.transpose %x {perm = array<i64: 1, 0, 2>} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  func.return %r : tensor<2x3x4xf32>
}
// CHECK: 'graph.transpose' op result shape [2, 3, 4] does not match the inferred shape [3, 2, 4]

// -----
// graph.lrn

func.func @f(%x: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %r = graph.lrn %x {size = 0 : i64} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %r : tensor<1x8x4x4xf32>
}
// CHECK: 'graph.lrn' op size must be positive, got 0

// -----

func.func @f(%x: tensor<8x4x4xf32>) -> tensor<8x4x4xf32> {
  %r = graph.lrn %x {size = 3 : i64} : (tensor<8x4x4xf32>) -> tensor<8x4x4xf32>
  func.return %r : tensor<8x4x4xf32>
}
// CHECK: 'graph.lrn' op input must have rank 4, got shape [8, 4, 4]

// -----

func.func @f(%x: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %r = graph.lrn %x : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %r : tensor<1x8x4x4xf32>
}
// CHECK: property 'size' expected in operation 'graph.lrn'

// -----

func.func @f(%x: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %r = graph.lrn %x {size = 3 : i64, alpha = 0x7FC00000 : f32} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %r : tensor<1x8x4x4xf32>
}
// CHECK: 'graph.lrn' op alpha, beta and bias nan, 0.75, 1.0 must be finite

// -----
// graph.batchnorm

func.func @f(%x: tensor<1x8x4x4xf32>, %p: tensor<8xf32>) -> tensor<1x8x4x4xf32> {
  %r = graph.batchnorm %x, %p, %p, %p, %p {epsilon = -1.0 : f32} : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  func.return %r : tensor<1x8x4x4xf32>
}
// CHECK: 'graph.batchnorm' op epsilon -1.0 must be finite and non-negative

// -----
// graph.sum

func.func @f(%a: tensor<2x3xf32>, %b: tensor<4x3xf32>) -> tensor<2x3xf32> {
  %r = graph.sum %a, %b : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
  func.return %r : tensor<2x3xf32>
}
// CHECK: 'graph.sum' op operand shapes [2, 3] and [4, 3] are not broadcastable

// -----

func.func @f() -> tensor<2x3xf32> {
  %r = graph.sum : () -> tensor<2x3xf32>
  func.return %r : tensor<2x3xf32>
}
// CHECK: 'graph.sum' op expected at least one operand

// -----
// graph.unsqueeze

func.func @f(%x: tensor<8xf32>) -> tensor<8x1x1xf32> {
  %r = graph.unsqueeze %x {axes = array<i64: 1, 3>} : (tensor<8xf32>) -> tensor<8x1x1xf32>
  func.return %r : tensor<8x1x1xf32>
}
// CHECK: 'graph.unsqueeze' op axes [1, 3] must be distinct and in [0, 2]

// -----

func.func @f(%x: tensor<8xf32>) -> tensor<8x1xf32> {
  %r = graph.unsqueeze %x {axes = array<i64: 0>} : (tensor<8xf32>) -> tensor<8x1xf32>
  func.return %r : tensor<8x1xf32>
}
// CHECK: 'graph.unsqueeze' op result shape [8, 1] does not match the inferred shape [1, 8]

// -----
// graph.constant_of_shape

func.func @f() -> tensor<?x3xf32> {
  %r = graph.constant_of_shape {value = 1.0 : f32} : tensor<?x3xf32>
  func.return %r : tensor<?x3xf32>
}
// CHECK: 'graph.constant_of_shape' op result must have a static shape, got tensor<?x3xf32>

// -----

func.func @f() -> tensor<3xf32> {
  %r = graph.constant_of_shape {value = 1.0 : f64} : tensor<3xf32>
  func.return %r : tensor<3xf32>
}
// CHECK: f64 should be of base attribute f32

// -----
// graph.dropout

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = graph.dropout %x {ratio = 1.0 : f32} : (tensor<4xf32>) -> tensor<4xf32>
  func.return %r : tensor<4xf32>
}
// CHECK: 'graph.dropout' op ratio must be in [0, 1), got 1.0

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = graph.dropout %x {training = 2 : i64} : (tensor<4xf32>) -> tensor<4xf32>
  func.return %r : tensor<4xf32>
}
// CHECK: 'graph.dropout' op training must be 0 or 1, got 2

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = graph.dropout %x {training = 1 : i64, seed = 9999999999 : i64} : (tensor<4xf32>) -> tensor<4xf32>
  func.return %r : tensor<4xf32>
}
// CHECK: 'graph.dropout' op seed 9999999999 does not fit 32 bits

// -----
// graph.random_uniform_like

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = graph.random_uniform_like %x {low = 3.0 : f32, high = 1.0 : f32} : (tensor<4xf32>) -> tensor<4xf32>
  func.return %r : tensor<4xf32>
}
// CHECK: 'graph.random_uniform_like' op bounds [3.0, 1.0) are not finite and ordered

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<2x2xf32> {
  %r = graph.random_uniform_like %x : (tensor<4xf32>) -> tensor<2x2xf32>
  func.return %r : tensor<2x2xf32>
}
// CHECK: 'graph.random_uniform_like' op result shape [2, 2] does not match the inferred shape [4]

// -----
// graph.channel_affine

func.func @f(%x: tensor<1x8x4x4xf32>, %p: tensor<8xf32>, %q: tensor<1x8x1x1xf32>) -> tensor<1x8x4x4xf32> {
  %r = graph.channel_affine %x, %p, %q : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<1x8x1x1xf32>) -> tensor<1x8x4x4xf32>
  func.return %r : tensor<1x8x4x4xf32>
}
// CHECK: 'graph.channel_affine' op shift must have shape [8] (the channels of input [1, 8, 4, 4]), got [1, 8, 1, 1]

// -----

func.func @f(%x: tensor<8xf32>, %p: tensor<8xf32>) -> tensor<8xf32> {
  %r = graph.channel_affine %x, %p, %p : (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  func.return %r : tensor<8xf32>
}
// CHECK: 'graph.channel_affine' op input must have rank 2 or more, got shape [8]

// -----

func.func @f(%x: tensor<1x8x4x4xf32>, %p: tensor<8xf32>) -> tensor<1x8x4x4xf32> {
  %r = graph.channel_affine %x, %p, %p {activation = "exp"} : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  func.return %r : tensor<1x8x4x4xf32>
}
// CHECK: 'graph.channel_affine' op activation 'exp' is not one of: relu, clip01

// -----

func.func @f(%x: tensor<1x8x4x4xf32>, %p: tensor<8xf32>) -> tensor<1x8x4x2xf32> {
  %r = graph.channel_affine %x, %p, %p : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x2xf32>
  func.return %r : tensor<1x8x4x2xf32>
}
// CHECK: 'graph.channel_affine' op result shape [1, 8, 4, 2] does not match the inferred shape [1, 8, 4, 4]

// -----
// graph.loop

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = graph.loop %x {body = @s, max_trips = 0 : i64, reduce = "max", input = "a", cmp = "gt", threshold = 1.0 : f32} : (tensor<4xf32>) -> tensor<4xf32>
  func.return %r : tensor<4xf32>
}
// CHECK: 'graph.loop' op max_trips must be at least 1, got 0

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = graph.loop %x {body = @s, max_trips = 3 : i64, reduce = "min", input = "a", cmp = "gt", threshold = 1.0 : f32} : (tensor<4xf32>) -> tensor<4xf32>
  func.return %r : tensor<4xf32>
}
// CHECK: 'graph.loop' op reduce 'min' is not one of: max, add, mean

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = graph.loop %x {body = @s, max_trips = 3 : i64, reduce = "max", input = "a", cmp = "eq", threshold = 1.0 : f32} : (tensor<4xf32>) -> tensor<4xf32>
  func.return %r : tensor<4xf32>
}
// CHECK: 'graph.loop' op cmp 'eq' is not one of: lt, le, gt, ge

// -----
// graph.piecewise_linear

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = graph.piecewise_linear %x {kind = "clip", alpha = 6.0 : f32, beta = 0.0 : f32} : (tensor<4xf32>) -> tensor<4xf32>
  func.return %r : tensor<4xf32>
}
// CHECK: 'graph.piecewise_linear' op clip bounds [6.0, 0.0] must be ordered, min below max

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = graph.piecewise_linear %x {kind = "softsign", alpha = 1.0 : f32, beta = 0.0 : f32} : (tensor<4xf32>) -> tensor<4xf32>
  func.return %r : tensor<4xf32>
}
// CHECK: 'graph.piecewise_linear' op kind 'softsign' is not one of: clip, hard_sigmoid, hard_swish, leaky_relu, affine

// -----

func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
  %r = graph.onnx_node "Neg" %x {inputs = ["x", "y"], outputs = ["r"], model = ""} : (tensor<2xf32>) -> tensor<2xf32>
  func.return %r : tensor<2xf32>
}
// CHECK: 'graph.onnx_node' op names 2 inputs for 1 operands

// -----

func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
  %r = graph.onnx_node "Neg" %x {inputs = ["x"], outputs = ["x"], model = "!!"} : (tensor<2xf32>) -> tensor<2xf32>
  func.return %r : tensor<2xf32>
}
// CHECK: 'graph.onnx_node' op model is not base64 (a serialised ONNX ModelProto)

// -----

func.func @f(%x: tensor<2xf32>) -> tensor<2xcomplex<f32>> {
  %r = graph.onnx_node "Neg" %x {inputs = ["x"], outputs = ["r"], model = ""} : (tensor<2xf32>) -> tensor<2xcomplex<f32>>
  func.return %r : tensor<2xcomplex<f32>>
}
// CHECK: 'graph.onnx_node' op outputs: element type complex<f32> is not one the framework tier carries

// -----

func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
  %r = graph.onnx_node "Neg" %x {inputs = ["a"], outputs = [""], model = ""} : (tensor<2xf32>) -> tensor<2xf32>
  func.return %r : tensor<2xf32>
}
// CHECK: 'graph.onnx_node' op outputs must be distinct non-empty names, got ['']

// -----

// Only framework-tier ops take a sequence, an optional or a map.
func.func @f(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %s = graph.onnx_node "SplitToSequence" %x {inputs = ["x"], outputs = ["s"], model = ""} : (tensor<4x2xf32>) -> !graph.onnx_value<"seq(tensor(float))">
  %y = graph.relu %s : (!graph.onnx_value<"seq(tensor(float))">) -> tensor<4x2xf32>
  func.return %y : tensor<4x2xf32>
}
// CHECK: !graph.onnx_value<"seq(tensor(float))"> should be of base attribute tensor

// -----

func.func @f(%x: tensor<4x8xf32>) -> tensor<4x3xf32> {
  %r = graph.slice %x {starts = array<i64: 0, 6>, ends = array<i64: 4, 12>, steps = array<i64: 1, 2>} : (tensor<4x8xf32>) -> tensor<4x3xf32>
  func.return %r : tensor<4x3xf32>
}
// CHECK: 'graph.slice' op dim 1: start 6, end 12, step 2 is not a window of size 8 (0 <= start < end <= size, step >= 1)

// -----

func.func @f(%x: tensor<4x8xf32>) -> tensor<4x4xf32> {
  %r = graph.slice %x {starts = array<i64: 0, 2>, ends = array<i64: 4, 8>, steps = array<i64: 1, 2>} : (tensor<4x8xf32>) -> tensor<4x4xf32>
  func.return %r : tensor<4x4xf32>
}
// CHECK: 'graph.slice' op result shape [4, 4] does not match the inferred shape [4, 3]

// -----

func.func @f(%x: tensor<4x8xf32>, %y: tensor<3x8xf32>) -> tensor<4x8xf32> {
  %r = graph.sub %x, %y : (tensor<4x8xf32>, tensor<3x8xf32>) -> tensor<4x8xf32>
  func.return %r : tensor<4x8xf32>
}
// CHECK: 'graph.sub' op
