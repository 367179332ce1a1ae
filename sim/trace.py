"""What a run looked like: Chrome trace-event JSON (for Perfetto) and a timeline plot.

Both read the stats of a run made with `trace=True` (`stats["trace"]`,
`stats["fetch_trace"]`, `stats["stall_trace"]`, see `machine.run_program`) and the chip
config; times are simulated cycles, shown in microseconds at the chip's clock.

Tracks (one Chrome "thread" each, in one "process" named after the chip):

- one per engine (`pe`, `act`, `pool`) and per DMA queue (`dma0`, ...): a slice per
  instruction, named after its opcode, with the instruction index and the source graph
  op from the binary's debug table in its args; and a slice per stall, named
  `stall: fetch`, `stall: semaphore <n>`, `stall: queue` (every descriptor slot of a
  DMA queue taken) or `stall: drain` (a queue's HALT or SIGNAL waiting for its
  descriptors), over the time the engine could not issue. A DMA queue's descriptors
  in flight at once go on extra tracks below it (`dma0 (2)`, ...);
- one per engine for its instruction fetch (`pe fetch`, ...): a `FETCH` slice per
  transfer of records from DRAM into the engine's instruction buffer.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from tidal.sim.config import ChipConfig
from tidal.sim.machine import engine_names

if TYPE_CHECKING:  # matplotlib is imported only when a plot is drawn
    from matplotlib.figure import Figure

_PID = 1


def _tracks(chip: ChipConfig) -> tuple[dict[str, int], dict[str, int]]:
    """Thread ids: engines first (in engine order), then their fetch tracks."""
    names = engine_names(chip)
    engines = {name: i + 1 for i, name in enumerate(names)}
    fetch = {name: len(names) + i + 1 for i, name in enumerate(names)}
    return engines, fetch


def chrome_trace(stats: dict[str, Any], chip: ChipConfig) -> dict[str, Any]:
    """The run as a Chrome trace-event JSON object (`{"traceEvents": [...]}`)."""
    if "trace" not in stats:
        raise ValueError("the run was made without trace=True")
    ns = 1e9 / chip.clock_hz  # nanoseconds per cycle
    engines, fetch = _tracks(chip)
    events: list[dict[str, Any]] = [
        {
            "name": "process_name",
            "ph": "M",
            "pid": _PID,
            "tid": 0,
            "args": {"name": f"tidal chip '{chip.name}'"},
        }
    ]
    for track, tids in (("", engines), (" fetch", fetch)):
        for name, tid in tids.items():
            events.append(
                {
                    "name": "thread_name",
                    "ph": "M",
                    "pid": _PID,
                    "tid": tid,
                    "args": {"name": name + track},
                }
            )
            events.append(
                {
                    "name": "thread_sort_index",
                    "ph": "M",
                    "pid": _PID,
                    "tid": tid,
                    "args": {"sort_index": tid},
                }
            )

    def slice_(name: str, cat: str, tid: int, start: float, end: float, **args: Any):
        # Whole nanoseconds, written as microseconds: Perfetto rounds ts * 1000 to
        # an integer, so a slice that ends when the next starts meets it exactly
        # instead of overlapping it by a rounding error.
        t0, t1 = round(start * ns), round(end * ns)
        return {
            "name": name,
            "cat": cat,
            "ph": "X",
            "ts": t0 / 1000,
            "dur": (t1 - t0) / 1000,
            "pid": _PID,
            "tid": tid,
            "args": {"start_cycle": start, "end_cycle": end, **args},
        }

    # (engine, start, end, name, category, args) of every instruction and stall
    spans: list[tuple[str, float, float, str, str, dict[str, Any]]] = [
        (
            t["engine"],
            t["start"],
            t["end"],
            t["opcode"],
            "instruction",
            {"index": t["index"], "source": t["source"]},
        )
        for t in stats["trace"]
    ]
    for s in stats["stall_trace"]:
        what = s["kind"]
        if "semaphore" in s:
            what += f" {s['semaphore']}"
        spans.append(
            (s["engine"], s["start"], s["end"], f"stall: {what}", "stall", {"index": s["index"]})
        )
    # A DMA queue with several descriptors in flight overlaps its own slices: each
    # slice goes on the first of the engine's tracks free at its start (the engine's
    # own track, then "dma0 (2)", ...), so no track has overlapping slices.
    free: dict[str, list[float]] = {}  # per engine, when each of its tracks frees
    extra: dict[tuple[str, int], int] = {}
    next_tid = len(engines) + len(fetch) + 1
    for engine, start, end, name, cat, args in sorted(spans, key=lambda x: (x[1], x[2])):
        ends = free.setdefault(engine, [])
        lane = next((i for i, e in enumerate(ends) if e <= start), len(ends))
        if lane == len(ends):
            ends.append(end)
        else:
            ends[lane] = end
        tid = engines[engine]
        if lane:
            tid = extra.get((engine, lane), 0)
            if not tid:
                tid = extra[engine, lane] = next_tid
                next_tid += 1
                for meta, value in (
                    ("thread_name", {"name": f"{engine} ({lane + 1})"}),
                    ("thread_sort_index", {"sort_index": engines[engine] + lane / 100}),
                ):
                    events.append(
                        {"name": meta, "ph": "M", "pid": _PID, "tid": tid, "args": value}
                    )
        events.append(slice_(name, cat, tid, start, end, **args))
    for f in stats["fetch_trace"]:
        events.append(
            slice_(
                "FETCH",
                "fetch",
                fetch[f["engine"]],
                f["start"],
                f["end"],
                records=f"[{f['first']}, {f['first'] + f['count']})",
                bytes=f["bytes"],
            )
        )
    return {
        "traceEvents": events,
        "displayTimeUnit": "ns",
        "otherData": {
            "chip": chip.name,
            "clock_hz": chip.clock_hz,
            "cycles": stats["cycles"],
        },
    }


def _merged(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(start, width) bars of the union of `spans` (touching spans merge), so that a
    long run draws a few thousand bars, not one per instruction."""
    out: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][0] + out[-1][1]:
            s0, w0 = out[-1]
            out[-1] = (s0, max(w0, end - s0))
        else:
            out.append((start, end - start))
    return out


def plot_timeline(stats: dict[str, Any], chip: ChipConfig) -> bytes:
    """The timeline figure (`timeline_figure`) as PNG bytes."""
    buf = io.BytesIO()
    timeline_figure(stats, chip).savefig(buf, format="png")
    return buf.getvalue()


def timeline_figure(stats: dict[str, Any], chip: ChipConfig) -> Figure:
    """A figure: engine occupancy over time (busy, fetch stall, semaphore wait, fetch
    transfers) beside a bar chart of each engine's busy / stall / idle share of the
    cycles. The title gives the PE array's MAC utilisation (`pe_mac_utilization`:
    MACs / peak), the bar chart each engine's `busy_fraction`; one legend for both
    sits in a strip below the axes, never over the tracks."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    if "trace" not in stats:
        raise ValueError("the run was made without trace=True")
    names = engine_names(chip)
    us = 1e6 / chip.clock_hz
    busy: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    fetch_stall: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    sem_wait: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    fetching: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for t in stats["trace"]:
        busy[t["engine"]].append((t["start"] * us, t["end"] * us))
    for s in stats["stall_trace"]:
        kind = fetch_stall if s["kind"] == "fetch" else sem_wait
        kind[s["engine"]].append((s["start"] * us, s["end"] * us))
    for f in stats["fetch_trace"]:
        fetching[f["engine"]].append((f["start"] * us, f["end"] * us))

    fig = Figure(figsize=(12, 2.2 + 0.45 * len(names)), dpi=100)
    timeline, shares = fig.subplots(
        1, 2, gridspec_kw={"width_ratios": [4, 1]}, sharey=True
    )
    layers = (
        (fetching, -0.42, 0.14, "#9ecae1", "instruction fetch"),
        (busy, -0.25, 0.5, "#3182bd", "busy"),
        (fetch_stall, -0.25, 0.5, "#fd8d3c", "stall: fetch"),
        (sem_wait, -0.25, 0.5, "#d9d9d9", "stall: semaphore"),
    )
    # Busy last, over the stalls: a DMA queue stalled at a wait (or on a full queue)
    # still has descriptors in flight.
    drawn = (layers[0], layers[2], layers[3], layers[1])
    for row, name in enumerate(names):
        for spans, dy, height, colour, _ in drawn:
            bars = _merged(spans[name])
            if bars:
                timeline.broken_barh(bars, (row + dy, height), facecolors=colour)
    handles = [
        Patch(color=colour, label=label)
        for spans, _, _, colour, label in layers
        if any(spans[n] for n in names)
    ]
    total_us = stats["cycles"] * us
    timeline.set_xlim(0, max(total_us, 1e-9))
    timeline.set_yticks(range(len(names)), names)
    timeline.invert_yaxis()
    timeline.set_xlabel("simulated time (us)")
    timeline.set_title(
        f"chip '{chip.name}': {stats['cycles']:,} cycles, "
        f"PE MAC utilisation {100 * stats['pe_mac_utilization']:.1f}%"
    )

    cycles = max(stats["cycles"], 1)
    left = [0.0] * len(names)
    for key, colour, label in (
        ("busy_cycles", "#3182bd", "busy"),
        ("fetch_stall_cycles", "#fd8d3c", "fetch stall"),
        ("semaphore_wait_cycles", "#d9d9d9", "semaphore wait"),
        ("idle_cycles", "#f7f7f7", "idle"),
    ):
        widths = [100 * stats["engines"][n][key] / cycles for n in names]
        shares.barh(
            range(len(names)),
            widths,
            left=left,
            color=colour,
            edgecolor="#969696",
            linewidth=0.5,
            label=label,
        )
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for row, name in enumerate(names):
        share = 100 * stats["engines"][name]["busy_fraction"]
        shares.text(1, row, f"{share:.1f}%", va="center", fontsize="small")
    shares.set_xlim(0, 100)
    shares.set_xlabel("share of cycles (%)")
    shares.set_title("busy fraction per engine")
    # One legend for both panels (the bars use the timeline's colours, plus idle),
    # in a strip of its own under the axes.
    handles.append(Patch(facecolor="#f7f7f7", edgecolor="#969696", label="idle"))
    strip = 0.4 / fig.get_figheight()
    fig.legend(
        handles=handles, loc="lower center", ncol=len(handles), fontsize="small",
        frameon=False, bbox_to_anchor=(0.5, 0.0),
    )
    fig.tight_layout(rect=(0, strip, 1, 1))
    return fig
