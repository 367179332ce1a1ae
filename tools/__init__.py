"""Tidal command-line entry points."""
