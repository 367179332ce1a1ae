func.func @main(%x: memref<1000000x1000000xf32> {tidal.name = "x"}) -> (memref<1000000x1000000xf32> {tidal.name = "y"}) {
  func.return %x : memref<1000000x1000000xf32>
}
