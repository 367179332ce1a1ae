"""The compiled-segment cache (tools/cache.py, tools/cache_key.py) and the tools that
use it: `tidal-compile --cache-dir`, `tidal-run --cache-dir`, `tidal-cache`.

A hit must give the bytes a cold compile gives (renamed to the model's names); any
change to what the lowering reads (an attribute, a shape, a weight, the chip, an
option, the compiler) must miss; a broken entry is a miss that is replaced; two
compiles at once leave one whole entry."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from harness import assert_close, assert_one_line_error, tool
from onnx import TensorProto, helper, numpy_helper

from tidal.passes.graph.partition import GraphPartitionPass
from tidal.passes.pipeline import lowering_passes, run_passes, split_after
from tidal.sim import config, isa
from tidal.sim.config import get_chip
from tidal.sim.machine import run_program
from tidal.tools import cache as cache_mod
from tidal.tools import cache_key, tidal_cache, tidal_compile, tidal_run
from tidal.tools.cache import Cache, rename
from tidal.tools.cache_key import Keyed, Names, segment_key
from tidal.tools.common import attach_model_work, context, load_model

CHIP = "small"


def conv_model(
    path: Path,
    *,
    names: tuple[str, str, str, str, str] = ("x", "w", "b", "c", "y"),
    nodes: tuple[str, str] = ("conv", "relu"),
    shape: tuple[int, int, int, int] = (1, 3, 8, 8),
    stride: int = 1,
    pads: int = 1,
    seed: int = 0,
) -> Path:
    """x -> Conv 3x3 (4 channels) -> Relu -> y, its tensors named `names` (input,
    weight, bias, conv output, output) and its nodes `nodes`; an .npz of inputs
    beside it (`path` with suffix .npz, keyed by the input's name)."""
    x, w, b, c, y = names
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((4, shape[1], 3, 3)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    out_hw = [(d + 2 * pads - 3) // stride + 1 for d in shape[2:]]
    graph = helper.make_graph(
        [
            helper.make_node("Conv", [x, w, b], [c], name=nodes[0], kernel_shape=[3, 3],
                             strides=[stride, stride], pads=[pads] * 4),
            helper.make_node("Relu", [c], [y], name=nodes[1]),
        ],
        "g",
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 4, *out_hw])],
        [numpy_helper.from_array(weight, w), numpy_helper.from_array(bias, b)],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    inputs = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    np.savez(path.with_suffix(".npz"), **{x: inputs})
    return path


def key_of(path: Path, chip: str = CHIP, disabled: frozenset[str] = frozenset()) -> Keyed:
    """The cache key of the model at `path`, as tidal-compile computes it."""
    ctx = context()
    module = load_model(str(path), ctx)
    attach_model_work(module)
    whole, _ = split_after(lowering_passes(chip, disabled), GraphPartitionPass)
    run_passes(whole, module, ctx)
    return segment_key(module, chip, disabled)


def compile_cli(model: Path, out: Path, *extra: str | Path) -> None:
    tidal_compile.main([str(model), "-o", str(out), "--chip", CHIP, *map(str, extra)])


def cached_compile(capsys, model: Path, out: Path, cache_dir: Path, *extra: str) -> str:
    """tidal-compile --cache-dir in this process; its cache line on stderr."""
    compile_cli(model, out, "--cache-dir", cache_dir, *extra)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if "cache" in ln]
    assert len(lines) == 1, lines
    return lines[0]


def entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("*.tcache"))


def onnx_reference(model: Path) -> dict[str, np.ndarray]:
    inputs = dict(np.load(model.with_suffix(".npz")))
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs), strict=True))


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return conv_model(tmp_path / "m.onnx")


@pytest.fixture
def cold(model: Path, tmp_path: Path) -> bytes:
    """The binary of a compile without a cache."""
    compile_cli(model, tmp_path / "cold.tbin")
    return (tmp_path / "cold.tbin").read_bytes()


# --------------------------------------------------------------- hits and misses


def test_cold_compile_stores_and_warm_compile_hits_with_the_same_bytes(
    capsys, model, cold, tmp_path
):
    cache_dir = tmp_path / "cache"  # created by the first compile
    first = cached_compile(capsys, model, tmp_path / "a.tbin", cache_dir)
    assert "cache miss, stored" in first and str(cache_dir) in first
    assert len(entries(cache_dir)) == 1
    second = cached_compile(capsys, model, tmp_path / "b.tbin", cache_dir)
    assert "cache hit" in second
    assert first.split(": ")[-1] == second.split(": ")[-1]  # the same key
    assert (tmp_path / "a.tbin").read_bytes() == cold
    assert (tmp_path / "b.tbin").read_bytes() == cold
    # and the warm binary computes what onnxruntime computes
    program = isa.decode_container((tmp_path / "b.tbin").read_bytes())
    outputs, _ = run_program(program, dict(np.load(model.with_suffix(".npz"))), get_chip(CHIP))
    for name, ref in onnx_reference(model).items():
        assert_close(outputs[name], ref)


def test_key_is_the_same_for_the_same_model_loaded_twice(model):
    assert key_of(model) == key_of(model)


@pytest.mark.parametrize(
    "change",
    [
        {"stride": 2},
        {"pads": 0},
        {"shape": (1, 3, 8, 10)},
        {"shape": (1, 2, 8, 8)},
        {"seed": 7},  # the weights' values: same shapes, other bytes
    ],
    ids=["stride", "pads", "width", "channels", "weights"],
)
def test_a_change_to_the_graph_changes_the_key(tmp_path, model, change):
    other = conv_model(tmp_path / "other.onnx", **change)
    assert key_of(other).key != key_of(model).key


def test_one_weight_byte_changes_the_key(tmp_path, model):
    m = onnx.load(model)
    weight = numpy_helper.to_array(m.graph.initializer[0]).copy()
    weight.reshape(-1).view(np.uint8)[5] ^= 1  # one bit of one value
    m.graph.initializer[0].CopyFrom(numpy_helper.from_array(weight, m.graph.initializer[0].name))
    onnx.save(m, tmp_path / "flipped.onnx")
    assert key_of(tmp_path / "flipped.onnx").key != key_of(model).key


def test_chip_options_and_compiler_change_the_key(model, monkeypatch):
    base = key_of(model).key
    assert key_of(model, chip="default").key != base
    assert key_of(model, disabled=frozenset({"stationary"})).key != base
    assert key_of(model, disabled=frozenset({"fuse-epilogue"})).key != base
    # a field of the preset, under the same name
    small = dataclasses.replace(config.PRESETS[CHIP], dma_queues=config.PRESETS[CHIP].dma_queues + 1)
    monkeypatch.setitem(config.PRESETS, CHIP, small)
    assert key_of(model).key != base
    monkeypatch.undo()
    assert key_of(model).key == base
    monkeypatch.setattr(cache_key, "compiler_version", lambda: "tidal 0.1.0 (a change)")
    assert key_of(model).key != base


def test_compiler_version_hashes_the_installed_sources():
    version = cache_key.compiler_version()
    assert version.startswith("tidal ") and len(version.split()[-1]) == 32
    assert cache_key.compiler_version() is version  # once per process


def test_a_changed_option_misses_in_the_tool(capsys, model, tmp_path, monkeypatch):
    cache_dir = tmp_path / "cache"
    cached_compile(capsys, model, tmp_path / "a.tbin", cache_dir)
    line = cached_compile(capsys, model, tmp_path / "b.tbin", cache_dir,
                          "--disable-opt", "double-buffer")
    assert "cache miss, stored" in line
    monkeypatch.setattr(cache_key, "compiler_version", lambda: "tidal 9.9 (edited)")
    assert "cache miss, stored" in cached_compile(capsys, model, tmp_path / "c.tbin", cache_dir)
    assert len(entries(cache_dir)) == 3


# --------------------------------------------------------------- names


def test_renamed_tensors_and_nodes_hit_and_take_the_new_names(capsys, model, tmp_path):
    cache_dir = tmp_path / "cache"
    cached_compile(capsys, model, tmp_path / "a.tbin", cache_dir)
    renamed = conv_model(tmp_path / "renamed.onnx", names=("image", "k", "kb", "t", "probs"),
                         nodes=("first_conv", "act"))
    assert key_of(renamed).key == key_of(model).key
    assert key_of(renamed).names != key_of(model).names
    assert "cache hit" in cached_compile(capsys, renamed, tmp_path / "hit.tbin", cache_dir)
    compile_cli(renamed, tmp_path / "renamed-cold.tbin")
    hit = (tmp_path / "hit.tbin").read_bytes()
    assert hit == (tmp_path / "renamed-cold.tbin").read_bytes()
    program = isa.decode_container(hit)
    assert [e["name"] for e in program.inputs] == ["image"]
    assert [e["name"] for e in program.outputs] == ["probs"]
    assert "first_conv" in program.debug and "conv" not in program.debug


def test_rename_maps_io_debug_and_constant_inputs():
    program = isa.Program(
        "small", {}, [], [{"name": "x", "addr": 0, "shape": [1], "dtype": "float32"}],
        [{"name": "y", "addr": 4, "shape": [1], "dtype": "float32"}],
        debug=["conv", "conv.pad", "conv.padding.0", "other"],
        meta={"dram_bytes": 8, "constant_inputs": ["w"]},
    )
    old = Names(("x",), ("y",), ("conv", "conv.padding"), ("w",))
    new = Names(("a",), ("b",), ("c1", "c2"), ("k",))
    renamed = rename(program, old, new)
    assert renamed is not None
    assert [e["name"] for e in renamed.inputs] == ["a"]
    assert [e["name"] for e in renamed.outputs] == ["b"]
    # the longest origin that prefixes a derived name wins
    assert renamed.debug == ["c1", "c1.pad", "c2.0", "other"]
    assert renamed.meta["constant_inputs"] == ["k"]
    assert program.debug[0] == "conv"  # the original is left as it was


def test_names_that_do_not_map_one_to_one_are_not_renamed():
    program = isa.Program("small", {}, [], [], [], debug=["n"], meta={"dram_bytes": 8})
    two_in_one = Names(origins=("a", "b"))
    assert rename(program, Names(origins=("n", "n")), two_in_one) is None
    assert rename(program, two_in_one, Names(origins=("n", "n"))) is None


def test_a_hit_whose_names_cannot_be_mapped_is_recompiled(capsys, tmp_path):
    """Two ops of one label: the debug table cannot tell them apart in a model that
    names them differently, so the entry is not used (and is replaced). (An ONNX
    model with two nodes of one name is refused now, as onnxruntime refuses it; graph
    IR may still label two ops alike.)"""
    from tidal.tools import tidal_import

    differ = conv_model(tmp_path / "differ.onnx", nodes=("n1", "n2"))
    tidal_import.main([str(differ), "-o", str(tmp_path / "differ.mlir")])
    text = (tmp_path / "differ.mlir").read_text()
    assert 'tidal.origin = "n1"' in text and 'tidal.origin = "n2"' in text
    same = tmp_path / "same.mlir"
    same.write_text(text.replace('tidal.origin = "n1"', 'tidal.origin = "n"').replace('tidal.origin = "n2"', 'tidal.origin = "n"'))
    cache_dir = tmp_path / "cache"
    cached_compile(capsys, same, tmp_path / "a.tbin", cache_dir)
    line = cached_compile(capsys, differ, tmp_path / "b.tbin", cache_dir)
    assert "unusable" in line and "one to one" in line and "stored" in line
    compile_cli(differ, tmp_path / "cold.tbin")
    assert (tmp_path / "b.tbin").read_bytes() == (tmp_path / "cold.tbin").read_bytes()


# --------------------------------------------------------------- broken entries


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # in the binary: its checksum catches it
    path.write_bytes(bytes(data))


def _garbage_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[cache_mod.PREFIX.size : cache_mod.PREFIX.size + 8] = b"}{garbag"
    path.write_bytes(bytes(data))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _other_key(path: Path) -> None:
    """A whole entry, but of another key (copied under this key's name)."""
    key = path.name[:64].encode()
    path.write_bytes(path.read_bytes().replace(key, b"1" * 64, 1))


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (_truncate, "truncated"),
        (_flip, "checksum"),
        (_garbage_header, "bad header"),
        (_empty, "truncated"),
        (_other_key, "another key"),
    ],
    ids=["truncated", "flipped-bytes", "garbage-header", "empty", "other-key"],
)
def test_a_broken_entry_is_a_miss_that_is_replaced(
    capsys, model, cold, tmp_path, damage, why
):
    cache_dir = tmp_path / "cache"
    cached_compile(capsys, model, tmp_path / "a.tbin", cache_dir)
    [entry] = entries(cache_dir)
    damage(entry)
    line = cached_compile(capsys, model, tmp_path / "b.tbin", cache_dir)
    assert "unusable" in line and why in line and "stored" in line, line
    assert (tmp_path / "b.tbin").read_bytes() == cold
    assert "cache hit" in cached_compile(capsys, model, tmp_path / "c.tbin", cache_dir)
    assert (tmp_path / "c.tbin").read_bytes() == cold
    assert entries(cache_dir) == [entry]


def _rewrite(path: Path, body: bytes | None = None, version: int | None = None,
             drop: tuple[str, ...] = (), **fields: object) -> None:
    """Rewrite the entry at `path` as a hand (or a bug) might: its header's `fields`
    set (json.dumps writes NaN and Infinity as JavaScript does, which json.loads
    reads back), the fields in `drop` left out, its binary replaced by `body` (the
    header's size following it), its prefix's format set to `version`."""
    data = path.read_bytes()
    magic, old_version, length = cache_mod.PREFIX.unpack_from(data)
    start = cache_mod.PREFIX.size
    header = json.loads(data[start : start + length])
    binary = data[start + length :] if body is None else body
    header.update(fields, size=len(binary))
    for name in drop:
        del header[name]
    text = json.dumps(header).encode()
    version = old_version if version is None else version
    prefix = cache_mod.PREFIX.pack(magic, version, len(text))
    path.write_bytes(prefix + text + binary)


def _binary_of(path: Path) -> bytes:
    data = path.read_bytes()
    _, _, length = cache_mod.PREFIX.unpack_from(data)
    return data[cache_mod.PREFIX.size + length :]


BAD_TIMES = [float("nan"), float("inf"), float("-inf"), 1e300, -1e18, 2.0**37, 10**400,
             "2024-01-01", True, None]


@pytest.mark.parametrize("field", ["created", "compile_seconds"])
@pytest.mark.parametrize("value", BAD_TIMES, ids=[repr(v)[:12] for v in BAD_TIMES])
def test_a_header_time_out_of_range_is_unreadable_and_a_miss(
    capsys, model, tmp_path, field, value
):
    """NaN, an infinity, 1e300 or -1e18 as `created` made `tidal-cache list` crash in
    time.localtime and tidal-compile take the entry as a hit: a header field must
    have its type and a sane range, else the entry cannot be read."""
    cache_dir = tmp_path / "cache"
    cached_compile(capsys, model, tmp_path / "a.tbin", cache_dir)
    [entry] = entries(cache_dir)
    _rewrite(entry, **{field: value})
    tidal_cache.main(["list", "--cache-dir", str(cache_dir)])
    [line] = capsys.readouterr().out.splitlines()
    assert f"unreadable: bad header field '{field}'" in line, line
    tidal_cache.main(["stats", "--cache-dir", str(cache_dir)])
    assert "1 entry, 1 unreadable" in capsys.readouterr().out
    line = cached_compile(capsys, model, tmp_path / "b.tbin", cache_dir)
    assert f"miss (entry unusable: bad header field '{field}'), stored" in line, line
    assert (tmp_path / "b.tbin").read_bytes() == (tmp_path / "a.tbin").read_bytes()


def test_tidal_cache_list_escapes_header_text(capsys, model, tmp_path):
    """A header's model and chip are printed escaped: a newline or a terminal escape
    sequence in them neither splits the entry's line nor reaches the terminal."""
    cache_dir = tmp_path / "cache"
    cached_compile(capsys, model, tmp_path / "a.tbin", cache_dir)
    [entry] = entries(cache_dir)
    _rewrite(entry, model="evil\n\x1b[31mred\x1b[0m\\", chip="sm\rall\u2028")
    tidal_cache.main(["list", "--cache-dir", str(cache_dir)])
    out = capsys.readouterr().out
    [line] = out.splitlines()
    assert "\x1b" not in out and "\r" not in out and "\u2028" not in out, repr(out)
    assert r"evil\n\x1b[31mred\x1b[0m\\" in line and r"sm\rall\u2028" in line, line


def test_the_entry_header_holds_the_binarys_sha256(capsys, model, tmp_path):
    cache_dir = tmp_path / "cache"
    cached_compile(capsys, model, tmp_path / "a.tbin", cache_dir)
    [entry] = entries(cache_dir)
    data = entry.read_bytes()
    _, version, length = cache_mod.PREFIX.unpack_from(data)
    header = json.loads(data[cache_mod.PREFIX.size : cache_mod.PREFIX.size + length])
    assert version == cache_mod.FORMAT == 2
    assert header["key"] == entry.name[:64]
    assert header["sha256"] == hashlib.sha256(_binary_of(entry)).hexdigest()
    assert _binary_of(entry) == (tmp_path / "a.tbin").read_bytes()


@pytest.mark.parametrize("renamed", [False, True], ids=["verbatim", "renamed"])
def test_another_programs_binary_under_a_key_is_a_miss(
    capsys, model, cold, tmp_path, renamed
):
    """A whole, valid binary of another model (its CRC-32 right, the header's size
    fixed) under this model's key was a hit that wrote the other model's program:
    the header's SHA-256 does not match it. Both hit paths check it: the verbatim
    copy (chunked) and the decoded, renamed one."""
    cache_dir = tmp_path / "cache"
    cached_compile(capsys, model, tmp_path / "a.tbin", cache_dir)
    [entry] = entries(cache_dir)
    other = conv_model(tmp_path / "other.onnx", stride=2)
    cached_compile(capsys, other, tmp_path / "o.tbin", cache_dir)
    [other_entry] = [e for e in entries(cache_dir) if e != entry]
    _rewrite(entry, body=_binary_of(other_entry))
    if renamed:
        model = conv_model(tmp_path / "renamed.onnx", names=("i", "w", "b", "c", "o"))
    line = cached_compile(capsys, model, tmp_path / "b.tbin", cache_dir)
    assert "miss (entry unusable: " in line and "SHA-256 mismatch" in line, line
    assert "stored" in line
    if not renamed:
        assert (tmp_path / "b.tbin").read_bytes() == cold
    assert (tmp_path / "b.tbin").read_bytes() != (tmp_path / "o.tbin").read_bytes()
    assert "cache hit" in cached_compile(capsys, model, tmp_path / "c.tbin", cache_dir)


def test_run_with_another_programs_binary_recompiles_the_segment(tmp_path):
    """tidal-run decodes its hits (`Cache.load`): the digest is checked there too."""
    model = host_model(tmp_path / "host.onnx")
    cache_dir = tmp_path / "cache"
    cold, _ = run_cached(model, cache_dir)
    first, second = entries(cache_dir)
    _rewrite(first, body=_binary_of(second))
    log: list[str] = []
    inputs = dict(np.load(model.with_suffix(".npz")))
    warm, stats = tidal_run.run_model(
        str(model), inputs, CHIP, cache=Cache.open(cache_dir), cache_log=log
    )
    assert stats["cache"] == {"hits": 1, "misses": 1}
    assert sum("SHA-256 mismatch" in line for line in log) == 1, log
    np.testing.assert_array_equal(warm["y"], cold["y"])


def test_an_entry_of_the_previous_format_is_a_miss(capsys, model, cold, tmp_path):
    """Format 1 had no `sha256`: such an entry is neither a hit nor a crash."""
    cache_dir = tmp_path / "cache"
    cached_compile(capsys, model, tmp_path / "a.tbin", cache_dir)
    [entry] = entries(cache_dir)
    _rewrite(entry, version=1, drop=("sha256",))
    tidal_cache.main(["list", "--cache-dir", str(cache_dir)])
    assert "unreadable: entry format 1, this build reads 2" in capsys.readouterr().out
    line = cached_compile(capsys, model, tmp_path / "b.tbin", cache_dir)
    assert "miss (entry unusable: entry format 1" in line and "stored" in line, line
    assert (tmp_path / "b.tbin").read_bytes() == cold
    _rewrite(entry, drop=("sha256",))  # format 2 without the digest: a bad header
    line = cached_compile(capsys, model, tmp_path / "c.tbin", cache_dir)
    assert "bad header field 'sha256'" in line, line


def test_a_store_that_fails_warns_and_the_compile_succeeds(
    capsys, model, cold, tmp_path, monkeypatch
):
    replace = os.replace

    def full(src, dst):  # the disk fills up as the entry is put in place
        if str(dst).endswith(cache_mod.SUFFIX):
            raise OSError(28, "No space left on device")
        replace(src, dst)

    monkeypatch.setattr(cache_mod.os, "replace", full)
    compile_cli(model, tmp_path / "a.tbin", "--cache-dir", tmp_path / "cache")
    err = capsys.readouterr().err
    assert "cache miss, not stored" in err and "No space left on device" in err, err
    assert (tmp_path / "a.tbin").read_bytes() == cold
    assert list((tmp_path / "cache").iterdir()) == []  # no temporary file either


# --------------------------------------------------------------- concurrency


def test_two_compiles_at_once_leave_one_whole_entry(model, cold, tmp_path):
    cache_dir = tmp_path / "cache"
    exe = Path(sys.executable).parent / "tidal-compile"
    procs = [
        subprocess.Popen(
            [exe, model, "-o", tmp_path / f"{i}.tbin", "--chip", CHIP, "--cache-dir", cache_dir],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(2)
    ]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "Traceback" not in err
    assert (tmp_path / "0.tbin").read_bytes() == cold
    assert (tmp_path / "1.tbin").read_bytes() == cold
    assert [p.suffix for p in cache_dir.iterdir()] == [".tcache"]  # no temporary left
    assert Cache(cache_dir).load(key_of(model)) is not None


# --------------------------------------------------------------- tidal-run


def host_model(path: Path, tail: str = "Relu") -> Path:
    """MatMul -> Softmax over 20000 classes -> `tail`: on the small chip the softmax
    row does not fit a partition, so it runs on the host, between two accelerator
    segments."""
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((8, 20000)) * 0.1).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
            helper.make_node("Softmax", ["h"], ["p"], name="sm", axis=-1),
            helper.make_node(tail, ["p"] if tail == "Relu" else ["p", "p"], ["y"], name="tail"),
        ],
        "host",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 20000])],
        [numpy_helper.from_array(w, "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    np.savez(path.with_suffix(".npz"), x=rng.standard_normal((2, 8)).astype(np.float32))
    return path


def run_cached(model: Path, cache_dir: Path) -> tuple[dict[str, np.ndarray], dict]:
    inputs = dict(np.load(model.with_suffix(".npz")))
    return tidal_run.run_model(str(model), inputs, CHIP, cache=Cache.open(cache_dir))


def test_run_caches_each_accelerator_segment(tmp_path):
    model = host_model(tmp_path / "host.onnx")
    cache_dir = tmp_path / "cache"
    cold, stats = run_cached(model, cache_dir)
    assert stats["segments"] == ["accel", "host", "accel"]
    assert stats["cache"] == {"hits": 0, "misses": 2}
    assert len(entries(cache_dir)) == 2
    warm, stats = run_cached(model, cache_dir)
    assert stats["cache"] == {"hits": 2, "misses": 0}
    np.testing.assert_array_equal(warm["y"], cold["y"])
    assert_close(warm["y"], onnx_reference(model)["y"])
    # another model that shares the first segment reuses it
    other = host_model(tmp_path / "other.onnx", tail="Add")
    outputs, stats = run_cached(other, cache_dir)
    assert stats["cache"] == {"hits": 1, "misses": 1}
    assert_close(outputs["y"], onnx_reference(other)["y"])


def test_run_cli_reports_cache_in_stats_and_shares_compile_entries(model, tmp_path):
    """A model without host ops is one program: tidal-run and tidal-compile key it
    alike."""
    cache_dir = tmp_path / "cache"
    args = [model, "--inputs", model.with_suffix(".npz"), "--outputs", tmp_path / "o.npz",
            "--stats", tmp_path / "s.json", "--chip", CHIP, "--cache-dir", cache_dir]
    r = tool("tidal-run", *args)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "s.json").read_text())["cache"] == {"hits": 0, "misses": 1}
    assert "cache: 0 hits, 1 misses" in r.stderr
    r = tool("tidal-compile", model, "-o", tmp_path / "m.tbin", "--chip", CHIP,
             "--cache-dir", cache_dir)
    assert r.returncode == 0 and "cache hit" in r.stderr, r.stderr
    r = tool("tidal-run", *args, "--no-cache")
    assert r.returncode == 0 and "cache" not in r.stderr
    assert "cache" not in json.loads((tmp_path / "s.json").read_text())


def test_the_environment_variable_turns_the_cache_on(capsys, model, tmp_path, monkeypatch):
    monkeypatch.setenv(cache_mod.ENV_VAR, str(tmp_path / "env"))
    compile_cli(model, tmp_path / "a.tbin")
    assert "cache miss, stored" in capsys.readouterr().err
    assert len(entries(tmp_path / "env")) == 1
    compile_cli(model, tmp_path / "b.tbin", "--no-cache")
    assert "cache" not in capsys.readouterr().err
    monkeypatch.delenv(cache_mod.ENV_VAR)
    compile_cli(model, tmp_path / "c.tbin")
    assert "cache" not in capsys.readouterr().err


# --------------------------------------------------------------- bad directories


def test_cache_dir_that_is_a_file_is_one_line_error(model, tmp_path):
    (tmp_path / "file").write_text("not a directory")
    out = tmp_path / "a.tbin"
    r = tool("tidal-compile", model, "-o", out, "--chip", CHIP, "--cache-dir", tmp_path / "file")
    assert_one_line_error(r, "tidal-compile", "file", "is not a directory")
    assert not out.exists()
    r = tool("tidal-cache", "list", "--cache-dir", tmp_path / "file")
    assert_one_line_error(r, "tidal-cache", "is not a directory")


def test_an_empty_cache_dir_is_one_line_error(capsys, model, tmp_path, monkeypatch):
    """`--cache-dir ""` (an unset shell variable) made tidal-cache use, and `clear`
    empty, the default cache, and tidal-compile run without one: it is refused on
    all three tools, naming the option."""
    default = tmp_path / "default"
    default.mkdir()
    kept = default / (f"{7:064x}" + cache_mod.SUFFIX)
    kept.write_bytes(b"an entry of the default cache")
    monkeypatch.setenv(cache_mod.ENV_VAR, str(default))
    out, outputs = tmp_path / "a.tbin", tmp_path / "o.npz"
    inputs = str(model.with_suffix(".npz"))
    runs = [
        *((tidal_cache.main, [cmd, "--cache-dir", ""]) for cmd in ("clear", "list", "stats", "verify")),
        (tidal_compile.main, [str(model), "-o", str(out), "--chip", CHIP, "--cache-dir", ""]),
        (tidal_run.main, [str(model), "--chip", CHIP, "--cache-dir=", "--no-cache",
                          "--inputs", inputs, "--outputs", str(outputs)]),
    ]
    for main, argv in runs:
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 1, argv
        name = main.__module__.rsplit(".", 1)[1].replace("_", "-")
        assert capsys.readouterr() == ("", f"{name}: error: --cache-dir: empty path\n")
    assert kept.exists() and not out.exists() and not outputs.exists()
    r = tool("tidal-cache", "clear", "--cache-dir", "")  # and no traceback in a shell
    assert_one_line_error(r, "tidal-cache", "--cache-dir: empty path")
    assert kept.exists()


def test_an_empty_environment_variable_is_unset(capsys, model, tmp_path, monkeypatch):
    """An empty $TIDAL_CACHE_DIR counts as unset, as the XDG spec has it: no cache
    for tidal-compile, the default directory for tidal-cache."""
    monkeypatch.setenv(cache_mod.ENV_VAR, "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_mod.default_dir() == tmp_path / "xdg" / "tidal"
    compile_cli(model, tmp_path / "a.tbin")
    assert "cache" not in capsys.readouterr().err


@pytest.mark.parametrize("main", [tidal_compile.main, tidal_run.main], ids=["compile", "run"])
def test_unwritable_cache_dir_is_one_line_error(capsys, model, tmp_path, main):
    if os.geteuid() == 0:  # root writes anywhere; /proc refuses even root
        bad = Path("/proc/1/tidal-cache")
    else:
        bad = tmp_path / "locked"
        bad.mkdir(mode=0o500)
    argv = [str(model), "--chip", CHIP, "--cache-dir", str(bad)]
    argv += (["-o", str(tmp_path / "a.tbin")] if main is tidal_compile.main else
             ["--inputs", str(model.with_suffix(".npz")), "--outputs", str(tmp_path / "o.npz")])
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error: cache directory" in err and str(bad) in err, err
    assert "cannot be written" in err
    assert not (tmp_path / "a.tbin").exists() and not (tmp_path / "o.npz").exists()


# --------------------------------------------------------------- tidal-cache


def test_tidal_cache_list_stats_clear(capsys, model, tmp_path):
    cache_dir = tmp_path / "cache"
    cached_compile(capsys, model, tmp_path / "a.tbin", cache_dir)
    other = conv_model(tmp_path / "other.onnx", stride=2)
    cached_compile(capsys, other, tmp_path / "b.tbin", cache_dir)
    ours = entries(cache_dir)
    assert len(ours) == 2
    foreign = ["notes.txt", "a" * 64 + ".tbin", "A" * 64 + ".tcache", "abc.tcache"]
    for name in foreign:
        (cache_dir / name).write_text("not the cache's")
    (cache_dir / "sub").mkdir()

    tidal_cache.main(["list", "--cache-dir", str(cache_dir)])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert {ln.split()[0] for ln in lines} == {p.name[:12] for p in ours}
    assert any(str(model) in ln for ln in lines) and any(str(other) in ln for ln in lines)
    assert all(CHIP in ln for ln in lines)

    tidal_cache.main(["stats", "--cache-dir", str(cache_dir)])
    total = sum(p.stat().st_size for p in ours)
    assert f"2 entries, {total} bytes" in capsys.readouterr().out

    tidal_cache.main(["clear", "--cache-dir", str(cache_dir)])
    assert "removed 2 entries" in capsys.readouterr().out
    assert sorted(p.name for p in cache_dir.iterdir()) == sorted([*foreign, "sub"])
    tidal_cache.main(["stats", "--cache-dir", str(cache_dir)])
    assert "0 entries, 0 bytes" in capsys.readouterr().out


def test_tidal_cache_lists_a_broken_entry_as_unreadable(capsys, model, tmp_path):
    cache_dir = tmp_path / "cache"
    cached_compile(capsys, model, tmp_path / "a.tbin", cache_dir)
    _garbage_header(entries(cache_dir)[0])
    tidal_cache.main(["list", "--cache-dir", str(cache_dir)])
    [line] = capsys.readouterr().out.splitlines()
    assert "unreadable: bad header" in line
    tidal_cache.main(["stats", "--cache-dir", str(cache_dir)])
    assert "1 entry, 1 unreadable" in capsys.readouterr().out


def test_tidal_cache_verify_reads_every_binary(capsys, model, tmp_path):
    """`list` and `stats` read headers only: an entry whose binary is another
    program's (its header right) looks whole there. `verify` reads each binary as a
    hit does and names it (SHA-256 mismatch), as it names a flipped byte (checksum),
    and exits 1; a cache of good entries verifies with exit 0."""
    cache_dir = tmp_path / "cache"
    cached_compile(capsys, model, tmp_path / "a.tbin", cache_dir)
    other = conv_model(tmp_path / "other.onnx", stride=2)
    cached_compile(capsys, other, tmp_path / "b.tbin", cache_dir)
    tidal_cache.main(["verify", "--cache-dir", str(cache_dir)])
    assert capsys.readouterr().out.splitlines()[-1].endswith(": 2 entries verified, 0 broken")
    first, second = entries(cache_dir)
    _rewrite(first, body=_binary_of(second))
    tidal_cache.main(["stats", "--cache-dir", str(cache_dir)])
    assert "unreadable" not in capsys.readouterr().out
    data = bytearray(second.read_bytes())
    data[-1] ^= 0xFF
    second.write_bytes(bytes(data))
    with pytest.raises(SystemExit) as exit_:
        tidal_cache.main(["verify", "--cache-dir", str(cache_dir)])
    assert exit_.value.code == 1
    *broken, summary = capsys.readouterr().out.splitlines()
    assert summary.endswith(": 2 entries verified, 2 broken")
    by_key = {line.split()[0]: line for line in broken}
    assert "SHA-256 mismatch" in by_key[first.name[:12]]
    assert "checksum mismatch" in by_key[second.name[:12]]


def test_tidal_cache_on_a_missing_dir_is_an_empty_cache(tmp_path, monkeypatch):
    missing = tmp_path / "nothing" / "here"
    for command in ("list", "stats", "verify", "clear"):
        r = tool("tidal-cache", command, "--cache-dir", missing)
        assert r.returncode == 0 and r.stderr == "", r.stderr
    assert not missing.exists()
    r = tool("tidal-cache", "stats", "--cache-dir", missing)
    assert "0 entries, 0 bytes" in r.stdout


def test_tidal_cache_default_dir(monkeypatch, tmp_path):
    monkeypatch.delenv(cache_mod.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_mod.default_dir() == tmp_path / "xdg" / "tidal"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_mod.default_dir() == tmp_path / "home" / ".cache" / "tidal"
    monkeypatch.setenv(cache_mod.ENV_VAR, str(tmp_path / "env"))
    assert cache_mod.default_dir() == tmp_path / "env"


def test_run_with_a_broken_entry_recompiles_the_segment(tmp_path):
    """tidal-run decodes its hits (the hardware model takes a program): a flipped
    byte is caught by the container's checksum, and the entry is replaced."""
    model = host_model(tmp_path / "host.onnx")
    cache_dir = tmp_path / "cache"
    cold, _ = run_cached(model, cache_dir)
    for entry in entries(cache_dir):
        _flip(entry)
    log: list[str] = []
    inputs = dict(np.load(model.with_suffix(".npz")))
    warm, stats = tidal_run.run_model(str(model), inputs, CHIP, cache=Cache.open(cache_dir),
                                      cache_log=log)
    assert stats["cache"] == {"hits": 0, "misses": 2}
    assert all("checksum mismatch" in line and "stored" in line for line in log), log
    np.testing.assert_array_equal(warm["y"], cold["y"])
    _, stats = run_cached(model, cache_dir)
    assert stats["cache"] == {"hits": 2, "misses": 0}


def test_verify_each_compiles_and_stores_without_looking_up(capsys, model, cold, tmp_path):
    """--verify-each asks for every pass of the lowering to be verified, which a hit
    would skip: the lowering runs, and its program replaces the entry."""
    cache_dir = tmp_path / "cache"
    cached_compile(capsys, model, tmp_path / "a.tbin", cache_dir)
    line = cached_compile(capsys, model, tmp_path / "b.tbin", cache_dir, "--verify-each")
    assert "cache not looked up, stored" in line and "--verify-each" in line, line
    assert (tmp_path / "b.tbin").read_bytes() == cold
    assert len(entries(cache_dir)) == 1


def test_clear_removes_temporary_files_of_dead_processes_only(capsys, tmp_path):
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    key = "ab" * 32
    left = cache_dir / f".{key}.tcache.tidal-{dead.stdout.strip()}-x1y2.tmp"
    live = cache_dir / f".{key}.tcache.tidal-{os.getpid()}-x1y2.tmp"
    left.write_bytes(b"half an entry")
    live.write_bytes(b"being written")
    tidal_cache.main(["clear", "--cache-dir", str(cache_dir)])
    assert "removed 0 entries" in capsys.readouterr().out
    assert sorted(cache_dir.iterdir()) == [live]


def test_a_hit_is_written_to_a_character_device(capsys, model, tmp_path):
    """/dev/null is written in place (files.write_files): the hit is copied in
    chunks, not by copy_file_range, which a character device refuses."""
    cache_dir = tmp_path / "cache"
    cached_compile(capsys, model, tmp_path / "a.tbin", cache_dir)
    assert "cache hit" in cached_compile(capsys, model, Path(os.devnull), cache_dir)


def test_a_hit_is_copied_in_chunks_where_the_kernel_cannot(
    capsys, model, cold, tmp_path, monkeypatch
):
    cache_dir = tmp_path / "cache"
    cached_compile(capsys, model, tmp_path / "a.tbin", cache_dir)

    def cannot(*args):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(cache_mod.os, "copy_file_range", cannot)
    monkeypatch.setattr(cache_mod, "CHUNK_BYTES", 4096)  # many chunks
    assert "cache hit" in cached_compile(capsys, model, tmp_path / "b.tbin", cache_dir)
    assert (tmp_path / "b.tbin").read_bytes() == cold


def test_entries_that_are_not_regular_files_neither_block_nor_stop_clear(capsys, model, cold, tmp_path):
    """A FIFO named like an entry (the model's own key, another key) is an unreadable
    entry and a miss, never a read that waits for a writer; a directory named like an
    entry does not stop `clear` from removing the others, and is named."""
    cache_dir = tmp_path / "cache"
    cached_compile(capsys, model, tmp_path / "a.tbin", cache_dir)
    (entry,) = entries(cache_dir)
    entry.unlink()
    os.mkfifo(entry)
    os.mkfifo(cache_dir / (f"{3:064x}" + ".tcache"))
    listed = tool("tidal-cache", "list", "--cache-dir", cache_dir, timeout=60)
    assert listed.returncode == 0 and listed.stdout.count("not a regular file") == 2, listed.stdout
    again = cached_compile(capsys, model, tmp_path / "b.tbin", cache_dir)
    assert "not a regular file" in again and "stored" in again
    assert (tmp_path / "b.tbin").read_bytes() == cold
    folder = cache_dir / (f"{5:064x}" + ".tcache")
    folder.mkdir()
    cleared = tool("tidal-cache", "clear", "--cache-dir", cache_dir, timeout=60)
    assert_one_line_error(cleared, "tidal-cache", "removed 2 entries", "Is a directory")
    assert sorted(p.name for p in cache_dir.iterdir() if p.name.endswith(".tcache")) == [folder.name]
