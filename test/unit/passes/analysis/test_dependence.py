"""The dependence graph of accel programs written as text: RAW/WAR/WAW across
engines, loop-carried edges, false dependences that only bounding boxes see, DRAM
against SBUF, and accel-insert-sync placing its waits exactly where the graph says."""

from __future__ import annotations

from tidal.dialects.accel import Accel, InstructionOp, ProgramOp, WaitOp
from tidal.passes.accel.insert_sync import AccelInsertSyncPass
from tidal.passes.analysis.dependence import DependenceGraph, Site
from tidal.sim.isa import engine_name
from xdsl.context import Context
from xdsl.dialects.builtin import Builtin, ModuleOp
from xdsl.parser import Parser


def parse(body: str) -> ModuleOp:
    ctx = Context()
    ctx.load_dialect(Builtin)
    ctx.load_dialect(Accel)
    text = f'accel.program "small" dram 65536 {{\n{body}\n}}'
    return Parser(ctx, text).parse_module()


def program(module: ModuleOp) -> ProgramOp:
    return next(op for op in module.walk() if isinstance(op, ProgramOp))


def edges(body: str, exact: bool = True) -> set[tuple[int, int, str, str, bool]]:
    graph = DependenceGraph.build(program(parse(body)), exact=exact)
    return {(d.src.index, d.dst.index, d.kind, d.space, d.carried) for d in graph.deps}


def test_raw_war_waw_across_engines():
    body = """
      accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]>
      accel.act relu <sbuf 0, 64, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>
      accel.dma 1 <dram 1024, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]>
      accel.memset <sbuf 0, 64, [[1, 32], [1, 8]]>, 0.0
    """
    assert edges(body) == {
        (0, 1, "RAW", "sbuf", False),  # act reads what dma0 loaded
        (1, 2, "WAR", "sbuf", False),  # dma1 overwrites what act read
        (0, 2, "WAW", "sbuf", False),  # dma1 overwrites what dma0 wrote (same bytes)
        (1, 3, "WAW", "sbuf", False),  # memset overwrites act's result
    }


def test_a_covering_write_hides_older_accesses():
    """The second load covers the first: a later reader depends on the second only
    (the first is ordered before it through the WAW edge)."""
    body = """
      accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]>
      accel.dma 1 <dram 1024, [[16, 32], [1, 16]]> -> <sbuf 0, 0, [[1, 32], [1, 16]]>
      accel.act relu <sbuf 0, 64, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>
    """
    assert edges(body) == {(0, 1, "WAW", "sbuf", False), (1, 2, "RAW", "sbuf", False)}


def test_strided_writes_that_interleave_are_independent():
    """Two DMAs write the even and the odd elements of one row: their boxes overlap,
    their elements do not. A reader of the whole row depends on both."""
    body = """
      accel.dma 0 <dram 0, [[64, 16], [1, 32]]> -> <sbuf 0, 0, [[1, 16], [2, 32]]>
      accel.dma 1 <dram 4096, [[64, 16], [1, 32]]> -> <sbuf 0, 4, [[1, 16], [2, 32]]>
      accel.act relu <sbuf 0, 512, [[1, 16], [1, 64]]>, <sbuf 0, 0, [[1, 16], [1, 64]]>
    """
    assert edges(body) == {(0, 2, "RAW", "sbuf", False), (1, 2, "RAW", "sbuf", False)}
    assert (0, 1, "WAW", "sbuf", False) in edges(body, exact=False)


def test_dram_and_sbuf_at_the_same_offset_are_independent():
    body = """
      accel.dma 0 <sbuf 0, 0, [[1, 4], [1, 8]]> -> <dram 0, [[8, 4], [1, 8]]>
      accel.memset <sbuf 0, 128, [[1, 4], [1, 8]]>, 1.0
      accel.dma 1 <dram 128, [[8, 4], [1, 8]]> -> <sbuf 0, 256, [[1, 4], [1, 8]]>
      accel.dma 2 <dram 0, [[8, 4], [1, 8]]> -> <sbuf 4, 0, [[1, 4], [1, 8]]>
    """
    # memset's sbuf bytes 128.. are not dram bytes 128..; dma2 reads what dma0 stored
    assert edges(body) == {(0, 3, "RAW", "dram", False)}


def test_loop_carried_edge_only_across_iterations():
    """dma0 loads into the same bytes every iteration and the matmul reads them: the
    load of the next iteration must wait for this iteration's matmul (a carried WAR
    edge, matmul later in the body); the RAW pairs hold in one iteration and, for
    dma0's bytes, across iterations too. dma1 loads a fresh tile per iteration: its
    RAW edge holds within an iteration only, and it has no carried WAR edge."""
    body = """
      accel.repeat 4 {
        accel.dma 0 <dram 0 + 1024 * i0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]>
        accel.dma 1 <dram 8192 + 1024 * i0, [[8, 32], [1, 8]]> -> <sbuf 0, 4096 + 32 * i0, [[1, 32], [1, 8]]>
        accel.matmul <psum 0, 0 + 32 * i0, [[1, 8], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 4096 + 32 * i0, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
      }
    """
    graph = DependenceGraph.build(program(parse(body)))
    got = {
        (d.src.index, d.dst.index, d.kind, d.carried): d.levels() for d in graph.deps
    }
    assert got == {
        (0, 2, "RAW", False): [None, 0],
        (1, 2, "RAW", False): [None],
        (2, 0, "WAR", True): [0],
    }


def test_boxes_see_a_false_carried_edge():
    """The matmul reads the tile of its own iteration (32 * i0); the load of a later
    iteration writes another one. Only the bounding boxes (all iterations) meet."""
    body = """
      accel.repeat 4 {
        accel.dma 0 <dram 0 + 1024 * i0, [[8, 32], [1, 8]]> -> <sbuf 0, 32 * i0, [[1, 32], [1, 8]]>
        accel.matmul <psum 0, 0 + 32 * i0, [[1, 8], [1, 8]]>, <sbuf 0, 32 * i0, [[1, 32], [1, 8]]>, <sbuf 0, 4096, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
      }
    """
    assert (1, 0, "WAR", "sbuf", True) in edges(body, exact=False)
    assert edges(body) == {(0, 1, "RAW", "sbuf", False)}


def waits_before(module: ModuleOp) -> dict[int, set[str]]:
    """For every instruction (numbered in program order), the engines it waits for."""
    out: dict[int, set[str]] = {}
    index = 0
    for op in program(module).walk():
        if isinstance(op, InstructionOp) and not isinstance(op, WaitOp):
            engines: set[str] = set()
            prev = op.prev_op
            while isinstance(prev, WaitOp):
                engines.add(engine_name(prev.sem.value.data))
                prev = prev.prev_op
            out[index] = engines
            index += 1
    return out


QUEUES = frozenset({"dma0", "dma1"})


def test_insert_sync_waits_exactly_where_the_graph_says():
    body = """
      accel.repeat 4 {
        accel.dma 0 <dram 0 + 1024 * i0, [[8, 32], [1, 8]]> -> <sbuf 0, 32 * i0, [[1, 32], [1, 8]]>
        accel.matmul <psum 0, 0 + 32 * i0, [[1, 8], [1, 8]]>, <sbuf 0, 32 * i0, [[1, 32], [1, 8]]>, <sbuf 0, 4096, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
        accel.act relu <sbuf 0, 8192 + 32 * i0, [[1, 8], [1, 8]]>, <psum 0, 0 + 32 * i0, [[1, 8], [1, 8]]>
      }
      accel.dma 1 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 4096, [[1, 32], [1, 8]]>
      accel.dma 2 <sbuf 0, 8192, [[1, 8], [1, 32]]> -> <dram 32768, [[32, 8], [1, 32]]>
    """
    for exact in (True, False):
        module = parse(body)
        # The small chip's queues have several descriptors in flight: the edges the
        # pass syncs are those between engines and those within a queue.
        graph = DependenceGraph.build(
            program(module), exact=exact, cross_engine=True, unordered=QUEUES
        )
        want = {s.index: {d.src.engine for d in graph.into(s)} for s in graph.sites}
        AccelInsertSyncPass(exact=exact).apply(Context(), module)
        assert waits_before(module) == want
    # exact: dma0 never waits (no iteration's load meets an earlier matmul's read);
    # boxes: it waits for the matmul and for its own load of the iteration before
    assert want[0] == {"pe", "dma0"}
    module = parse(body)
    AccelInsertSyncPass().apply(Context(), module)
    assert waits_before(module) == {
        0: set(),
        1: {"dma0"},
        2: {"pe"},
        3: {"pe"},
        4: {"act"},
    }


def test_only_the_last_source_of_an_engine_signals():
    """Three loads on one queue feed one reader: the reader's wait counts the last
    load's signal, which the queue completes after the two before it."""
    body = """
      accel.dma 0 <dram 0, [[8, 8], [1, 8]]> -> <sbuf 0, 0, [[1, 8], [1, 8]]>
      accel.dma 0 <dram 512, [[8, 8], [1, 8]]> -> <sbuf 8, 0, [[1, 8], [1, 8]]>
      accel.dma 0 <dram 1024, [[8, 8], [1, 8]]> -> <sbuf 16, 0, [[1, 8], [1, 8]]>
      accel.act relu <sbuf 0, 64, [[1, 24], [1, 8]]>, <sbuf 0, 0, [[1, 24], [1, 8]]>
    """
    signals = {}
    for prune in (True, False):
        module = parse(body)
        AccelInsertSyncPass(prune_signals=prune).apply(Context(), module)
        ops = [op for op in program(module).body.block.ops]
        signals[prune] = [
            op.signal is not None
            for op in ops
            if isinstance(op, InstructionOp) and not isinstance(op, WaitOp)
        ]
        waits = [op for op in ops if isinstance(op, WaitOp)]
        assert len(waits) == 1
        assert waits[0].value.data.base == (1 if prune else 3)
    assert signals == {
        True: [False, False, True, False],
        False: [True, True, True, False],
    }


def test_sites_are_in_program_order():
    graph = DependenceGraph.build(
        program(
            parse(
                "accel.repeat 2 {\n accel.memset <sbuf 0, 0, [[1, 4], [1, 8]]>, 0.0\n}\n"
                "accel.memset <sbuf 0, 32, [[1, 4], [1, 8]]>, 0.0"
            )
        )
    )
    assert [(s.index, len(s.path)) for s in graph.sites] == [(0, 1), (1, 0)]
    assert isinstance(graph.sites[0], Site)


def test_an_accumulating_matmul_reads_and_writes_its_tile():
    """The second matmul adds into the first one's PSUM tile: RAW and WAW on one
    engine; ACT then reads the sum and depends on the last writer only."""
    body = """
      accel.matmul <psum 0, 0, [[1, 8], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
      accel.matmul <psum 0, 0, [[1, 8], [1, 8]]>, <sbuf 0, 128, [[1, 32], [1, 8]]>, <sbuf 0, 192, [[1, 32], [1, 8]]>
      accel.act relu <sbuf 0, 256, [[1, 8], [1, 8]]>, <psum 0, 0, [[1, 8], [1, 8]]>
    """
    assert edges(body) == {
        (0, 1, "RAW", "psum", False),
        (0, 1, "WAW", "psum", False),
        (1, 2, "RAW", "psum", False),
    }


def test_cross_engine_keeps_exactly_the_cross_engine_edges():
    """`cross_engine=True` skips the same-engine tests, not their effect: a
    same-engine write still hides what it covers, so the cross-engine edges are
    those of the whole graph (forward and loop-carried, exact and on boxes)."""
    body = """
      accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]>
      accel.dma 0 <dram 1024, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]>
      accel.repeat 4 {
        accel.dma 1 <dram 0 + 1024 * i0, [[8, 32], [1, 8]]> -> <sbuf 0, 32 * i0, [[1, 32], [1, 8]]>
        accel.matmul <psum 0, 0 + 32 * i0, [[1, 8], [1, 8]]>, <sbuf 0, 32 * i0, [[1, 32], [1, 8]]>, <sbuf 0, 4096, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
        accel.act relu <sbuf 0, 0, [[1, 8], [1, 8]]>, <psum 0, 0 + 32 * i0, [[1, 8], [1, 8]]>
        accel.memset <sbuf 0, 0, [[1, 32], [1, 8]]>, 0.0
      }
      accel.act relu <sbuf 0, 8192, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>
    """
    for exact in (True, False):
        whole = DependenceGraph.build(program(parse(body)), exact=exact)
        cross = DependenceGraph.build(
            program(parse(body)), exact=exact, cross_engine=True
        )

        def key(d):
            return (d.src.index, d.dst.index, d.kind, d.space, d.carried)

        want = {key(d) for d in whole.deps if d.src.engine != d.dst.engine}
        assert {key(d) for d in cross.deps} == want
        assert any(d.src.engine == d.dst.engine for d in whole.deps)
        assert any(d.carried for d in cross.deps)


def test_last_conflict_on_boxes_agrees_with_footprints():
    """last_conflict shifts bounding boxes when every footprint involved touches
    all of its box: the same iteration as testing fixed footprints one by one."""
    from itertools import product

    from tidal.passes.analysis import dependence as dep

    graph = DependenceGraph.build(program(parse('''
      accel.repeat 4 {
        accel.repeat 3 {
          accel.dma 0 <dram 0, [[2, 4], [1, 2]]> -> <sbuf 0, 0 + 32 * i0 + 8 * i1, [[1, 4], [1, 2]]>
        }
      }
      accel.act identity <sbuf 0, 4096, [[1, 4], [1, 2]]>, <sbuf 0, 72, [[1, 4], [1, 2]]>
      accel.act identity <sbuf 0, 4096, [[1, 4], [1, 2]]>, <sbuf 0, 104, [[1, 2], [1, 1]]>
    ''')))
    dma, *acts = graph.sites
    for x in acts:
        pairs = [(d.pairs[0][0], d.pairs[0][1]) for d in graph.into(x) if d.src is dma]
        assert pairs, x.op
        xfp = [xo.footprint for xo, _ in pairs]
        assert dep._box_pairs(dma, 0, xfp, pairs) is not None  # the fast path applies
        want = next(
            (at for at in product(range(3, -1, -1), range(2, -1, -1))
             if any(dep.overlaps(f, dep.fixed_at(yo.footprint, 0, at)) for f, (_, yo) in zip(xfp, pairs))),
            None,
        )
        assert want is not None
        assert dep.last_conflict(dma, 0, xfp, pairs) == want


def test_iterations_are_made_one_at_a_time():
    """last_conflict's scan from the last iteration back makes each index vector as
    it goes: the first few of repeats of 2^31 and 2^31 x 3 iterations come at once
    (itertools.product would first hold every index of each range), in the same
    order as product over the reversed ranges."""
    from itertools import islice, product

    from tidal.passes.analysis.dependence import _backwards

    assert list(islice(_backwards([2**31]), 3)) == [(2**31 - 1,), (2**31 - 2,), (2**31 - 3,)]
    assert list(islice(_backwards([2**31, 3]), 4)) == [(2**31 - 1, 2), (2**31 - 1, 1), (2**31 - 1, 0), (2**31 - 2, 2)]
    assert list(_backwards([2, 3, 2])) == list(product(range(1, -1, -1), range(2, -1, -1), range(1, -1, -1)))
    assert list(_backwards([])) == [()]


def test_column_writes_meet_only_their_own_bytes(monkeypatch):
    """A concatenation along the last axis writes one column of a row-major DRAM
    tensor per input: each write's bounding range spans nearly the whole tensor, so
    a sweep over bounding ranges tested every write against every earlier one
    (quadratic: 1,000 inputs took 27 s). Entered by its rows, each write meets
    only the reader of the whole, and the overlap tests grow linearly."""
    import tidal.passes.analysis.dependence as dependence

    n = 96
    body = "\n".join(
        f"accel.dma 0 <dram {32 * i}, [[1, 8], [1, 1]]> -> <dram {32768 + 4 * i}, [[{n}, 8], [1, 1]]>"
        for i in range(n)
    )
    body += f"\naccel.dma 1 <dram 32768, [[{n}, 8], [1, {n}]]> -> <sbuf 0, 0, [[1, 8], [1, {n}]]>"
    calls = [0]
    real = dependence.overlaps

    def counted(x, y):
        calls[0] += 1
        return real(x, y)

    monkeypatch.setattr(dependence, "overlaps", counted)
    assert edges(body) == {(i, n, "RAW", "dram", False) for i in range(n)}
    assert calls[0] <= 2 * n
