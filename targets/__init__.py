"""Translations to and from external formats. `get_all_targets()`: name -> lazy factory."""

from collections.abc import Callable

from xdsl.utils.target import Target

# A module attribute: the graph inputs the ONNX importer compiled as constants (an
# initializer the model also lists as an input, which a feed may override in
# onnxruntime). The encoder copies it into the binary's metadata so that tidal-sim
# can say why such an input is not taken.
CONSTANT_INPUTS_ATTR = "tidal.constant_inputs"


def get_all_targets() -> dict[str, Callable[[], type[Target]]]:
    def tbin_listing() -> type[Target]:
        from tidal.targets.binary import TbinListingTarget

        return TbinListingTarget

    return {"tbin-listing": tbin_listing}
