"""Analyses over the IR that passes query: exact affine footprints of accel
instructions, the dependence graph of an accel program, and instruction costs."""
