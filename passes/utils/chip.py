"""The base of the passes sized for one chip preset: the `chip` option they all take
(a name from `tidal.sim.config.PRESETS`) and its preset.

    $ tidal-opt model.mlir -p 'loop-allocate{chip=tiny}'
    tidal-opt: error: loop-allocate: unknown chip preset 'tiny' (known: default, small)
"""

from __future__ import annotations

from abc import ABC
from dataclasses import dataclass

from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from tidal.sim.config import ChipConfig, UnknownChipError, get_chip


@dataclass(frozen=True)
class ChipPass(ModulePass, ABC):
    """A pass for the chip preset `chip` (`-p 'graph-to-loop{chip=small}'`)."""

    chip: str = "default"

    def chip_config(self) -> ChipConfig:
        """The preset named `chip`; an unknown name fails the pass in one line
        that starts with the pass's name."""
        try:
            return get_chip(self.chip)
        except UnknownChipError as e:
            raise PassFailedException(f"{self.name}: {e}") from None
