"""The key of the compiled-segment cache (tools/cache.py): a structural hash of a
graph-level module as it enters the per-segment lowering (after graph-partition), of
the chip, the compiler and the options that change what the lowering emits.

    keyed = segment_key(module, "small", disabled=frozenset())
    keyed.key    # 64 hex digits
    keyed.names  # the names the key leaves out, to rename a cached program with

What the hash covers, op by op in program order (regions and blocks included): the
op's name; each operand as the number of the value it reads (block arguments and
results numbered in the order they are defined, so wiring, never SSA or ONNX names);
result and block-argument types; properties and attributes by key, recursively, a
constant's data as its raw bytes (hashed where they lie, never printed). Left out are
names, which change no instruction: `tidal.name` (tensor names of the function's
arguments and results), `tidal.origin` and `tidal.fused` (the ONNX nodes an op came
from, the binary's debug table), `tidal.reason` (placement prose, which quotes them)
and the names in `tidal.constant_inputs` (only their count counts). They are
collected instead, in the same order, as `Names`, so that a hit can be renamed.

Besides the IR: the key format, the chip preset's name and every field of its
`ChipConfig`, the disabled optimisations, and `compiler_version()` (the package's
version, xDSL's and NumPy's, and a hash of every source file of the installed tidal
package, computed once per process: any change to the compiler misses).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import importlib.metadata
import json
import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr
from xdsl.ir import Attribute, Block, Data, Operation, ParametrizedAttribute, SSAValue

from tidal.sim.config import get_chip
from tidal.targets import CONSTANT_INPUTS_ATTR

KEY_FORMAT = "tidal-cache-key/1"
# Attributes that name things; the key leaves them out (see the module docstring).
NAME_ATTRS = frozenset({"tidal.name", "tidal.origin", "tidal.fused", "tidal.reason"})
# The subpackages of the installed compiler, whose files `compiler_version` hashes.
PACKAGES = ("tidal.dialects", "tidal.passes", "tidal.targets", "tidal.sim", "tidal.tools")


@dataclass(frozen=True)
class Names:
    """What the key leaves out, in the order the key walks the IR: the tensor names
    of the function's arguments (`inputs`) and results (`outputs`), every op's
    origins (`tidal.origin`, then `tidal.fused`) and the module's constant inputs."""

    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    constant_inputs: tuple[str, ...] = ()

    def to_json(self) -> dict[str, list[str]]:
        return {f.name: list(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @staticmethod
    def from_json(data: object) -> Names:
        """The `Names` of `to_json`; ValueError for anything else."""
        if not isinstance(data, dict):
            raise ValueError("names is not an object")
        fields = [f.name for f in dataclasses.fields(Names)]
        if set(data) != set(fields):
            raise ValueError(f"names has keys {sorted(data)}, expected {fields}")
        values: dict[str, tuple[str, ...]] = {}
        for name in fields:
            items = data[name]
            if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
                raise ValueError(f"names '{name}' is not a list of strings")
            values[name] = tuple(items)
        return Names(**values)


@dataclass(frozen=True)
class Keyed:
    """A segment's cache key (hex) and the names it leaves out."""

    key: str
    names: Names = field(default_factory=Names)


@functools.cache
def compiler_version() -> str:
    """The compiler's identity for the key: the versions of tidal, xDSL and NumPy and
    a hash of every file of the installed tidal package (sources and the chip
    datasheet), by path and content. Computed once per process (about 10 ms)."""
    h = hashlib.sha256()
    for package in PACKAGES:
        for directory in importlib.import_module(package).__path__:
            for path in sorted(_package_files(directory)):
                rel = os.path.relpath(path, directory)
                with open(path, "rb") as f:
                    data = f.read()
                h.update(f"{package}/{rel}\0{len(data)}\0".encode())
                h.update(data)
    versions = [importlib.metadata.version(d) for d in ("tidal", "xdsl", "numpy")]
    return f"tidal {versions[0]} (xdsl {versions[1]}, numpy {versions[2]}) {h.hexdigest()[:32]}"


def _package_files(directory: str) -> Iterator[str]:
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
        for name in files:
            if not name.endswith((".pyc", ".pyo")) and not name.startswith("."):
                yield os.path.join(root, name)


def segment_key(module: ModuleOp, chip: str, disabled: Collection[str] = ()) -> Keyed:
    """The cache key of `module` (graph level, after graph-partition) compiled for
    chip preset `chip` with the optimisations in `disabled` off. Raises
    UnknownChipError for an unknown preset."""
    config = get_chip(chip)
    context = {
        "format": KEY_FORMAT,
        "compiler": compiler_version(),
        "chip": chip,
        "config": dataclasses.asdict(config),
        "disabled": sorted(disabled),
    }
    hasher = _StructuralHash()
    hasher.token(b"context", json.dumps(context, sort_keys=True, default=repr).encode())
    hasher.op(module)
    return Keyed(hasher.h.hexdigest(), hasher.names())


class _StructuralHash:
    """Feeds a module into a SHA-256 hash as length-prefixed tokens (so that no two
    different sequences of tokens give the same bytes) and collects the names it
    leaves out. SHA-256, not BLAKE2b: with the CPU's SHA instructions it hashes
    weights twice as fast here (1.4 GB/s against 0.7)."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self.values: dict[SSAValue, int] = {}
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.origins: list[str] = []
        self.constant_inputs: list[str] = []

    def names(self) -> Names:
        return Names(
            tuple(self.inputs), tuple(self.outputs), tuple(self.origins),
            tuple(self.constant_inputs),
        )

    def token(self, tag: bytes, data: bytes | memoryview = b"") -> None:
        self.h.update(tag)
        self.h.update(len(data).to_bytes(8, "little"))
        self.h.update(data)

    def text(self, tag: bytes, value: str) -> None:
        self.token(tag, value.encode())

    def number(self, value: SSAValue) -> int:
        return self.values.setdefault(value, len(self.values))

    def op(self, op: Operation) -> None:
        self.text(b"op", op.name)
        self.text(b"operands", str(len(op.operands)))
        for operand in op.operands:
            self.text(b"use", str(self.number(operand)))
        self.text(b"results", str(len(op.results)))
        for result in op.results:
            self.number(result)
            self.attr(result.type)
        self.entries(b"props", op.properties)
        self.entries(b"attrs", op.attributes)
        self.text(b"successors", str(len(op.successors)))
        self.text(b"regions", str(len(op.regions)))
        for region in op.regions:
            self.text(b"blocks", str(len(region.blocks)))
            for block in region.blocks:
                self.block(block)
        self.collect(op)

    def block(self, block: Block) -> None:
        self.text(b"args", str(len(block.args)))
        for arg in block.args:
            self.number(arg)
            self.attr(arg.type)
        for op in block.ops:
            self.op(op)

    def entries(self, tag: bytes, items: Any) -> None:
        """A dict of attributes by sorted key, names left out (`tidal.constant_inputs`
        as its count)."""
        keys = sorted(k for k in items if k not in NAME_ATTRS)
        self.text(tag, str(len(keys)))
        for k in keys:
            self.text(b"key", k)
            value = items[k]
            if k == CONSTANT_INPUTS_ATTR and isinstance(value, ArrayAttr):
                self.text(b"count", str(len(value.data)))
            else:
                self.attr(value)

    def attr(self, attr: Attribute) -> None:
        """An attribute, recursively: a Data by its value (bytes as they are, the
        data of dense constants), a parametrized attribute by name and parameters."""
        if isinstance(attr, Data):
            data: object = attr.data  # pyright: ignore[reportUnknownMemberType]
            self.text(b"data", attr.name)
            if isinstance(data, bytes | bytearray):
                self.token(b"bytes", data)
            elif isinstance(data, tuple):
                self.text(b"tuple", str(len(data)))
                for item in data:  # pyright: ignore[reportUnknownVariableType]
                    self.attr(item)  # pyright: ignore[reportUnknownArgumentType]
            elif isinstance(attr, DictionaryAttr):
                self.entries(b"dict", attr.data)
            else:
                self.text(b"repr", repr(data))
        elif isinstance(attr, ParametrizedAttribute):
            self.text(b"param", attr.name)
            self.text(b"params", str(len(attr.parameters)))
            for p in attr.parameters:
                self.attr(p)
        else:  # not an xDSL attribute kind we know: its type and text
            self.text(b"other", f"{type(attr).__qualname__} {attr}")

    def collect(self, op: Operation) -> None:
        """The names `op` carries, in the key's order (origins after the op's
        regions, so a nested op's come first)."""
        for key in ("tidal.origin", "tidal.fused"):
            found = op.attributes.get(key)
            if isinstance(found, StringAttr):
                self.origins.append(found.data)
            elif isinstance(found, ArrayAttr):
                self.origins += [s.data for s in found.data if isinstance(s, StringAttr)]
        if isinstance(op, ModuleOp):
            found = op.attributes.get(CONSTANT_INPUTS_ATTR)
            if isinstance(found, ArrayAttr):
                self.constant_inputs += [
                    s.data for s in found.data if isinstance(s, StringAttr)
                ]
        for key, into in (("arg_attrs", self.inputs), ("res_attrs", self.outputs)):
            found = op.properties.get(key)
            if op.name == "func.func" and isinstance(found, ArrayAttr):
                into += [_tensor_name(entry) for entry in found.data]


def _tensor_name(entry: Attribute) -> str:
    name = entry.data.get("tidal.name") if isinstance(entry, DictionaryAttr) else None
    return name.data if isinstance(name, StringAttr) else ""
