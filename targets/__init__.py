"""Translations to and from external formats. `get_all_targets()`: name -> lazy factory."""

from collections.abc import Callable

from xdsl.utils.target import Target

# A module attribute: the graph inputs the ONNX importer compiled as constants (an
# initializer the model also lists as an input, which a feed may override in
# onnxruntime). The encoder copies it into the binary's metadata so that tidal-sim
# can say why such an input is not taken.
CONSTANT_INPUTS_ATTR = "tidal.constant_inputs"

# An accel.program attribute: the model's inputs the program does not take, each a
# dictionary {name, dtype, shape} (an input of another element type than f32, which
# no accelerator op reads: Hugging Face exports keep an unused `token_type_ids`).
# The encoder copies it into the binary's metadata ("unread_inputs") so that
# tidal-sim accepts, checks and ignores the inputs onnxruntime is fed.
UNREAD_INPUTS_ATTR = "tidal.unread_inputs"


def get_all_targets() -> dict[str, Callable[[], type[Target]]]:
    def tbin_listing() -> type[Target]:
        from tidal.targets.binary import TbinListingTarget

        return TbinListingTarget

    return {"tbin-listing": tbin_listing}
