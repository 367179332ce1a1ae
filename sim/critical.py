"""The critical path of a run: the chain of instructions, each started by the one
before it, that ends with the run's last instruction.

The machine (`Machine(critical_path=True)`) records every instruction it ran as a
`Node`: its engine, start, end, source op and *cause*, the event that let it
start when it did:

- `("done", node)`: `node` ended then: the instruction before it on its engine
  (compute engines run in order), the instruction whose signal released its wait
  (an instruction or a DMA descriptor retiring), or, on a DMA queue that was full
  or draining, the descriptor whose retirement freed it;
- `("issued", desc)`: a DMA queue issues its next instruction as soon as the
  descriptor before it has issued (up to `dma_queue_depth` in flight): the
  instruction started when that descriptor did, for that descriptor's cause;
- `("fetch", (since, prior))`: its record was not in the engine's instruction
  buffer: the engine waited for the fetch from `since` on, and `prior` is what
  let it reach the instruction;
- `("start", None)`: the host started the engine at cycle 0.

Walking back from the last instruction through the causes covers the run's
cycles exactly once: each node's own span, the fetch stalls and the gaps between a
cause and the start it allowed (a satisfied wait's `sync_cycles`). Shortening any
other instruction cannot shorten the run; shortening one on the path can, by at
most its span, and only until another chain becomes the longest.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

Node = tuple[str, float, float, int, int, tuple[str, Any]]
"""(engine, start, end, debug-table index or -1, opcode, cause): one instruction
the machine ran. A DMA descriptor's span runs from its issue to its retirement."""

START: tuple[str, Any] = ("start", None)

TOP_SOURCES = 12
"""How many (engine, source op) entries `critical_path` lists."""


def critical_path(
    nodes: list[Node], debug: list[str], opcode_name: Any, start: float = 0.0
) -> dict[str, Any]:
    """The critical path through `nodes`, the instructions of a run that began at
    cycle `start` (a rerun's, on a machine that ran before), as stats: its `cycles`
    (from `start` to the last node's end), the cycles on it per engine (`engines`, each DMA queue its own), of
    instruction fetch stalls per engine (`fetch`) and of gaps (`gaps`: a satisfied
    wait's sync cycles), the instructions on it (`instructions`), and the
    `TOP_SOURCES` (engine, source op) pairs with the most cycles on it (`sources`,
    the source op None where the record names none; `opcode` the commonest
    opcode of those instructions). Empty for a run of no instructions."""
    if not nodes:
        return {}
    node: Node | None = max(nodes, key=lambda n: n[2])
    assert node is not None
    cycles = node[2] - start
    engines: Counter[str] = Counter()
    fetch: Counter[str] = Counter()
    sources: Counter[tuple[str, int]] = Counter()
    opcodes: dict[tuple[str, int], Counter[int]] = {}
    gaps = 0.0
    count = 0
    while node is not None:
        name, began, end, dbg, op, cause = node
        count += 1
        engines[name] += end - began
        sources[(name, dbg)] += end - began
        opcodes.setdefault((name, dbg), Counter())[op] += 1
        node, t = None, began
        while True:
            kind, ref = cause
            if kind == "done" and ref is not None:
                gaps += max(0.0, t - ref[2])
                node = ref
                break
            if kind == "issued":  # the descriptor before it on the queue issued now
                cause = ref.node[5]
                continue
            if kind == "fetch":
                since, cause = ref
                fetch[name] += t - since
                t = since
                continue
            gaps += t - start  # ("start", None): from the run's start
            break
    return {
        "cycles": cycles,
        "instructions": count,
        "engines": {k: round(v) for k, v in engines.most_common()},
        "fetch": {k: round(v) for k, v in fetch.most_common()},
        "gaps": round(gaps),
        "sources": [
            {
                "engine": name,
                "source": debug[dbg] if dbg >= 0 else None,
                "opcode": opcode_name(opcodes[(name, dbg)].most_common(1)[0][0]),
                "cycles": round(v),
            }
            for (name, dbg), v in sources.most_common(TOP_SOURCES)
        ],
    }


def engine_class(name: str) -> str:
    """'dma' for a DMA queue's name (dma0, dma1, ...), else the name (pe, act, pool)."""
    return "dma" if name.startswith("dma") else name


def summary(path: dict[str, Any]) -> str:
    """One line: the share of the critical path per engine class, largest first,
    and its top source op, e.g. "pe 44%, dma 41% (dma0 29%), act 2%; top: pe n0 4%"."""
    if not path:
        return "no instructions"
    total = path["cycles"] or 1.0
    by_class: Counter[str] = Counter()
    for name, v in path["engines"].items():
        by_class[engine_class(name)] += v
    fetch = sum(path["fetch"].values())
    parts = []
    for cls, v in by_class.most_common():
        if round(100 * v / total) == 0:
            continue
        part = f"{cls} {100 * v / total:.0f}%"
        if cls == "dma":
            queues = [(n, q) for n, q in path["engines"].items() if engine_class(n) == "dma"]
            if len(queues) > 1:
                top, q = max(queues, key=lambda x: x[1])
                part += f" ({top} {100 * q / total:.0f}%)"
        parts.append(part)
    for what, v in (("fetch", fetch), ("gaps", path["gaps"])):
        if round(100 * v / total):
            parts.append(f"{what} {100 * v / total:.0f}%")
    line = ", ".join(parts)
    if path["sources"]:
        s = path["sources"][0]
        line += f"; top: {s['engine']} {s['source'] or '(no source)'} {100 * s['cycles'] / total:.0f}%"
    return line
