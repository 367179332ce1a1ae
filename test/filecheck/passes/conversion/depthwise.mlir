// RUN: tidal-opt %s -p 'graph-to-loop{chip=small depthwise_inplace=false depthwise_fma=false}' --split-input-file | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small depthwise_fma=false}' --split-input-file | filecheck %s --check-prefix=INPLACE
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small depthwise_pe_split=false depthwise_fma=false}' --split-input-file | filecheck %s --check-prefix=NOSPLIT
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small depthwise=false}' --split-input-file | filecheck %s --check-prefix=OFF
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small depthwise_split_context=false depthwise_fma=false}' --split-input-file | filecheck %s --check-prefix=NOCONTEXT
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small depthwise_inplace=false}' --split-input-file | filecheck %s --check-prefix=FMA
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small depthwise_pool_first=false}' --split-input-file | filecheck %s --check-prefix=FMAIP
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small depthwise_pe_rows=false depthwise_pool_first=false}' --split-input-file | filecheck %s --check-prefix=NOROWS
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small}' --split-input-file | filecheck %s --check-prefix=POOLFIRST

// A depthwise conv2d (group = channels = 40) with pads 1 and a bias on the small
// chip: kernels/depthwise.py pads in SBUF (a halo: the planes zeroed, the input
// copied into their middle, no pad nest) and runs 20 channels per step (d0 over
// two channel tiles) and one instruction per filter tap for all 36 output pixels of
// all 20 channels. The datasheet charges its vector form less than its PE form here
// (a 94-cycle stationary load per tap for 36 pixels), so ACT multiplies each tap's
// window of the 8x8 padded plane (step 8 between rows) by the tap's weight column,
// tap 0 plus the bias column straight into the sum, and POOL adds the products, which
// alternate between two tiles so ACT writes one while POOL reads the other. No
// identity constant, no matmul. The weights [20, 2 x 9] and biases [20, 2] of both
// channel tiles come in one copy each; the two tiles' planes and sums are resident
// (128 and 72 elements per partition, the tile ct at 64 x ct and 36 x ct): one copy
// in before the loop, one out after it.
// CHECK-LABEL: func.func @depthwise
// CHECK-SAME:    (%[[X:.*]]: memref<1x40x6x6xf32>, %[[W:.*]]: memref<40x1x3x3xf32>, %[[B:.*]]: memref<40xf32>) -> memref<1x40x6x6xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<1x40x6x6xf32>
// CHECK-NOT:     loop.const
// CHECK-NEXT:    loop.nest "dw" domain [2] order [0] {
// CHECK-NEXT:      %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 18>
// CHECK-NEXT:      %[[BT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 2>
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 128>
// CHECK-NEXT:      %[[SUM:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 72>
// CHECK-NEXT:      %[[P0:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 36>
// CHECK-NEXT:      %[[P1:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 36>
// CHECK-NEXT:      loop.copy %[[W]] <dram 0, {{\[\[}}9, 20], [180, 2], [1, 9]]> -> %[[WT]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 18]]>
// CHECK-NEXT:      loop.copy %[[B]] <dram 0, {{\[\[}}1, 20], [20, 2]]> -> %[[BT]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 2]]>
// CHECK-NEXT:      loop.memset %[[XT]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 128]]> = 0.000000e+00
// CHECK-NEXT:      loop.copy %[[X]] <dram 0, {{\[\[}}36, 20], [720, 2], [6, 6], [1, 6]]> -> %[[XT]] <sbuf 0, 36, {{\[\[}}1, 20], [64, 2], [8, 6], [1, 6]]>
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.act "identity" %[[SUM]] <sbuf 0, 0 + 144 * i0, {{\[\[}}1, 20], [1, 36]]>, %[[XT]] <sbuf 0, 0 + 256 * i0, {{\[\[}}1, 20], [8, 6], [1, 6]]> scale(%[[WT]] : !loop.tile<sbuf, 20, 18>) <sbuf 0, 0 + 36 * i0, {{\[\[}}1, 20], [1, 1]]> bias(%[[BT]] : !loop.tile<sbuf, 20, 2>) <sbuf 0, 0 + 4 * i0, {{\[\[}}1, 20], [1, 1]]>
// CHECK-NEXT:        loop.act "identity" %[[P1]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 36]]>, %[[XT]] <sbuf 0, 4 + 256 * i0, {{\[\[}}1, 20], [8, 6], [1, 6]]> scale(%[[WT]] : !loop.tile<sbuf, 20, 18>) <sbuf 0, 4 + 36 * i0, {{\[\[}}1, 20], [1, 1]]> {
// CHECK-NEXT:        loop.tensor_tensor "add" %[[SUM]] <sbuf 0, 0 + 144 * i0, {{\[\[}}1, 20], [1, 36]]>, %[[SUM]] <sbuf 0, 0 + 144 * i0, {{\[\[}}1, 20], [1, 36]]>, %[[P1]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 36]]>
// CHECK-NEXT:        loop.act "identity" %[[P0]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 36]]>, %[[XT]] <sbuf 0, 8 + 256 * i0, {{\[\[}}1, 20], [8, 6], [1, 6]]> scale(%[[WT]] : !loop.tile<sbuf, 20, 18>) <sbuf 0, 8 + 36 * i0, {{\[\[}}1, 20], [1, 1]]> {
// CHECK-NEXT:        loop.tensor_tensor "add" %[[SUM]] <sbuf 0, 0 + 144 * i0, {{\[\[}}1, 20], [1, 36]]>, %[[SUM]] <sbuf 0, 0 + 144 * i0, {{\[\[}}1, 20], [1, 36]]>, %[[P0]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 36]]>
// CHECK-COUNT-5:     loop.tensor_tensor "add" %[[SUM]]
// CHECK-NEXT:        loop.act "identity" %[[P0]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 36]]>, %[[XT]] <sbuf 0, 72 + 256 * i0, {{\[\[}}1, 20], [8, 6], [1, 6]]> scale(%[[WT]] : !loop.tile<sbuf, 20, 18>) <sbuf 0, 32 + 36 * i0, {{\[\[}}1, 20], [1, 1]]> {
// CHECK-NEXT:        loop.tensor_tensor "add" %[[SUM]] <sbuf 0, 0 + 144 * i0, {{\[\[}}1, 20], [1, 36]]>, %[[SUM]] <sbuf 0, 0 + 144 * i0, {{\[\[}}1, 20], [1, 36]]>, %[[P0]]
// CHECK-NEXT:      }
// CHECK-NEXT:      loop.copy %[[SUM]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 72]]> -> %[[Y]] <dram 0, {{\[\[}}36, 20], [720, 2], [1, 36]]>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[Y]]

// With depthwise-fma (the default; the RUN lines above pin it off): no products.
// ACT still writes tap 0 times its column plus the bias into the sum; for every
// other tap POOL adds the window times the tap's weight column (the scale column,
// one per partition) into the sum in one tensor_tensor, the sum its second operand.
// FMA-LABEL: func.func @depthwise
// FMA:           %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 18>
// FMA:           %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 128>
// FMA-NEXT:      %[[SUM:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 72>
// FMA:           loop.act "identity" %[[SUM]] <sbuf 0, 0 + 144 * i0, {{\[\[}}1, 20], [1, 36]]>, %[[XT]] <sbuf 0, 0 + 256 * i0, {{\[\[}}1, 20], [8, 6], [1, 6]]> scale(%[[WT]] : !loop.tile<sbuf, 20, 18>) <sbuf 0, 0 + 36 * i0, {{\[\[}}1, 20], [1, 1]]> bias
// FMA-NEXT:      loop.tensor_tensor "add" %[[SUM]] <sbuf 0, 0 + 144 * i0, {{\[\[}}1, 20], [1, 36]]>, %[[XT]] <sbuf 0, 4 + 256 * i0, {{\[\[}}1, 20], [8, 6], [1, 6]]>, %[[SUM]] <sbuf 0, 0 + 144 * i0, {{\[\[}}1, 20], [1, 36]]> scale(%[[WT]] : !loop.tile<sbuf, 20, 18>) <sbuf 0, 4 + 36 * i0, {{\[\[}}1, 20], [1, 1]]>
// FMA-COUNT-7:   loop.tensor_tensor "add" %[[SUM]] {{.*}} scale(%[[WT]]
// FMA-NOT:       loop.act "identity"
// FMA:           loop.copy %[[SUM]]

// In place with depthwise-fma: the same, each tap's rectangle of the sum (tap 0:
// from output (1, 1), offset 28) += its window times its column.
// FMAIP-LABEL: func.func @depthwise
// FMAIP:         loop.act "identity" %[[SUM:.*]] <sbuf 0, 0, {{\[\[}}1, 20], [6, 6], [1, 6]]>, %[[XT:.*]] <sbuf 0, 0, {{\[\[}}1, 20], [6, 6], [1, 6]]> scale(%[[WT:.*]] : !loop.tile<sbuf, 20, 18>) <sbuf 0, 16, {{\[\[}}1, 20], [1, 1]]> bias
// FMAIP-NEXT:    loop.tensor_tensor "add" %[[SUM]] <sbuf 0, 28, {{\[\[}}1, 20], [6, 5], [1, 5]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 20], [6, 5], [1, 5]]>, %[[SUM]] <sbuf 0, 28, {{\[\[}}1, 20], [6, 5], [1, 5]]> scale(%[[WT]] : !loop.tile<sbuf, 20, 18>) <sbuf 0, 0, {{\[\[}}1, 20], [1, 1]]>
// FMAIP-COUNT-7: loop.tensor_tensor "add" %[[SUM]] {{.*}} scale(%[[WT]]
// FMAIP-NEXT:    loop.act "identity" %[[SUM]] <sbuf 0, 144,

// With depthwise-pool-first too (the default): POOL writes the centre tap as well,
// one tensor_tensor: the window times the tap's weight column (scale) plus the bias
// column read by a broadcast (strides 0 over the 6x6 outputs), into the whole sum.
// No ACT in the nest: a tile's taps wait for nothing in ACT's stream.
// POOLFIRST-LABEL: func.func @depthwise
// POOLFIRST:         %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 18>
// POOLFIRST-NEXT:    %[[BT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 2>
// POOLFIRST-NEXT:    %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 72>
// POOLFIRST-NEXT:    %[[SUM:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 72>
// POOLFIRST-NOT:     loop.act
// POOLFIRST:         loop.tensor_tensor "add" %[[SUM]] <sbuf 0, 0, {{\[\[}}1, 20], [6, 6], [1, 6]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 20], [6, 6], [1, 6]]>, %[[BT]] <sbuf 0, 0, {{\[\[}}1, 20], [0, 6], [0, 6]]> scale(%[[WT]] : !loop.tile<sbuf, 20, 18>) <sbuf 0, 16, {{\[\[}}1, 20], [1, 1]]>
// POOLFIRST-NEXT:    loop.tensor_tensor "add" %[[SUM]] <sbuf 0, 28, {{\[\[}}1, 20], [6, 5], [1, 5]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 20], [6, 5], [1, 5]]>, %[[SUM]] <sbuf 0, 28, {{\[\[}}1, 20], [6, 5], [1, 5]]> scale(%[[WT]]
// POOLFIRST-COUNT-7: loop.tensor_tensor "add" %[[SUM]] {{.*}} scale(%[[WT]]
// The second channel tile: its bias column 4 bytes on.
// POOLFIRST-NEXT:    loop.tensor_tensor "add" %[[SUM]] <sbuf 0, 144, {{\[\[}}1, 20], [6, 6], [1, 6]]>, %[[XT]] <sbuf 0, 144, {{\[\[}}1, 20], [6, 6], [1, 6]]>, %[[BT]] <sbuf 0, 4, {{\[\[}}1, 20], [0, 6], [0, 6]]> scale(%[[WT]] : !loop.tile<sbuf, 20, 18>) <sbuf 0, 52, {{\[\[}}1, 20], [1, 1]]>
// POOLFIRST-COUNT-8: loop.tensor_tensor "add" %[[SUM]] {{.*}} scale(%[[WT]]
// POOLFIRST-NOT:     loop.act
// POOLFIRST:         loop.copy %[[SUM]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 72]]>

// In place (the default, --disable-opt depthwise-in-place is the above): the
// unpadded planes come in as they lie (36 elements per channel tile, the copy a
// plain image of the input), no memset. Per channel tile ACT writes the centre tap,
// whose window stays inside the image for every output, times its weight column
// (offset 16: tap 4) plus the bias over the whole sum; every other tap runs over
// the 5x5 or 5x6 or 6x5 rectangle of outputs its window keeps inside the image:
// tap 0 (up-left) writes outputs from (1, 1) (offset 28 in the sum and the
// product) reading the input from (0, 0), rows 6 apart.
// INPLACE-LABEL: func.func @depthwise
// INPLACE:         loop.nest "dw" domain [] order [] {
// INPLACE-NOT:       loop.memset
// INPLACE:           loop.copy %[[X:.*]] <dram 0, {{\[\[}}36, 20], [720, 2], [1, 36]]> -> %[[XT:.*]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 72]]>
// INPLACE-NEXT:      loop.act "identity" %[[SUM:.*]] <sbuf 0, 0, {{\[\[}}1, 20], [6, 6], [1, 6]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 20], [6, 6], [1, 6]]> scale(%[[WT:.*]] : !loop.tile<sbuf, 20, 18>) <sbuf 0, 16, {{\[\[}}1, 20], [1, 1]]> bias
// INPLACE-NEXT:      loop.act "identity" %[[P:.*]] <sbuf 0, 28, {{\[\[}}1, 20], [6, 5], [1, 5]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 20], [6, 5], [1, 5]]> scale(%[[WT]] : !loop.tile<sbuf, 20, 18>) <sbuf 0, 0, {{\[\[}}1, 20], [1, 1]]>
// INPLACE-NEXT:      loop.tensor_tensor "add" %[[SUM]] <sbuf 0, 28, {{\[\[}}1, 20], [6, 5], [1, 5]]>, %[[SUM]] <sbuf 0, 28, {{\[\[}}1, 20], [6, 5], [1, 5]]>, %[[P]] <sbuf 0, 28, {{\[\[}}1, 20], [6, 5], [1, 5]]>
// INPLACE-COUNT-7:   loop.tensor_tensor "add" %[[SUM]] <sbuf 0, {{[0-9]+}}, 
// The second channel tile: its plane 144 bytes on, its weight columns 36 bytes on.
// INPLACE-NEXT:      loop.act "identity" %[[SUM]] <sbuf 0, 144, {{\[\[}}1, 20], [6, 6], [1, 6]]>, %[[XT]] <sbuf 0, 144, {{\[\[}}1, 20], [6, 6], [1, 6]]> scale(%[[WT]] : !loop.tile<sbuf, 20, 18>) <sbuf 0, 52, {{\[\[}}1, 20], [1, 1]]> bias
// INPLACE-COUNT-8:   loop.tensor_tensor "add" %[[SUM]] <sbuf 0, {{[0-9]+}}, 
// INPLACE-NEXT:      loop.copy %[[SUM]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 72]]> -> %{{.*}} <dram 0, {{\[\[}}36, 20], [720, 2], [1, 36]]>

// With the optimisation off (--disable-opt depthwise) the general conv nest runs
// one channel per step (d0 over 40), one single-column matmul each.
// OFF-LABEL: func.func @depthwise
// OFF:         loop.nest "dw" domain [40] order [0] {
// OFF:           loop.matmul %{{.*}} <psum 0, 0, {{\[\[}}1, 1], [1, 36]]>
// OFF-NOT:       loop.tensor_tensor
// OFF:         func.return
func.func @depthwise(%x: tensor<1x40x6x6xf32>, %w: tensor<40x1x3x3xf32>, %b: tensor<40xf32>) -> tensor<1x40x6x6xf32> {
  %r = graph.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>, group = 40 : i64, tidal.origin = "dw"} : (tensor<1x40x6x6xf32>, tensor<40x1x3x3xf32>, tensor<40xf32>) -> tensor<1x40x6x6xf32>
  func.return %r : tensor<1x40x6x6xf32>
}

// -----

// Two images, stride 2, no bias: not resident (one image per step). Per channel
// tile (d0) and image (d1) the 7 padded rows the 3 output rows need come in, the
// windows step 16 between rows and 2 between pixels, and the 9 output pixels go
// out; the weights of both tiles still come in once, before the loops.
// CHECK-LABEL: func.func @depthwise_batch
// CHECK:         loop.nest "dw2" domain [2, 2] order [0, 1] {
// CHECK-NEXT:      %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 18>
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 56>
// CHECK-NEXT:      %[[SUM:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 9>
// CHECK-NEXT:      %[[P0:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 9>
// CHECK-NEXT:      %[[P1:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 9>
// CHECK-NEXT:      loop.copy %{{.*}} <dram 0, {{\[\[}}9, 20], [180, 2], [1, 9]]> -> %[[WT]]
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.for d1 {
// CHECK-NEXT:          loop.copy %{{.*}} <dram 0 + 5120 * i0 + 10240 * i1, {{\[\[}}64, 20], [1, 56]]> -> %[[XT]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 56]]>
// CHECK-NEXT:          loop.act "identity" %[[SUM]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 9]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 20], [16, 3], [2, 3]]> scale(%[[WT]] : !loop.tile<sbuf, 20, 18>) <sbuf 0, 0 + 36 * i0, {{\[\[}}1, 20], [1, 1]]> {
// CHECK-COUNT-8:       loop.tensor_tensor "add" %[[SUM]]
// CHECK-NEXT:          loop.copy %[[SUM]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 9]]> -> %{{.*}} <dram 0 + 720 * i0 + 1440 * i1, {{\[\[}}9, 20], [1, 9]]>
// CHECK-NEXT:        }
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// INPLACE-LABEL: func.func @depthwise_batch
// INPLACE:         loop.memset
// INPLACE-COUNT-8:   loop.tensor_tensor "add"
// OFF-LABEL: func.func @depthwise_batch
// OFF:         loop.matmul
// OFF-NOT:     loop.tensor_tensor
func.func @depthwise_batch(%x: tensor<2x40x6x6xf32>, %w: tensor<40x1x3x3xf32>) -> tensor<2x40x3x3xf32> {
  %r = graph.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>, group = 40 : i64, tidal.origin = "dw2"} : (tensor<2x40x6x6xf32>, tensor<40x1x3x3xf32>) -> tensor<2x40x3x3xf32>
  func.return %r : tensor<2x40x3x3xf32>
}

// -----

// Constant weights: the in-place nest can hand channel tiles to the PE array. Of
// two tiles of 32 channels, the datasheet's busiest engine is least with one on
// the PE (9 matmuls for the 16 pixels) and one on ACT and POOL. The PE array takes
// the last tile (ACT and POOL can start on the first one its producer writes while
// the array finishes the producer). The diagonals of tile 1's weights are a
// constant ([32, 9 x 32], diag(w[:, t]) at columns 32t),
// loaded once. Each matmul contracts the channels of one tap's window with its
// diagonal into the tap's rectangle of the PSUM block: the centre tap (its
// diagonal 512 bytes in, tap 4) starts the block, the others accumulate (tap 0
// into the 3x3 outputs from (1, 1), 20 bytes in). ACT evacuates the block into the
// sum after the vector tile's instructions. With depthwise_pe_split=false, no
// matmul and no constant of diagonals.
// INPLACE-LABEL: func.func @split
// INPLACE:         %[[DIAG:.*]] = loop.const dense<"0x0000003F{{.*}}> : tensor<32x288xf32>
// INPLACE:         loop.nest "dws" domain [] order [] {
// INPLACE:           %[[PS:.*]] = loop.alloc_tile : !loop.tile<psum, 32, 16>
// INPLACE:           loop.copy %[[DIAG]] <dram 0, {{\[\[}}288, 32], [1, 288]]> -> %[[DT:.*]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 288]]>
// INPLACE-NEXT:      loop.matmul %[[PS]] <psum 0, 0, {{\[\[}}1, 32], [4, 4], [1, 4]]>, %[[DT]] <sbuf 0, 512, {{\[\[}}1, 32], [1, 32]]>, %[[XT:.*]] <sbuf 0, 64, {{\[\[}}1, 32], [4, 4], [1, 4]]> {zero_at = -1 : i64}
// INPLACE-NEXT:      loop.matmul %[[PS]] <psum 0, 20, {{\[\[}}1, 32], [4, 3], [1, 3]]>, %[[DT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 32]]>, %[[XT]] <sbuf 0, 64, {{\[\[}}1, 32], [4, 3], [1, 3]]>
// INPLACE-COUNT-7:   loop.matmul %[[PS]]
// INPLACE-NEXT:      loop.act "identity" %[[SUM:.*]] <sbuf 0, 0, {{\[\[}}1, 32], [4, 4], [1, 4]]>, %[[XT]] <sbuf 0, 0,
// INPLACE-COUNT-8:   loop.tensor_tensor "add" %[[SUM]]
// INPLACE-NEXT:      loop.act "identity" %[[SUM]] <sbuf 0, 64, {{\[\[}}1, 32], [1, 16]]>, %[[PS]] <psum 0, 0, {{\[\[}}1, 32], [1, 16]]>
// INPLACE-NEXT:      loop.copy %[[SUM]]
// NOSPLIT-LABEL: func.func @split
// NOSPLIT-NOT:     loop.matmul
// NOSPLIT-NOT:     tensor<32x288xf32>
// NOSPLIT:         func.return
func.func @split(%x: tensor<1x64x4x4xf32>) -> tensor<1x64x4x4xf32> {
  %w = graph.constant dense<0.5> : tensor<64x1x3x3xf32>
  %r = graph.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>, group = 64 : i64, tidal.origin = "dws"} : (tensor<1x64x4x4xf32>, tensor<64x1x3x3xf32>) -> tensor<1x64x4x4xf32>
  func.return %r : tensor<1x64x4x4xf32>
}

// -----

// The split counts the cycles of the nest that wrote the input (depthwise_split_context):
// here a 1x1 conv of 256 channels, 16 matmuls on the PE array, lowered just before.
// With that load on the PE array both channel tiles of the depthwise conv go to
// ACT and POOL (no diagonal matmul, no constant of diagonals); counting the
// depthwise nest alone, as @split above, the PE array takes one tile.
// INPLACE-LABEL: func.func @context
// INPLACE:         loop.nest "pw"
// INPLACE-COUNT-1:   loop.matmul
// INPLACE:         loop.nest "dwc"
// INPLACE-NOT:       loop.matmul
// INPLACE-NOT:       tensor<32x288xf32>
// INPLACE:         func.return
// NOCONTEXT-LABEL: func.func @context
// NOCONTEXT:         loop.nest "pw"
// NOCONTEXT:         loop.nest "dwc"
// NOCONTEXT-COUNT-9:   loop.matmul
// NOCONTEXT:         func.return
func.func @context(%x: tensor<1x256x4x4xf32>) -> tensor<1x64x4x4xf32> {
  %w1 = graph.constant dense<0.25> : tensor<64x256x1x1xf32>
  %y = graph.conv2d %x, %w1 {tidal.origin = "pw"} : (tensor<1x256x4x4xf32>, tensor<64x256x1x1xf32>) -> tensor<1x64x4x4xf32>
  %w = graph.constant dense<0.5> : tensor<64x1x3x3xf32>
  %r = graph.conv2d %y, %w {pads = array<i64: 1, 1, 1, 1>, group = 64 : i64, tidal.origin = "dwc"} : (tensor<1x64x4x4xf32>, tensor<64x1x3x3xf32>) -> tensor<1x64x4x4xf32>
  func.return %r : tensor<1x64x4x4xf32>
}

// -----

// depthwise-pe-rows: one channel tile of 8 (24x24, 288 pixels a PSUM bank) that ACT
// and POOL would run alone. The PE array takes output rows 0-11 (one PSUM block: the
// full tap, then every other tap over its rectangle of those rows, against the
// diagonals of the constant weights), ACT and POOL rows 12-23 (the full tap times its
// column by ACT at row 12, sbuf offset 12 x 24 x 4 = 1152, every other tap added by
// POOL over its rectangle of those rows); ACT evacuates the block into rows 0-11 of
// the sum; one copy stores the whole plane. Without the option (NOROWS, both pinned
// with ACT writing the first tap), no matmul.
// FMAIP-LABEL: func.func @rows
// FMAIP:           loop.nest "dwr" domain [] order [] {
// FMAIP:             %[[X:.*]] = loop.alloc_tile : !loop.tile<sbuf, 8, 576>
// FMAIP-NEXT:        %[[SUM:.*]] = loop.alloc_tile : !loop.tile<sbuf, 8, 576>
// FMAIP:             %[[PS:.*]] = loop.alloc_tile : !loop.tile<psum, 8, 288>
// FMAIP:             loop.matmul %[[PS]] <psum 0, 0, {{\[\[}}1, 8], [24, 12], [1, 24]]>, %{{.*}}, %[[X]] <sbuf 0, 0, {{\[\[}}1, 8], [24, 12], [1, 24]]> {zero_at = -1 : i64}
// FMAIP-COUNT-8:     loop.matmul %[[PS]]
// FMAIP-NEXT:        loop.act "identity" %[[SUM]] <sbuf 0, 1152, {{\[\[}}1, 8], [24, 12], [1, 24]]>, %[[X]] <sbuf 0, 1056, {{\[\[}}1, 8], [24, 12], [1, 24]]> scale
// FMAIP-COUNT-8:     loop.tensor_tensor "add" %[[SUM]]
// FMAIP-NEXT:        loop.act "identity" %[[SUM]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 288]]>, %[[PS]] <psum 0, 0, {{\[\[}}1, 8], [1, 288]]>
// FMAIP-NEXT:        loop.copy %[[SUM]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 576]]>
// Without a bias, depthwise-pool-first has POOL multiply the window of a tap that
// covers every output of rows 12-23 (the ACT/POOL part, sbuf offset 1152: tap 1, the
// top middle one, 4 bytes into the weights) by its weight column read by a
// broadcast; ACT only evacuates the PE block.
// POOLFIRST-LABEL: func.func @rows
// POOLFIRST:         loop.tensor_tensor "mul" %[[SUM:.*]] <sbuf 0, 1152, {{\[\[}}1, 8], [24, 12], [1, 24]]>, %[[X:.*]] <sbuf 0, 1056, {{\[\[}}1, 8], [24, 12], [1, 24]]>, %[[W:.*]] <sbuf 0, 4, {{\[\[}}1, 8], [0, 12], [0, 24]]>
// POOLFIRST-COUNT-8: loop.tensor_tensor "add" %[[SUM]]
// POOLFIRST-NEXT:    loop.act "identity" %[[SUM]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 288]]>
// NOROWS-LABEL: func.func @rows
// NOROWS-NOT:       loop.matmul
// NOROWS:           loop.act "identity" %{{.*}} <sbuf 0, 0, {{\[\[}}1, 8], [24, 24], [1, 24]]>
// NOROWS-NOT:       loop.matmul
// NOROWS:           func.return
func.func @rows(%x: tensor<1x8x24x24xf32>) -> tensor<1x8x24x24xf32> {
  %w = graph.constant dense<0.25> : tensor<8x1x3x3xf32>
  %r = graph.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>, group = 8 : i64, tidal.origin = "dwr"} : (tensor<1x8x24x24xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x24x24xf32>
  func.return %r : tensor<1x8x24x24xf32>
}
