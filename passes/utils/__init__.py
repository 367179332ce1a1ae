"""Helpers shared by passes: level checks of a pass's input (`expect`) and silencing
xDSL's diagnostics while a pipeline runs (`quiet`)."""
