"""NumPy interpreters of the IR at every level, and the numerics checker built on
them (`--check-numerics`)."""
