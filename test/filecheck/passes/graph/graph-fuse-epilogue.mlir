// RUN: tidal-opt %s -p 'graph-fuse-epilogue{through_concat=false}' --split-input-file | filecheck %s
// (through_concat=false: these cases use a relu of a relu as a second use of a
// value, which with through_concat would go as redundant; its patterns are in
// graph-fuse-epilogue-concat.mlir)

// A relu after a single-use conv2d or gemm becomes the producer's activation; the
// producer keeps its origin and lists the relu in tidal.fused.
// CHECK-LABEL: func.func @conv_relu
// CHECK-SAME:    (%[[X:.*]]: tensor<1x3x4x4xf32>, %[[W:.*]]: tensor<8x3x3x3xf32>, %[[B:.*]]: tensor<8xf32>)
// CHECK-NEXT:    %[[R:.*]] = graph.conv2d %[[X]], %[[W]], %[[B]] {tidal.origin = "conv", tidal.fused = ["relu"], pads = array<i64: 1, 1, 1, 1>, activation = "relu"} : (tensor<1x3x4x4xf32>, tensor<8x3x3x3xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
// CHECK-NEXT:    func.return %[[R]]
func.func @conv_relu(%x: tensor<1x3x4x4xf32>, %w: tensor<8x3x3x3xf32>, %b: tensor<8xf32>) -> tensor<1x8x4x4xf32> {
  %c = graph.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>, tidal.origin = "conv"} : (tensor<1x3x4x4xf32>, tensor<8x3x3x3xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  %r = graph.relu %c {tidal.origin = "relu"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %r : tensor<1x8x4x4xf32>
}

// CHECK-LABEL: func.func @gemm_relu
// CHECK-SAME:    (%[[X:.*]]: tensor<2x16xf32>, %[[W:.*]]: tensor<4x16xf32>, %[[B:.*]]: tensor<4xf32>)
// CHECK-NEXT:    %[[R:.*]] = graph.gemm %[[X]], %[[W]], %[[B]] {tidal.origin = "fc", tidal.fused = ["fc_relu"], trans_b = 1 : i64, activation = "relu"} : (tensor<2x16xf32>, tensor<4x16xf32>, tensor<4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT:    func.return %[[R]]
func.func @gemm_relu(%x: tensor<2x16xf32>, %w: tensor<4x16xf32>, %b: tensor<4xf32>) -> tensor<2x4xf32> {
  %g = graph.gemm %x, %w, %b {trans_b = 1 : i64, tidal.origin = "fc"} : (tensor<2x16xf32>, tensor<4x16xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %r = graph.relu %g {tidal.origin = "fc_relu"} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return %r : tensor<2x4xf32>
}

// -----

// ResNet's identity block: add(conv, residual) then relu. The residual is defined
// before the conv, which stays where it is and takes it as addend.
// CHECK-LABEL: func.func @residual_before
// CHECK-SAME:    (%[[X:.*]]: tensor<1x8x4x4xf32>, %[[W:.*]]: tensor<8x8x1x1xf32>, %[[B:.*]]: tensor<8xf32>)
// CHECK-NEXT:    %[[ID:.*]] = graph.relu %[[X]] {tidal.origin = "block_in"}
// CHECK-NEXT:    %[[R:.*]] = graph.conv2d %[[X]], %[[W]], %[[B]] addend %[[ID]] {tidal.origin = "conv", tidal.fused = ["add", "relu"], activation = "relu"} : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>, tensor<8xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
// CHECK-NEXT:    %[[N:.*]] = graph.relu %[[ID]] {tidal.origin = "next"}
// CHECK-NEXT:    func.return %[[R]], %[[N]]
func.func @residual_before(%x: tensor<1x8x4x4xf32>, %w: tensor<8x8x1x1xf32>, %b: tensor<8xf32>) -> (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) {
  %id = graph.relu %x {tidal.origin = "block_in"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %c = graph.conv2d %x, %w, %b {tidal.origin = "conv"} : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  %n = graph.relu %id {tidal.origin = "next"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %s = graph.add %id, %c {tidal.origin = "add"} : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %r = graph.relu %s {tidal.origin = "relu"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %r, %n : tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>
}

// The residual is defined after the conv: the conv moves to just before the add.
// CHECK-LABEL: func.func @residual_after
// CHECK-SAME:    (%[[X:.*]]: tensor<1x8x4x4xf32>, %[[W:.*]]: tensor<8x8x1x1xf32>)
// CHECK-NEXT:    %[[ID:.*]] = graph.relu %[[X]] {tidal.origin = "block_in"}
// CHECK-NEXT:    %[[R:.*]] = graph.conv2d %[[X]], %[[W]] addend %[[ID]] {tidal.origin = "conv", tidal.fused = ["add", "relu"], activation = "relu"} : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
// CHECK-NEXT:    func.return %[[R]]
func.func @residual_after(%x: tensor<1x8x4x4xf32>, %w: tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32> {
  %c = graph.conv2d %x, %w {tidal.origin = "conv"} : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32>
  %id = graph.relu %x {tidal.origin = "block_in"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %s = graph.add %c, %id {tidal.origin = "add"} : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %r = graph.relu %s {tidal.origin = "relu"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %r : tensor<1x8x4x4xf32>
}

// The projection block: both operands are single-use convs. The one defined later
// takes the other as its addend (no op moves); the other keeps no epilogue.
// CHECK-LABEL: func.func @two_convs
// CHECK-SAME:    (%[[X:.*]]: tensor<1x8x4x4xf32>, %[[W:.*]]: tensor<8x8x1x1xf32>)
// CHECK-NEXT:    %[[P:.*]] = graph.conv2d %[[X]], %[[W]] {tidal.origin = "proj"}
// CHECK-NEXT:    %[[R:.*]] = graph.conv2d %[[X]], %[[W]] addend %[[P]] {tidal.origin = "main", tidal.fused = ["sum", "relu"], activation = "relu"}
// CHECK-NEXT:    func.return %[[R]]
func.func @two_convs(%x: tensor<1x8x4x4xf32>, %w: tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32> {
  %p = graph.conv2d %x, %w {tidal.origin = "proj"} : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32>
  %m = graph.conv2d %x, %w {tidal.origin = "main"} : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32>
  %s = graph.sum %p, %m {tidal.origin = "sum"} : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %r = graph.relu %s {tidal.origin = "relu"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %r : tensor<1x8x4x4xf32>
}

// -----

// Left alone: a conv result with a second use (the relu is not single-exit).
// CHECK-LABEL: func.func @two_uses
// CHECK-NEXT:    %[[C:.*]] = graph.conv2d
// CHECK-NOT:     activation
// CHECK-NEXT:    %[[R:.*]] = graph.relu %[[C]]
// CHECK-NEXT:    func.return %[[R]], %[[C]]
func.func @two_uses(%x: tensor<1x8x4x4xf32>, %w: tensor<8x8x1x1xf32>) -> (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) {
  %c = graph.conv2d %x, %w : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32>
  %r = graph.relu %c : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %r, %c : tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>
}

// Left alone: a broadcasting add (a per-channel vector is not a whole addend), and
// an add of the same conv result twice (two uses).
// CHECK-LABEL: func.func @broadcast_add
// CHECK-NEXT:    %[[C:.*]] = graph.conv2d
// CHECK-NEXT:    %[[S:.*]] = graph.add %[[C]], %{{.*}} :
// CHECK-NEXT:    %[[D:.*]] = graph.conv2d
// CHECK-NEXT:    %[[T:.*]] = graph.add %[[D]], %[[D]] :
// CHECK-NEXT:    func.return %[[S]], %[[T]]
func.func @broadcast_add(%x: tensor<1x8x4x4xf32>, %w: tensor<8x8x1x1xf32>, %v: tensor<8x1x1xf32>) -> (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) {
  %c = graph.conv2d %x, %w : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32>
  %s = graph.add %c, %v : (tensor<1x8x4x4xf32>, tensor<8x1x1xf32>) -> tensor<1x8x4x4xf32>
  %d = graph.conv2d %x, %w : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32>
  %t = graph.add %d, %d : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %s, %t : tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>
}

// Left alone: a conv that already has an epilogue. An add after an activation or an
// addend does not fold (the addend comes before the activation, one per conv); a
// relu after an activation stays.
// CHECK-LABEL: func.func @has_epilogue
// CHECK-NEXT:    %[[A:.*]] = graph.conv2d %{{.*}} {activation = "relu"}
// CHECK-NEXT:    %[[S:.*]] = graph.add %[[A]], %[[Y:.*]] :
// CHECK-NEXT:    %[[B:.*]] = graph.conv2d %{{.*}} addend %[[Y]] :
// CHECK-NEXT:    %[[T:.*]] = graph.add %[[B]], %[[Y]] :
// CHECK-NEXT:    %[[C:.*]] = graph.conv2d %{{.*}} {activation = "relu"}
// CHECK-NEXT:    %[[R:.*]] = graph.relu %[[C]]
// CHECK-NEXT:    func.return %[[S]], %[[T]], %[[R]]
func.func @has_epilogue(%x: tensor<1x8x4x4xf32>, %w: tensor<8x8x1x1xf32>, %y: tensor<1x8x4x4xf32>) -> (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) {
  %a = graph.conv2d %x, %w {activation = "relu"} : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32>
  %s = graph.add %a, %y : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %b = graph.conv2d %x, %w addend %y : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %t = graph.add %b, %y : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %c = graph.conv2d %x, %w {activation = "relu"} : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32>
  %r = graph.relu %c : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %s, %t, %r : tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>
}

// Left alone: ops graph-partition placed on the host (the conv, or the relu).
// CHECK-LABEL: func.func @on_host
// CHECK-NEXT:    %[[C:.*]] = graph.conv2d %{{.*}} {tidal.placement = "host"}
// CHECK-NEXT:    %[[R:.*]] = graph.relu %[[C]] {tidal.placement = "accel"}
// CHECK-NEXT:    %[[D:.*]] = graph.conv2d %{{.*}} {tidal.placement = "accel"}
// CHECK-NEXT:    %[[S:.*]] = graph.add %[[D]], %{{.*}} {tidal.placement = "host"}
// CHECK-NEXT:    func.return %[[R]], %[[S]]
func.func @on_host(%x: tensor<1x8x4x4xf32>, %w: tensor<8x8x1x1xf32>, %y: tensor<1x8x4x4xf32>) -> (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) {
  %c = graph.conv2d %x, %w {tidal.placement = "host"} : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32>
  %r = graph.relu %c {tidal.placement = "accel"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %d = graph.conv2d %x, %w {tidal.placement = "accel"} : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32>
  %s = graph.add %d, %y {tidal.placement = "host"} : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %r, %s : tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>
}

