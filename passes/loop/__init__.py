"""Transforms at the loop level: allocation of DRAM buffers and on-chip tiles
(`loop-allocate`), recorded as attributes for loop-to-accel."""
