"""The binary codec: encode/decode of accel programs, repeat expansion, limits, objdump."""

import subprocess
import sys
from io import StringIO
from pathlib import Path
from textwrap import indent

import numpy as np
import pytest
from xdsl.context import Context
from xdsl.dialects.builtin import Builtin, ModuleOp
from xdsl.parser import Parser
from xdsl.printer import Printer

from tidal.dialects.accel import Accel, AccessAttr, Aff, ConstOp, DmaOp, ProgramOp, RepeatOp, StreamOp
from tidal.passes.accel.split_streams import AccelSplitStreamsPass
from tidal.sim import isa
from tidal.targets.binary import EncodeError, decode, encode, encode_to, to_program


def parse(text: str) -> ModuleOp:
    ctx = Context()
    ctx.load_dialect(Builtin)
    ctx.load_dialect(Accel)
    module = Parser(ctx, text).parse_module()
    module.verify()
    return module


def show(module: ModuleOp) -> str:
    out = StringIO()
    Printer(stream=out).print_op(module)
    return out.getvalue()


SBUF8 = "[[1, 32], [1, 8]]"

# The act and pool streams hold no repeat: they decode as written, plus a halt.
ACT_OPS = f"""\
accel.wait act sem 1 >= 3
accel.act relu <sbuf 0, 1024, {SBUF8}>, <psum 0, 0, {SBUF8}> scale 0.5 bias <sbuf 0, 2048, [[1, 32], [1, 1]]> {{signal = 2 : i64, origin = "relu1"}}
accel.act exp <sbuf 0, 1024, {SBUF8}>, <sbuf 0, 1024, {SBUF8}> scale <sbuf 0, 2052, [[1, 32], [1, 1]]> bias -1.5"""

POOL_OPS = f"""\
accel.memset <sbuf 0, 3072, {SBUF8}>, 0xFF800000
accel.tensor_tensor max <sbuf 0, 3072, {SBUF8}>, <sbuf 0, 3072, {SBUF8}>, <sbuf 0, 1024, {SBUF8}>
accel.tensor_tensor add <sbuf 0, 3072, {SBUF8}>, <sbuf 0, 1024, {SBUF8}>, <sbuf 0, 3072, {SBUF8}> scale <sbuf 0, 2048, [[1, 32], [1, 1]]>
accel.tensor_tensor sub <sbuf 0, 3072, {SBUF8}>, <sbuf 0, 1024, {SBUF8}>, <sbuf 0, 3072, {SBUF8}> scale -2.0
accel.reduce add <sbuf 0, 4096, [[1, 32], [1, 1]]>, <sbuf 0, 3072, {SBUF8}> over 1 scale 0.125
accel.signal pool sem 3
accel.nop pool {{origin = "relu1"}}"""

PROGRAM = f"""
accel.program "small" dram 65536 {{
  accel.io input "x" at 0 : tensor<32x8xf32>
  accel.io output "y" at 1024 : tensor<32x8xf32>
  accel.const at 4096 dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  accel.stream pe {{
    accel.repeat 3 {{
      accel.matmul <psum 0, 0, {SBUF8}>, <sbuf 0, 64 + 128 * i0, [[1, 32], [1, 32]]>, <sbuf 0, 0 + 32 * i0, {SBUF8}> {{zero_at = 0 : i64, signal = 1 : i64, origin = "fc1"}}
    }}
  }}
  accel.stream act {{
{indent(ACT_OPS, "    ")}
  }}
  accel.stream pool {{
{indent(POOL_OPS, "    ")}
  }}
  accel.stream dma0 {{
    accel.repeat 3 {{
      accel.dma 0 <dram 0 + 32 * i0, [[8, 32], [1, 8]]> -> <sbuf 0, 0 + 32 * i0, {SBUF8}> {{origin = "x"}}
    }}
    accel.wait dma0 sem 2 >= 1
    accel.dma 0 <sbuf 0, 1024, {SBUF8}> -> <dram 1024, [[8, 32], [1, 8]]>
  }}
}}
"""

EXPANDED = f"""builtin.module {{
  accel.program "small" dram 65536 {{
    accel.io input "x" at 0 : tensor<32x8xf32>
    accel.io output "y" at 1024 : tensor<32x8xf32>
    accel.const at 4096 dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>
    accel.stream pe {{
      accel.matmul <psum 0, 0, {SBUF8}>, <sbuf 0, 64, [[1, 32], [1, 32]]>, <sbuf 0, 0, {SBUF8}> {{zero_at = -1 : i64, signal = 1 : i64, origin = "fc1"}}
      accel.matmul <psum 0, 0, {SBUF8}>, <sbuf 0, 192, [[1, 32], [1, 32]]>, <sbuf 0, 32, {SBUF8}> {{signal = 1 : i64, origin = "fc1"}}
      accel.matmul <psum 0, 0, {SBUF8}>, <sbuf 0, 320, [[1, 32], [1, 32]]>, <sbuf 0, 64, {SBUF8}> {{signal = 1 : i64, origin = "fc1"}}
      accel.halt pe
    }}
    accel.stream act {{
{indent(ACT_OPS, "      ")}
      accel.halt act
    }}
    accel.stream pool {{
{indent(POOL_OPS, "      ")}
      accel.halt pool
    }}
    accel.stream dma0 {{
      accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, {SBUF8}> {{origin = "x"}}
      accel.dma 0 <dram 32, [[8, 32], [1, 8]]> -> <sbuf 0, 32, {SBUF8}> {{origin = "x"}}
      accel.dma 0 <dram 64, [[8, 32], [1, 8]]> -> <sbuf 0, 64, {SBUF8}> {{origin = "x"}}
      accel.wait dma0 sem 2 >= 1
      accel.dma 0 <sbuf 0, 1024, {SBUF8}> -> <dram 1024, [[8, 32], [1, 8]]>
      accel.halt dma0
    }}
  }}
}}"""


def test_decode_prints_the_expanded_program():
    assert show(decode(encode(parse(PROGRAM)))) == EXPANDED


def test_reencoding_a_decoded_binary_is_byte_identical():
    data = encode(parse(PROGRAM))
    assert encode(decode(data)) == data


def test_container_tables():
    prog = isa.decode_container(encode(parse(PROGRAM)))
    assert prog.chip == "small"
    assert prog.debug == ["fc1", "relu1", "x"]
    assert prog.meta == {"dram_bytes": 65536, "program": "main"}
    assert prog.inputs == [{"name": "x", "addr": 0, "shape": [32, 8], "dtype": "float32"}]
    assert prog.outputs == [{"name": "y", "addr": 1024, "shape": [32, 8], "dtype": "float32"}]
    ((addr, raw),) = prog.consts
    assert addr == 4096
    assert raw.view(np.float32).tolist() == [1.0, 2.0, 3.0, 4.0]
    assert sorted(prog.streams) == [isa.Engine.PE, isa.Engine.ACT, isa.Engine.POOL, isa.Engine.DMA0]
    for engine, recs in prog.streams.items():
        assert recs[-1, isa.W_OPCODE] == isa.Opcode.HALT
        assert (recs[:, isa.W_ENGINE] == engine).all()


def test_repeat_of_three_expands_to_stepped_records():
    prog = isa.decode_container(encode(parse(PROGRAM)))
    pe = prog.streams[isa.Engine.PE]
    assert len(pe) == 4  # 3 matmuls + HALT
    mm = pe[:3]
    assert (mm[:, isa.W_OPCODE] == isa.Opcode.MATMUL).all()
    stationary = [isa.access_of(r, "stationary") for r in mm]
    moving = [isa.access_of(r, "moving") for r in mm]
    assert [a.offset for a in stationary] == [64, 192, 320]
    assert [a.offset for a in moving] == [0, 32, 64]
    assert all(a.dims == ((1, 32), (1, 32)) for a in stationary)
    # zero_at = 0: only the instance with i0 == 0 starts a new accumulation.
    starts = (mm[:, isa.W_FLAGS] & isa.FLAG_START) != 0
    assert starts.tolist() == [True, False, False]
    assert mm[:, isa.W_SIGNAL].tolist() == [1, 1, 1]
    assert mm[:, isa.W_DEBUG].tolist() == [0, 0, 0]


def _dma(src: AccessAttr, dst: AccessAttr) -> DmaOp:
    return DmaOp(0, src, dst)


def test_nested_expansion_matches_a_reference():
    """Three nested repeats with steps on every level, against Aff.at per instance."""
    counts = (2, 3, 4)
    src_off = Aff(8, (4096, 512, 32))
    dst_off = Aff(0, (0, 128, 4))
    src = AccessAttr.get("dram", 0, src_off, [(8, 4), (1, 8)])
    dst = AccessAttr.get("sbuf", Aff(0, (4,)), dst_off, [(1, 4), (1, 8)])
    body: list = [_dma(src, dst)]
    for c in reversed(counts):
        body = [RepeatOp(c, body)]
    module = ModuleOp([ProgramOp("small", 1 << 16, [StreamOp("dma0", body)])])
    module.verify()
    recs = isa.decode_container(encode(module)).streams[isa.Engine.DMA0][:-1]
    expect = [
        (dst.pstart.at(ix), src_off.at(ix), dst_off.at(ix))
        for ix in np.ndindex(*counts)
    ]
    got = [
        (isa.access_of(r, "dst").pstart, isa.access_of(r, "src").offset, isa.access_of(r, "dst").offset)
        for r in recs
    ]
    assert got == expect


def test_zero_at_inner_level_restarts_each_outer_iteration():
    mm = (
        '<psum 0, 0 + 32 * i0, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 32]]>, '
        '<sbuf 0, 0 + 32 * i1, [[1, 32], [1, 8]]> {zero_at = 1 : i64}'
    )
    text = f"""accel.program "small" dram 1024 {{
      accel.stream pe {{
        accel.repeat 2 {{ accel.repeat 3 {{ accel.matmul {mm} }} }}
      }}
    }}"""
    recs = isa.decode_container(encode(parse(text))).streams[isa.Engine.PE][:-1]
    starts = (recs[:, isa.W_FLAGS] & isa.FLAG_START) != 0
    assert starts.tolist() == [True, False, False, True, False, False]


def test_unsplit_program_is_rejected():
    text = """accel.program "small" dram 1024 {
      accel.nop pe
    }"""
    with pytest.raises(EncodeError, match="not split into streams; run accel-split-streams"):
        encode(parse(text))


def test_split_pass_output_encodes():
    text = """accel.program "small" dram 1024 {
      accel.nop pe
      accel.nop dma1
    }"""
    module = parse(text)
    AccelSplitStreamsPass().apply(Context(), module)
    prog = isa.decode_container(encode(module))
    assert sorted(prog.streams) == [isa.Engine.PE, isa.Engine.DMA0 + 1]


def test_out_of_bounds_access_names_the_origin():
    # The small chip has 64 KiB per SBUF partition: the third instance runs past it.
    text = """accel.program "small" dram 65536 {
      accel.stream dma0 {
        accel.repeat 3 {
          accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 32768 + 16384 * i0, [[1, 32], [1, 8]]> {origin = "conv1"}
        }
      }
    }"""
    with pytest.raises(EncodeError, match=r"'conv1'.*record 2: dst bytes \[65536, 65568\)"):
        encode(parse(text))


def test_partition_and_dram_bounds():
    too_many_parts = """accel.program "small" dram 65536 {
      accel.stream pool { accel.memset <sbuf 16, 0, [[1, 32], [1, 8]]>, 0.0 {origin = "pad"} }
    }"""
    with pytest.raises(EncodeError, match=r"'pad'.*partitions \[16, 48\) exceed the 32 sbuf"):
        encode(parse(too_many_parts))
    past_dram = """accel.program "small" dram 1024 {
      accel.stream dma0 {
        accel.dma 0 <dram 1000, [[8, 4], [1, 8]]> -> <sbuf 0, 0, [[1, 4], [1, 8]]>
      }
    }"""
    with pytest.raises(EncodeError, match="run past the program's 1024"):
        encode(parse(past_dram))


def test_chip_limits_name_the_instruction():
    text = """accel.program "small" dram 65536 {
      accel.stream pe {
        accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 64], [1, 32]]>, <sbuf 0, 0, [[1, 64], [1, 8]]> {origin = "fc9"}
      }
    }"""
    with pytest.raises(EncodeError, match=r"'fc9'.*chip 'small': matmul K = 64 exceeds pe_rows 32"):
        encode(parse(text))
    with pytest.raises(EncodeError, match="accel.stream dma5: chip 'small' has 2 dma queues"):
        encode(parse('accel.program "small" dram 64 { accel.stream dma5 { accel.nop dma5 } }'))
    sem = 'accel.program "small" dram 64 { accel.stream act { accel.signal act sem 40 } }'
    with pytest.raises(EncodeError, match="semaphore 40 >= num_semaphores 32"):
        encode(parse(sem))
    with pytest.raises(EncodeError, match="unknown chip preset 'huge'"):
        encode(parse('accel.program "huge" dram 64 { }'))


def test_decode_rejects_an_unknown_opcode():
    data = bytearray(encode(parse('accel.program "small" dram 64 { accel.stream pe { accel.nop pe } }')))
    prog = isa.decode_container(bytes(data))
    prog.streams[isa.Engine.PE][0, isa.W_OPCODE] = 99
    with pytest.raises(isa.BinaryFormatError, match="stream pe, instruction 0 .opcode 99.: unknown opcode 99"):
        decode(isa.encode_container(prog))


def _objdump(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from tidal.tools.tidal_objdump import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )


def test_objdump_prints_a_binary(tmp_path: Path):
    path = tmp_path / "p.tbin"
    path.write_bytes(encode(parse(PROGRAM)))
    run = _objdump(str(path))
    assert run.returncode == 0, run.stderr
    assert run.stdout.rstrip("\n") == EXPANDED


def test_objdump_garbage_file_is_one_line_error(tmp_path: Path):
    path = tmp_path / "bad.tbin"
    path.write_bytes(b"this is not a tidal binary at all, just some text" * 3)
    run = _objdump(str(path))
    assert run.returncode == 1
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("tidal-objdump: error: ")
    assert "offset 0: bad magic" in lines[0]


def test_objdump_truncated_file(tmp_path: Path):
    path = tmp_path / "cut.tbin"
    path.write_bytes(encode(parse(PROGRAM))[:200])
    run = _objdump(str(path))
    assert run.returncode == 1
    assert len(run.stderr.splitlines()) == 1
    assert "truncated" in run.stderr


def test_negative_strides_are_rejected():
    text = """accel.program "small" dram 1024 {
      accel.stream pool { accel.memset <sbuf 0, 64, [[1, 4], [-1, 8]]>, 0.0 {origin = "rev"} }
    }"""
    with pytest.raises(EncodeError, match=r"'rev'.*dst has a negative stride"):
        encode(parse(text))


# ---------------------------------------------------------------------------
# Streaming: encode_to / isa.write_container write exactly encode's bytes
# ---------------------------------------------------------------------------


def _documented_container(prog: isa.Program) -> bytes:
    """The container laid out from docs/binary-format.md with plain concatenation:
    header, section table, sections padded to 8 bytes, CRC-32 of everything after
    the header. An independent reference for the streaming writer."""
    import json
    import struct
    import zlib

    sections = [
        (isa.SectionKind.STREAM, e, prog.streams[e].astype("<i4").tobytes())
        for e in sorted(prog.streams)
    ]
    blob = b""
    for addr, data in prog.consts:
        raw = data.tobytes()
        blob += struct.pack("<QQ", addr, len(raw)) + raw + b"\0" * (-len(raw) % 8)
    sections.append((isa.SectionKind.CONST, 0, blob))
    io = {"inputs": prog.inputs, "outputs": prog.outputs}
    for kind, table in ((isa.SectionKind.IO, io), (isa.SectionKind.DEBUG, prog.debug),
                        (isa.SectionKind.META, prog.meta)):
        sections.append((kind, 0, json.dumps(table).encode()))
    if prog.luts:  # per function: code u32, rows u32, lo f32, hi f32, rows x 5 f32
        blob = b""
        for code in sorted(prog.luts):
            lo, hi, rows = prog.luts[code]
            blob += struct.pack("<IIff", code, len(rows), lo, hi) + rows.astype("<f4").tobytes()
        sections.append((isa.SectionKind.LUT, 0, blob))
    table, payload = b"", b""
    start = isa.HEADER.size + isa.SECTION.size * len(sections)
    for kind, arg, data in sections:
        table += isa.SECTION.pack(kind, arg, start + len(payload), len(data))
        payload += data + b"\0" * (-len(data) % 8)
    body = table + payload
    chip = prog.chip.encode()
    header = isa.HEADER.pack(isa.MAGIC, isa.VERSION, chip, len(sections), zlib.crc32(body), len(body))
    return header + body


def _example_models():
    """examples/models.py, loaded by path (examples/ is not a package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[3] / "examples" / "models.py"
    spec = importlib.util.spec_from_file_location("tidal_examples_models", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Trickle:
    """A raw file object that takes at most 5 bytes per write (as an unbuffered
    pipe may)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b: bytes | memoryview) -> int:
        piece = bytes(memoryview(b).cast("B")[:5])
        self.data += piece
        return len(piece)


def test_streamed_binary_is_the_documented_container(tmp_path: Path):
    import io

    module = parse(PROGRAM)
    expected = _documented_container(to_program(module))
    assert encode(module) == expected

    buffered = io.BytesIO()
    assert encode_to(module, buffered) == len(expected)
    assert buffered.getvalue() == expected

    path = tmp_path / "p.tbin"
    with open(path, "wb", buffering=0) as raw:  # unbuffered: may take part of a piece
        assert encode_to(module, raw) == len(expected)
    assert path.read_bytes() == expected

    trickle = _Trickle()
    assert isa.write_container(to_program(module), trickle) == len(expected)  # pyright: ignore[reportArgumentType]
    assert bytes(trickle.data) == expected


def test_streamed_binary_of_a_compiled_model(tmp_path: Path):
    """A model through the whole pipeline (records of every engine, a debug table,
    several constants): the streamed file is the documented container."""
    import io

    from tidal.passes.pipeline import compile_module
    from tidal.targets.onnx_import import import_onnx

    module = compile_module(import_onnx(_example_models().make_cnn()), "small")
    prog = to_program(module)
    assert len(prog.consts) > 1 and len(prog.streams) > 3
    out = io.BytesIO()
    encode_to(module, out)
    assert out.getvalue() == _documented_container(prog) == encode(module)


def test_constants_are_views_of_the_ir_not_copies():
    module = parse(PROGRAM)
    (const,) = [op for op in module.walk() if isinstance(op, ConstOp)]
    ((addr, data),) = to_program(module).consts
    assert addr == 4096
    assert np.shares_memory(data, np.frombuffer(const.value.data.data, np.uint8))
    assert data.view("<f4").tolist() == [1.0, 2.0, 3.0, 4.0]


def test_splat_constant_is_expanded():
    text = """accel.program "small" dram 64 {
      accel.const at 16 dense<2.5> : tensor<2x3xf32>
      accel.stream pe { accel.nop pe }
    }"""
    ((addr, raw),) = isa.decode_container(encode(parse(text))).consts
    assert addr == 16
    np.testing.assert_array_equal(raw.view("<f4"), np.full(6, 2.5, np.float32))


def test_tidal_compile_writes_the_encoded_binary(tmp_path: Path):
    """The tool streams the file (weights never copied); the file is the bytes of
    `compile_to_bytes`, and the size it reports is the file's."""
    import onnx

    from tidal.tools.tidal_compile import compile_to_bytes

    model = tmp_path / "mlp.onnx"
    onnx.save(_example_models().make_mlp(), model)
    out = tmp_path / "mlp.tbin"
    run = subprocess.run(
        [sys.executable, "-m", "tidal.tools.tidal_compile", str(model), "-o", str(out), "--chip", "small"],
        capture_output=True, text=True, check=False,
    )
    assert run.returncode == 0, run.stderr
    data = out.read_bytes()
    assert data == compile_to_bytes(str(model), "small")
    assert f"({len(data)} bytes" in run.stdout
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# ---------------------------------------------------------------------------
# META "model": the model's work, from which the stats give the ideal roofline
# ---------------------------------------------------------------------------


def test_compiled_binary_carries_the_model_work_in_meta(tmp_path: Path):
    """tidal-compile counts the work on the graph as imported and the encoder writes
    it into META; the stats of a run give the ideal roofline from it."""
    from tidal.passes.analysis.model_work import model_work
    from tidal.sim.config import get_chip
    from tidal.sim.machine import run_program
    from tidal.targets.onnx_import import import_onnx
    from tidal.tools.tidal_compile import compile_to_bytes

    import onnx

    models = _example_models()
    onnx_model = models.make_cnn()
    path = tmp_path / "cnn.onnx"
    onnx.save(onnx_model, path)
    prog = isa.decode_container(compile_to_bytes(str(path), "small"))
    work = model_work(import_onnx(onnx_model))
    assert prog.meta["model"] == work.as_dict()
    _, stats = run_program(prog, models.make_inputs(onnx_model))
    chip = get_chip("small")
    assert stats["model_macs"] == work.macs
    assert stats["model_min_dram_bytes"] == work.min_dram_bytes
    assert stats["ideal_roofline_cycles"] == work.ideal_cycles(chip)
    assert stats["ideal_bound"] == work.bound(chip)
    assert stats["ideal_ratio"] == stats["cycles"] / work.ideal_cycles(chip)
    assert stats["dram_over_min"] == stats["dma_dram_bytes"] / work.min_dram_bytes
    assert stats["model_mac_utilization"] == work.macs / (
        stats["cycles"] * chip.pe_rows * chip.pe_cols
    )


def test_binary_without_model_work_runs_without_ideal_figures():
    from tidal.sim.machine import run_program

    prog = isa.decode_container(encode(parse(PROGRAM)))
    assert "model" not in prog.meta
    _, stats = run_program(prog, {"x": np.ones((32, 8), np.float32)})
    assert "moved_roofline_cycles" in stats
    assert not {"ideal_roofline_cycles", "ideal_ratio", "model_macs"} & set(stats)


@pytest.mark.parametrize(
    "model",
    [
        [1, 2, 3, 4],
        {"macs": 1, "weight_bytes": 2, "input_bytes": 3},
        {"macs": 1, "weight_bytes": 2, "input_bytes": 3, "output_bytes": -4},
        {"macs": 1.5, "weight_bytes": 2, "input_bytes": 3, "output_bytes": 4},
        {"macs": True, "weight_bytes": 2, "input_bytes": 3, "output_bytes": 4},
    ],
)
def test_malformed_meta_model_is_a_format_error(model):
    prog = isa.decode_container(encode(parse(PROGRAM)))
    prog.meta["model"] = model
    with pytest.raises(isa.BinaryFormatError, match=r"offset \d+: META 'model' must be"):
        isa.decode_container(isa.encode_container(prog))


@pytest.mark.parametrize(
    ("unread", "words"),
    [
        ({"name": "t"}, "is not a list"),
        (["t"], "entry 0 is not an object"),
        ([{"dtype": "int64", "shape": [2]}], "entry 0 has no string 'name'"),
        ([{"name": "t", "shape": [2]}], "('t') has dtype None"),
        ([{"name": "t", "dtype": "(1000000000,1000000000)f4", "shape": [2]}], "('t') has dtype '(1000000000"),
        ([{"name": "t", "dtype": "int64", "shape": [-1]}], "('t') has a bad 'shape'"),
        ([{"name": "t", "dtype": "int64", "shape": [True]}], "('t') has a bad 'shape'"),
    ],
)
def test_malformed_meta_unread_inputs_is_a_format_error(unread, words):
    """META's "unread_inputs" (the model's inputs the program does not take, which
    tidal-sim checks a feed of and ignores) is checked for form as it is decoded."""
    prog = isa.decode_container(encode(parse(PROGRAM)))
    prog.meta["unread_inputs"] = unread
    with pytest.raises(isa.BinaryFormatError, match=r"offset \d+: META 'unread_inputs'") as err:
        isa.decode_container(isa.encode_container(prog))
    assert words in str(err.value)


@pytest.mark.parametrize("kind", [isa.SectionKind.META, isa.SectionKind.IO, isa.SectionKind.STREAM])
def test_a_second_section_of_a_kind_that_comes_once_is_a_format_error(kind):
    """One STREAM per engine and one IO, DEBUG and META section: a crafted second one
    (here the DEBUG section's entry pointed at the first one's bytes) would silently
    replace the first."""
    import zlib

    data = bytearray(encode(parse(PROGRAM)))
    nsec = isa.HEADER.unpack_from(data, 0)[3]
    entries = [isa.SECTION.unpack_from(data, isa.HEADER.size + i * isa.SECTION.size) for i in range(nsec)]
    same = next(e for e in entries if e[0] == kind)
    debug = next(i for i, e in enumerate(entries) if e[0] == isa.SectionKind.DEBUG)
    off, size = same[2], same[3]  # the same bytes again
    isa.SECTION.pack_into(data, isa.HEADER.size + debug * isa.SECTION.size, kind, same[1], off, size)
    magic, version, chip, n, _, body_len = isa.HEADER.unpack_from(data, 0)
    isa.HEADER.pack_into(data, 0, magic, version, chip, n, zlib.crc32(bytes(data[isa.HEADER.size:])), body_len)
    with pytest.raises(isa.BinaryFormatError, match=f"is a second {'STREAM' if kind == isa.SectionKind.STREAM else kind.name}"):
        isa.decode_container(bytes(data))


def test_read_container_refuses_a_file_whose_size_is_not_its_headers(tmp_path):
    """`read_container` reads the header first: a file that is not a Tidal binary
    (zeros, a sparse file of gigabytes) or whose size is not the one its header
    states is refused before its body is read."""
    good = encode(parse(PROGRAM))
    path = tmp_path / "p.tbin"
    path.write_bytes(good)
    with open(path, "rb") as f:
        assert isa.decode_container(isa.read_container(f)).chip == isa.decode_container(good).chip
    path.write_bytes(good + b"\0")
    with open(path, "rb") as f, pytest.raises(isa.BinaryFormatError, match="truncated or padded body"):
        isa.read_container(f)
    path.write_bytes(bytes(4096))
    with open(path, "rb") as f, pytest.raises(isa.BinaryFormatError, match="bad magic"):
        isa.read_container(f)


@pytest.mark.parametrize("name", ["y\x00z", "a\nb", "y" * 5000])
def test_an_io_name_no_npz_can_key_is_a_format_error(name):
    """A crafted binary's output name with a NUL (NumPy keyed the array 'y') or
    past 4,096 characters (the .npz writer's struct.error) is refused on load."""
    prog = isa.decode_container(encode(parse(PROGRAM)))
    prog.outputs[0]["name"] = name
    with pytest.raises(isa.BinaryFormatError, match="has a name that no .npz can key"):
        isa.decode_container(isa.encode_container(prog))


def test_a_constant_under_an_input_is_refused_by_the_loader():
    """A crafted binary whose constant overlaps an input's bytes (which the host
    writes after the constants) loaded and ran."""
    from tidal.sim.config import get_chip
    from tidal.sim.errors import LoadError
    from tidal.sim.loader import validate_program

    prog = isa.decode_container(encode(parse(PROGRAM)))
    addr = int(prog.inputs[0]["addr"])
    prog.consts.append((addr + 4, np.ones(2, np.float32)))
    with pytest.raises(LoadError, match=r"constant \d+ at DRAM bytes .* overlaps input 'x'"):
        validate_program(isa.decode_container(isa.encode_container(prog)), get_chip(prog.chip))
