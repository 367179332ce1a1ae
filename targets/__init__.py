"""Translations to and from external formats. `get_all_targets()`: name -> lazy factory."""

from collections.abc import Callable

from xdsl.utils.target import Target


def get_all_targets() -> dict[str, Callable[[], type[Target]]]:
    def tbin_listing() -> type[Target]:
        from tidal.targets.binary import TbinListingTarget

        return TbinListingTarget

    return {"tbin-listing": tbin_listing}
