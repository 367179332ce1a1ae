func.func @main(%x: memref<400000000xf32> {tidal.name = "x"}, %w: memref<400000000xf32> {tidal.name = "w"}) -> (memref<400000000xf32> {tidal.name = "y"}) {
  func.return %w : memref<400000000xf32>
}
