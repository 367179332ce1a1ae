"""The timeline plot: its two utilisation figures carry different names, and its
legend never covers the engine tracks."""

from __future__ import annotations

from types import SimpleNamespace

from matplotlib.backends.backend_agg import FigureCanvasAgg

from tidal.sim.config import SMALL
from tidal.sim.isa import Engine, Opcode, make_record
from tidal.sim.machine import run_program
from tidal.sim.trace import plot_timeline, timeline_figure

DMA0 = Engine.DMA0


def _stats(mk: SimpleNamespace) -> dict[str, object]:
    """A matmul (PE busy, few MACs for its cycles), a fill and a store: every layer
    of the timeline appears (fetches, busy, a fetch stall, a semaphore wait)."""
    fill = make_record(
        Opcode.MEMSET, Engine.POOL, signal=0, dst=mk.sbuf(0, 4, 0, (1, 64)), value=1.0
    )
    mm = make_record(
        Opcode.MATMUL,
        Engine.PE,
        flags=2,
        signal=1,
        dst=mk.psum(0, 4, 0, (1, 64)),
        stationary=mk.sbuf(0, 4, 0, (1, 4)),
        moving=mk.sbuf(0, 4, 0, (1, 64)),
    )
    store = make_record(
        Opcode.DMA, DMA0, src=mk.psum(0, 4, 0, (1, 64)), dst=mk.dram(0, (64, 4), (1, 64))
    )
    program = mk.build(
        {
            Engine.POOL: [fill],
            Engine.PE: [make_record(Opcode.WAIT, Engine.PE, sem=0, value=1), mm],
            DMA0: [make_record(Opcode.WAIT, DMA0, sem=1, value=1), store],
        },
        outputs=[mk.io("y", 0, (4, 64))],
    )
    _, stats = run_program(program, {}, trace=True)
    return stats


def test_title_and_panel_name_their_own_figure(mk: SimpleNamespace) -> None:
    stats = _stats(mk)
    fig = timeline_figure(stats, SMALL)
    timeline, shares = fig.axes
    mac = 100 * stats["pe_mac_utilization"]
    busy = 100 * stats["engines"]["pe"]["busy_fraction"]
    assert busy > 10 * mac > 0  # the two figures differ: they must not share a name
    assert timeline.get_title().endswith(f"PE MAC utilisation {mac:.1f}%")
    assert shares.get_title() == "busy fraction per engine"
    labels = [t.get_text() for t in shares.texts]
    assert labels[0] == f"{busy:.1f}%"  # the pe row


def test_legend_is_off_the_tracks(mk: SimpleNamespace) -> None:
    fig = timeline_figure(_stats(mk), SMALL)
    canvas = FigureCanvasAgg(fig)  # what savefig draws a PNG with
    canvas.draw()
    renderer = canvas.get_renderer()
    [legend] = fig.legends
    box = legend.get_window_extent(renderer)
    labels = {t.get_text() for t in legend.get_texts()}
    assert {"busy", "stall: semaphore", "instruction fetch", "idle"} <= labels
    for ax in fig.axes:
        assert ax.get_legend() is None
        assert not box.overlaps(ax.get_window_extent(renderer))
        assert not box.overlaps(ax.get_tightbbox(renderer))  # nor the tick labels
    assert plot_timeline(_stats(mk), SMALL)[:8] == b"\x89PNG\r\n\x1a\n"
