"""Transforms at the accel level: synchronisation between engines and splitting the
unified order into one instruction stream per engine."""
