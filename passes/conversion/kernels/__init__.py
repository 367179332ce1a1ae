"""The accelerator kernels: how each graph op is tiled for a chip and built as loop
nests. `nest_builder` is the shared builder; `concat_placement` places Concat operands
in their consumer's buffer."""
