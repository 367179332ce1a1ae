"""Reading an `.onnx` file without copying its weights into memory.

`onnx.load` parses the whole file into one protobuf message, weights included, and
every tensor read from it is a second copy: a 575 MB model costs 1.2 GB before the
compiler holds anything. `load_model(path)` returns the same `ModelProto`, except that
each large float initializer stored in the file itself (`raw_data`) is left on disk
and described the way ONNX describes any tensor stored outside the model, as external
data: `data_location = EXTERNAL` with the model file's own name, the byte offset of
the data in it and its length. `onnx.numpy_helper.to_array(tensor, base_dir)` then
reads each tensor once, straight into the bytes an array views:

    model = load_model("models/vgg19.onnx")
    weights = numpy_helper.to_array(model.graph.initializer[0], "models")

The file is scanned at the protobuf wire level (ModelProto field 7 `graph`, GraphProto
field 5 `initializer`, TensorProto field 2 `data_type` and field 9 `raw_data`); only
the bytes around the weights are copied and parsed by protobuf. A file the scanner
does not understand (another format, a truncated or odd encoding) or a model that is a
symlink into another directory (external data is named relative to the model's
directory) is loaded by `onnx.load` unchanged, so errors are onnx's own.
"""

from __future__ import annotations

import math
import mmap
import os
from collections.abc import Callable, Iterator

import onnx
from onnx import TensorProto

# Field numbers in onnx.proto.
_MODEL_GRAPH = 7
_GRAPH_INITIALIZER = 5
_TENSOR_DIMS = 1
_TENSOR_DATA_TYPE = 2
_TENSOR_RAW_DATA = 9
_TENSOR_EXTERNAL_DATA = 13
_TENSOR_DATA_LOCATION = 14

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


class _Unreadable(Exception):
    """Wire data the scanner does not follow; the file goes to onnx.load instead."""


def _varint(buf: mmap.mmap, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while pos < end and shift < 64:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise _Unreadable


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_Field = tuple[int, int, int, int, int]


def _fields(buf: mmap.mmap, start: int, end: int) -> Iterator[_Field]:
    """(field number, wire type, start of the field, start and end of its value) of
    each field of the message in buf[start:end]."""
    pos = start
    while pos < end:
        at = pos
        tag, pos = _varint(buf, pos, end)
        number, wire = tag >> 3, tag & 7
        if wire == _VARINT:
            value_end = _varint(buf, pos, end)[1]
        elif wire == _FIXED64:
            value_end = pos + 8
        elif wire == _FIXED32:
            value_end = pos + 4
        elif wire == _LENGTH:
            size, pos = _varint(buf, pos, end)
            value_end = pos + size
        else:  # groups: not in onnx.proto
            raise _Unreadable
        if number == 0 or value_end > end:
            raise _Unreadable
        yield number, wire, at, pos, value_end
        pos = value_end


def _length_field(number: int, value: bytes) -> bytes:
    return _encode_varint(number << 3 | _LENGTH) + _encode_varint(len(value)) + value


class _Scan:
    """The model's bytes without the large float `raw_data` of its initializers, and
    where that data is in the file, in initializer order."""

    def __init__(self, buf: mmap.mmap, min_bytes: int):
        self.buf = buf
        self.min_bytes = min_bytes
        self.initializers = 0
        self.left: list[tuple[int, int, int]] = []  # (initializer index, offset, length)

    def model(self) -> bytes:
        return self._rewrite(0, len(self.buf), _MODEL_GRAPH, self._graph)

    def _rewrite(
        self, start: int, end: int, number: int, inner: Callable[[int, int], bytes]
    ) -> bytes:
        """The message buf[start:end] with each length-delimited field `number`
        replaced by `inner(value start, value end)`, the rest kept as they are."""
        out = bytearray()
        for field, wire, at, value, value_end in _fields(self.buf, start, end):
            if field == number and wire == _LENGTH:
                out += _length_field(number, inner(value, value_end))
            else:
                out += self.buf[at:value_end]
        return bytes(out)

    def _graph(self, start: int, end: int) -> bytes:
        return self._rewrite(start, end, _GRAPH_INITIALIZER, self._tensor)

    def _tensor(self, start: int, end: int) -> bytes:
        index = self.initializers
        self.initializers += 1
        fields = list(_fields(self.buf, start, end))
        data_type = TensorProto.UNDEFINED
        for field, wire, _, value, _ in fields:
            if field == _TENSOR_DATA_TYPE and wire == _VARINT:
                data_type = _varint(self.buf, value, end)[0]
        raw = [f for f in fields if f[0] == _TENSOR_RAW_DATA]
        external = any(
            f[0] in (_TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION) for f in fields
        )
        keep = (
            data_type != TensorProto.FLOAT
            or external
            or len(raw) != 1
            or raw[0][1] != _LENGTH
            or raw[0][4] - raw[0][3] <= self.min_bytes
            or raw[0][4] - raw[0][3] != 4 * math.prod(self._dims(fields))
        )
        if keep:  # malformed data too: onnx's own reading reports it
            return self.buf[start:end]
        _, _, _, value, value_end = raw[0]
        self.left.append((index, value, value_end - value))
        return b"".join(self.buf[at:e] for f, _, at, _, e in fields if f != _TENSOR_RAW_DATA)

    def _dims(self, fields: list[_Field]) -> list[int]:
        """TensorProto field 1, `repeated int64 dims`, packed or not."""
        dims: list[int] = []
        for field, wire, _, value, value_end in fields:
            if field != _TENSOR_DIMS:
                continue
            if wire == _VARINT:
                dims.append(_varint(self.buf, value, value_end)[0])
                continue
            if wire != _LENGTH:
                raise _Unreadable
            pos = value
            while pos < value_end:
                dim, pos = _varint(self.buf, pos, value_end)
                dims.append(dim)
        return dims


def _scan(path: str, min_bytes: int) -> tuple[bytes, list[tuple[int, int, int]]] | None:
    """The scan of the file at `path`, or None to load it with onnx.load."""
    try:
        with open(path, "rb") as f:
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                scan = _Scan(buf, min_bytes)
                return scan.model(), scan.left
    except (OSError, ValueError, _Unreadable):  # not mappable (empty, a pipe) or odd
        return None


def load_model(
    path: str | os.PathLike[str], load_external_data: bool = True, min_bytes: int = 4096
) -> onnx.ModelProto:
    """`onnx.load(path, load_external_data=...)`, except that float initializers of
    more than `min_bytes` bytes of `raw_data` stay in the file, as external data
    naming the model file itself (see the module docstring)."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1]
    fmt = onnx.serialization.registry.get_format_from_file_extension(ext)
    # External data is named relative to the model's directory: the model file must
    # be there itself (not a symlink to another directory) to name its own weights.
    real = os.path.realpath(path)
    here = os.path.dirname(real) == os.path.realpath(os.path.dirname(os.path.abspath(path)))
    scanned = _scan(path, min_bytes) if fmt in (None, "protobuf") and here else None
    if scanned is None:
        return onnx.load(path, load_external_data=load_external_data)
    stripped, left = scanned
    model = onnx.load_model_from_string(stripped)
    if load_external_data:
        onnx.load_external_data_for_model(model, os.path.dirname(os.path.abspath(path)))
    initializers = model.graph.initializer
    for index, offset, length in left:
        tensor = initializers[index]
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (
            ("location", os.path.basename(real)),
            ("offset", str(offset)),
            ("length", str(length)),
        ):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
    return model
