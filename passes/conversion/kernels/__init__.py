"""The accelerator kernels: how each graph op is tiled for a chip and built as loop
nests. `graph_ops` holds one kernel per kind of graph op, whose `plan` decides the
tiles (`plan.TilePlan`, or a `plan.Refusal` saying why the chip cannot hold it) and
whose `emit` builds the nests from that plan, with the tiling and nests of
`gemm`, `conv` (and pad), `pool`, `eltwise`, `softmax`, `norm` and `move`; `nest_builder` is the shared builder;
`concat_placement` places Concat operands in their consumer's buffer."""
