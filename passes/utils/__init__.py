"""Helpers shared by passes: level checks of a pass's input (`expect`), silencing
xDSL's diagnostics while a pipeline runs (`quiet`) and the base of the passes that
take a chip preset (`chip`)."""
