"""loop-keep-on-chip's SBUF fit check (`_SbufFit`) on wide fan-outs: the same
answers as whole linear scans, in work linear in the number of candidates (counted
placements, not time: N Relus whose N results one Sum reads rescanned every later
nest per candidate, cubic time)."""

from types import SimpleNamespace

import numpy as np

from tidal.passes.loop import keep_on_chip as koc
from tidal.passes.loop.allocate import LinearScan
from tidal.passes.loop.keep_on_chip import _SbufFit


def _whole(limit, tiles, kept):
    """Whether LinearScan places the tiles and the kept buffers within `limit`."""
    regions = [(t[0], 0, t[1], t[2]) for t in tiles]
    regions += [(c.first, -1, c.last, c.layout.elements * 4) for c in kept]
    scan = LinearScan()
    return all(
        scan.place(f, last, b).end <= limit
        for f, _, last, b in sorted(regions, key=lambda r: (r[0], r[1]))
    )


def _candidate(first, last, elements):
    return SimpleNamespace(first=first, last=last, layout=SimpleNamespace(elements=elements))


def _fan_out(n):
    """The tiles and candidates of n nests that each write a buffer (two 64-byte
    tiles at position 2k + 1, the buffer allocated at 2k) and one nest at 2n + 1
    that reads them all (n + 1 tiles): Relu x n -> Sum."""
    tiles = [(2 * k + 1, 2 * k + 1, 16) for k in range(n) for _ in range(2)]
    tiles += [(2 * n + 1, 2 * n + 1, 16)] * (n + 1)
    candidates = [_candidate(2 * k, 2 * n + 1, 4) for k in range(n)]
    return tiles, candidates


def _placements(limit, tiles, candidates):
    koc.PLACEMENTS[0] = 0
    fit, kept = _SbufFit(limit, tiles, []), []
    for c in candidates:
        if fit.add(c):
            kept.append(c)
    return koc.PLACEMENTS[0], kept


def test_a_wide_fan_out_costs_placements_linear_in_its_width():
    # every buffer fits: the scan of each candidate takes over the accepted one's
    small, kept = _placements(1 << 20, *_fan_out(100))
    assert len(kept) == 100
    large, kept = _placements(1 << 20, *_fan_out(200))
    assert len(kept) == 200
    assert large <= 2 * small + 10, (small, large)  # was ~n^2 / 2 more each time
    # SBUF full half-way: the refused ones cost no rescan either
    tiles, candidates = _fan_out(200)
    limit = 64 * 301
    count, kept = _placements(limit, tiles, candidates)
    assert 0 < len(kept) < 200
    assert count <= large + 10
    assert [c.first for c in kept] == [c.first for c in _greedy(limit, tiles, candidates)]


def _greedy(limit, tiles, candidates):
    kept = []
    for c in candidates:
        if _whole(limit, tiles, [*kept, c]):
            kept.append(c)
    return kept


def test_the_fit_agrees_with_whole_scans_on_long_lived_candidates():
    """Candidates that live until far ahead (taking the shortcut of moving the
    accepted placements above them up), among random tiles, some of which a later
    fit leaves out (`without`), accepting and refusing."""
    rng = np.random.default_rng(7)
    answers = set()
    for _ in range(60):
        limit = int(rng.integers(1_500, 6_000))
        n = int(rng.integers(5, 50))
        tiles = []
        for _ in range(int(rng.integers(0, 90))):
            first = int(rng.integers(0, n))
            tiles.append((first, first + int(rng.integers(0, 4)), int(rng.integers(1, 900))))
        fit, kept = _SbufFit(limit, tiles, []), []
        assert (fit.start is not None) == _whole(limit, tiles, [])
        for first in sorted(rng.choice(n, size=min(n, 15), replace=False).tolist()):
            long = rng.random() < 0.6
            last = n + 1 if long else first + int(rng.integers(0, n // 2 + 1))
            c = _candidate(first, last, int(rng.integers(1, 400)))
            want = _whole(limit, tiles, [*kept, c])
            answers.add(want)
            if fit.add(c):
                assert want
                kept.append(c)
                continue
            assert not want
            # leave some tiles out and try again, as keep_on_chip does with the
            # tiles forwarding frees
            if fit.start is None or not tiles:
                continue
            drop = [tiles[k] for k in sorted(set(rng.integers(0, len(tiles), size=3).tolist()))]
            rest = list(tiles)
            for t in drop:
                rest.remove(t)
            other = fit.without(drop)
            assert (other.start is not None) == _whole(limit, rest, kept)
            want = _whole(limit, rest, [*kept, c])
            assert other.add(c) == want
            if want:
                fit, tiles = other, rest
                kept.append(c)
    assert answers == {True, False}


def test_the_gap_scan_places_as_linear_scan():
    """`_Scan` (free gaps, regions freed by a heap) places every region where
    LinearScan does, zero-byte ones included, also when it starts from a state
    built at once (`_Scan.of`)."""
    rng = np.random.default_rng(11)
    for _ in range(200):
        requests = sorted(
            (int(f), int(f) + int(rng.integers(0, 6)), int(rng.choice([0, 1, 64, 65, 200, 700])))
            for f in rng.integers(0, 40, size=int(rng.integers(1, 60)))
        )
        linear, gaps = LinearScan(), koc._Scan()
        starts = []
        for k, (first, last, nbytes) in enumerate(requests):
            want = linear.place(first, last, nbytes).start
            gaps.expire(first)
            assert gaps.place(koc.aligned(nbytes), last, k) == want
            starts.append(want)
        # the state after the last region, rebuilt at once, places the next alike
        first = requests[-1][0]
        live = np.array([k for k, r in enumerate(requests) if r[1] >= first], dtype=np.int64)
        at = np.array(starts, dtype=np.int64)[live]
        size = np.array([koc.aligned(requests[k][2]) for k in live.tolist()], dtype=np.int64)
        lasts = np.array([requests[k][1] for k in live.tolist()], dtype=np.int64)
        rebuilt = koc._Scan.of(at, at + size, lasts, live)
        for nbytes in (64, 256, 1024):
            probe = LinearScan(live=list(linear.live), now=linear.now)
            want = probe.place(first, first, nbytes).start
            assert koc._Scan.of(at, at + size, lasts, live).place(nbytes, first, -1) == want
        assert (rebuilt.gs, rebuilt.ge) == (gaps.gs, gaps.ge)
