"""Tidal's dialects: `graph` (whole tensors), `loop` (tiled nests), `accel` (instructions).

`get_all_dialects()` is the one registry: name -> lazy factory.
"""

from collections.abc import Callable

from xdsl.ir import Dialect


def get_all_dialects() -> dict[str, Callable[[], Dialect]]:
    def get_graph() -> Dialect:
        from tidal.dialects.graph import Graph

        return Graph

    def get_loop() -> Dialect:
        from tidal.dialects.loop import Loop

        return Loop

    def get_accel() -> Dialect:
        from tidal.dialects.accel import Accel

        return Accel

    return {"graph": get_graph, "loop": get_loop, "accel": get_accel}
