"""Transforms at the graph level: canonicalisation, placement (accelerator or host),
and splitting a partitioned graph into device and host segments."""
