"""Conversions between levels: graph -> loop (`graph_to_loop`, built from the kernels
in `kernels/`) and loop -> accel (`loop_to_accel`)."""
