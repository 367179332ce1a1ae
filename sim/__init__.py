"""The hardware model of the Tidal accelerator. Imports no xDSL and nothing of the compiler."""
