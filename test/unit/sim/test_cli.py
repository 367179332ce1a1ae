"""tidal-sim as a subprocess: results, one-line errors, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tidal.sim import isa
from tidal.sim.isa import Engine, Opcode, make_record

DMA0 = Engine.DMA0


def tidal_sim(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tidal.tools.tidal_sim", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def binary(mk: SimpleNamespace, tmp_path: Path) -> Path:
    """y = x (2, 3), copied through SBUF."""
    program = mk.build(
        {
            DMA0: [
                make_record(
                    Opcode.DMA,
                    DMA0,
                    src=mk.dram(0, (3, 2), (1, 3)),
                    dst=mk.sbuf(0, 2, 0, (1, 3)),
                ),
                make_record(
                    Opcode.DMA,
                    DMA0,
                    src=mk.sbuf(0, 2, 0, (1, 3)),
                    dst=mk.dram(64, (3, 2), (1, 3)),
                ),
            ]
        },
        inputs=[mk.io("x", 0, (2, 3))],
        outputs=[mk.io("y", 64, (2, 3))],
    )
    path = tmp_path / "copy.tbin"
    path.write_bytes(isa.encode_container(program))
    return path


def write_inputs(tmp_path: Path, **arrays: np.ndarray) -> Path:
    path = tmp_path / "in.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def assert_failed(result: subprocess.CompletedProcess[str], *paths: Path) -> str:
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tidal-sim: error: ")
    for path in paths:
        assert not path.exists()
    assert not list(path.parent.glob(".tidal-sim-*"))
    return lines[0]


def test_runs_and_writes_outputs_and_stats(binary: Path, tmp_path: Path) -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out, stats = tmp_path / "out.npz", tmp_path / "stats.json"
    result = tidal_sim(
        binary,
        "--inputs",
        write_inputs(tmp_path, x=x),
        "--outputs",
        out,
        "--stats",
        stats,
    )
    assert result.returncode == 0, result.stderr
    assert "cycles" in result.stdout and "PE utilisation" in result.stdout
    with np.load(out) as npz:
        np.testing.assert_array_equal(npz["y"], x)
    assert json.loads(stats.read_text())["instructions"] == {
        "pe": 0,
        "act": 0,
        "pool": 0,
        "dma0": 2,
        "dma1": 0,
    }


def test_missing_input(binary: Path, tmp_path: Path) -> None:
    out, stats = tmp_path / "out.npz", tmp_path / "stats.json"
    inputs = write_inputs(tmp_path, z=np.zeros((2, 3), np.float32))
    line = assert_failed(
        tidal_sim(binary, "--inputs", inputs, "--outputs", out, "--stats", stats),
        out,
        stats,
    )
    assert line == "tidal-sim: error: missing input 'x' (the program takes: x)"


def test_wrong_shape(binary: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.npz"
    inputs = write_inputs(tmp_path, x=np.zeros((3, 2), np.float32))
    line = assert_failed(tidal_sim(binary, "--inputs", inputs, "--outputs", out), out)
    assert line == "tidal-sim: error: input 'x': expected shape (2, 3), got (3, 2)"


def test_corrupt_binary(binary: Path, tmp_path: Path) -> None:
    data = bytearray(binary.read_bytes())
    data[-1] ^= 0xFF
    binary.write_bytes(bytes(data))
    out = tmp_path / "out.npz"
    inputs = write_inputs(tmp_path, x=np.zeros((2, 3), np.float32))
    line = assert_failed(tidal_sim(binary, "--inputs", inputs, "--outputs", out), out)
    assert "checksum mismatch" in line


def test_unreadable_inputs(binary: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.npz"
    missing = tmp_path / "nope.npz"
    line = assert_failed(tidal_sim(binary, "--inputs", missing, "--outputs", out), out)
    assert "cannot read inputs" in line


@pytest.mark.parametrize(
    ("chip", "message"),
    [
        (
            "default",
            "binary was compiled for chip 'small', simulator configured for 'default'",
        ),
        ("huge", "unknown chip preset 'huge'"),
    ],
)
def test_chip_option(binary: Path, tmp_path: Path, chip: str, message: str) -> None:
    out = tmp_path / "out.npz"
    inputs = write_inputs(tmp_path, x=np.zeros((2, 3), np.float32))
    line = assert_failed(
        tidal_sim(binary, "--inputs", inputs, "--outputs", out, "--chip", chip), out
    )
    assert message in line


def test_failed_run_keeps_previous_outputs_untouched(
    binary: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.npz"
    out.write_bytes(b"previous")
    inputs = write_inputs(tmp_path, x=np.zeros((3, 2), np.float32))
    result = tidal_sim(binary, "--inputs", inputs, "--outputs", out)
    assert result.returncode == 1
    assert out.read_bytes() == b"previous"
