"""Tidal's xDSL universe: the single registration route for xdsl-opt and tidal-opt."""

from xdsl.universe import Universe

from tidal.dialects import get_all_dialects
from tidal.passes import get_all_passes
from tidal.targets import get_all_targets
from tidal.tools import xdsl_fixes  # noqa: F401 - the lexer fix, for xdsl-opt too

TIDAL_UNIVERSE = Universe(
    all_dialects=get_all_dialects(),
    all_passes=get_all_passes(),
    all_targets=get_all_targets(),
)
