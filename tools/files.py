"""File plumbing of the command-line tools: one-line errors, signals, reading .npz
inputs, and writing outputs whole or not at all without ever destroying an input.
Pure Python and NumPy (no xDSL), so that tidal-sim runs a binary without the compiler.

Every tool follows the same rules (tested in test/unit/tools/test_output_safety.py):

- `check_paths(inputs, outputs)` runs before any work: an output that is the same file
  as an input or as another output (same resolved path, or same device and inode, so
  hard links and symlinks count) is refused, and so is an output whose directory does
  not exist or that is a directory, a block device or a socket.
- `write_files` stages each regular output in a temporary file beside its target and
  renames all of them into place only when every one is written. The replaced file's
  permission bits are kept. A symlink is written through (its target is replaced, the
  link stays), as `cp` does. A character device or FIFO (`/dev/null`, `/dev/stdout`,
  a named pipe with a reader) is written in place, never renamed over.
- Temporary files are named `.<name>.tidal-<pid>-<random>.tmp`; a signal removes them
  on the way out, and a file left by a process that no longer exists (kill -9) is
  removed by the next write to the same target.
- `tool_main` turns SIGINT and SIGTERM into one line and exit status 130 or 143.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import io
import os
import re
import signal
import stat
import sys
import tempfile
import tokenize
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import BinaryIO, NoReturn, TypeVar

import numpy as np


class ToolError(Exception):
    """An error to report as one line, without a traceback."""


class Terminated(BaseException):
    """SIGTERM, raised where the program stands so that `finally` clauses (which
    remove temporary files) run, as KeyboardInterrupt does for SIGINT."""


MESSAGE_MAX_CHARS = 2000
"""The longest error line a tool prints; a longer one (a 100 KB option value echoed
back) is cut, saying how much was left out."""


def fail(tool: str, message: str) -> NoReturn:
    print(f"{tool}: error: {_shown(_one_line(message))}", file=sys.stderr)
    raise SystemExit(1)


def escaped(text: str, backslash: bool = False) -> str:
    """`text` with what a terminal would act on or not show (newlines, NUL, escape
    sequences, a byte-order mark), and with `backslash` backslashes too, escaped as
    `repr` escapes them, so that it stays one unambiguous line."""
    return "".join(
        c if c.isprintable() and not (backslash and c == "\\") else repr(c)[1:-1] for c in text
    )


def _shown(line: str) -> str:
    """`line` as a terminal shows it (`escaped`), at most MESSAGE_MAX_CHARS
    characters."""
    if not line.isprintable():
        line = escaped(line)
    if len(line) > MESSAGE_MAX_CHARS:
        cut = MESSAGE_MAX_CHARS - 40
        line = f"{line[:cut]}... ({len(line) - cut} more characters)"
    return line


def _one_line(message: str) -> str:
    """The line of `message` that says what went wrong: its first, unless that opens
    a printed object (xDSL's "ModuleOp(" and the module, then "... could not find
    a nested named sequence"), whose text after the object's end is the message."""
    lines = [ln for ln in message.strip().splitlines() if ln.strip()]
    if not lines:
        return "unknown error"
    if lines[0].endswith("(") and len(lines) > 1 and lines[-1].startswith(")"):
        rest = lines[-1][1:].strip()
        if rest:
            return rest
    return lines[0]


_R = TypeVar("_R")


class StdoutError(Exception):
    """Standard output could not be written (a full disk, an I/O error)."""


class _Stdout:
    """sys.stdout while a tool runs: its text writes and flushes raise StdoutError
    when the stream fails (`tidal-opt m.mlir > /dev/full`), so the tool reports it
    in one line; a closed pipe stays BrokenPipeError (a quiet exit)."""

    def __init__(self, stream: object) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)  # type: ignore[attr-defined]
        except BrokenPipeError:
            raise
        except OSError as e:
            raise StdoutError(e.strerror or str(e)) from None

    def flush(self) -> None:
        try:
            self._stream.flush()  # type: ignore[attr-defined]
        except BrokenPipeError:
            raise
        except OSError as e:
            raise StdoutError(e.strerror or str(e)) from None

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so that the flush at exit cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.__stdout__.fileno())
    try:
        sys.__stdout__.flush()
    except OSError:
        pass


_doing: str | None = None


def at(what: str | None) -> None:
    """Say what the tool is doing now ("importing m.onnx", "simulating m.tbin"): a
    MemoryError names it, since it has no location of its own."""
    global _doing
    _doing = what


def tool_main(tool: str) -> Callable[[Callable[..., _R]], Callable[..., _R]]:
    """Decorate a tool's `main`: SIGINT ends it with `<tool>: interrupted` and exit
    status 130, SIGTERM with `<tool>: terminated` and 143 (128 + the signal number, as
    a shell reports them), after the temporary files of a write in progress are gone;
    a closed stdout pipe ends it silently with 141, as SIGPIPE would."""

    def decorate(main: Callable[..., _R]) -> Callable[..., _R]:
        @functools.wraps(main)
        def guarded(*args: object, **kwargs: object) -> _R:
            def on_term(signum: int, frame: object) -> None:
                raise Terminated

            previous = signal.signal(signal.SIGTERM, on_term)
            at(None)
            stdout = sys.stdout
            sys.stdout = _Stdout(stdout)
            try:
                result = main(*args, **kwargs)
                sys.stdout.flush()  # (a full disk shows here, not at the exit)
                return result
            except StdoutError as e:
                print(f"{tool}: error: cannot write standard output: {e}", file=sys.stderr)
                _discard_stdout()
                raise SystemExit(1) from None
            except KeyboardInterrupt:
                print(f"{tool}: interrupted", file=sys.stderr)
                raise SystemExit(128 + signal.SIGINT) from None
            except Terminated:
                print(f"{tool}: terminated", file=sys.stderr)
                raise SystemExit(128 + signal.SIGTERM) from None
            except RecursionError:
                # An input nested past Python's recursion limit (an expression of
                # tens of thousands of terms): one line, not a traceback.
                print(f"{tool}: error: the input nests too deeply to process (past Python's recursion limit)", file=sys.stderr)
                raise SystemExit(1) from None
            except MemoryError:
                where = f" while {_doing}" if _doing else ""
                print(f"{tool}: error: out of memory on this input{where}", file=sys.stderr)
                raise SystemExit(1) from None
            except BrokenPipeError:
                # The reader of stdout went away (`tidal-opt m.mlir | head`): stop
                # quietly, as a shell's SIGPIPE does, with its status (128 + 13);
                # stdout goes to /dev/null so that the exit's flush cannot fail too.
                _discard_stdout()
                raise SystemExit(128 + signal.SIGPIPE) from None
            finally:
                sys.stdout = stdout
                signal.signal(signal.SIGTERM, previous)

        return guarded

    return decorate


NPZ_MAX_BYTES = 1 << 32
"""The most bytes an .npz of inputs may hold once decompressed: the largest chip
preset's DRAM, which every input has to fit. A member that decompresses to more
(a zip bomb) is refused from the archive's directory, before it is inflated."""


_ZIP_ERRORS = (
    OSError,
    zipfile.BadZipFile,  # a bad CRC, a truncated archive
    zlib.error,  # a corrupt deflate stream ("invalid block type")
    NotImplementedError,  # a compression method zipfile does not know
    RuntimeError,  # an encrypted member
)
"""What reading a member of a damaged or unusual zip archive raises."""


def _check_npz_members(path: str, expect: Mapping[str, int] | None = None) -> None:
    """Each member of the .npz archive at `path` read as far as its .npy header: the
    bytes its shape and dtype declare must be the bytes it holds, so a forged header
    (a shape of 10^15 elements) is refused before anything is allocated; ToolError
    (one line) naming the member otherwise. The members together may hold at most
    NPZ_MAX_BYTES; with `expect` (name: the bytes that input takes), each of those
    names at most its bytes: checked on the archive's directory, so no input larger
    than the program's is ever decompressed."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, ValueError):
        return  # not a zip archive: np.load says what it is
    fmt = np.lib.format
    with archive:
        infos = archive.infolist()
        total = sum(info.file_size for info in infos)
        if total > NPZ_MAX_BYTES:
            raise ToolError(
                f"inputs '{path}': its arrays hold {total:,} bytes decompressed, more than "
                f"any chip's DRAM ({NPZ_MAX_BYTES:,})"
            )
        seen: set[str] = set()
        for info in infos:
            name = info.filename.removesuffix(".npy")
            if name in seen:  # (np.load keeps the last: a value the user may not mean)
                raise ToolError(f"inputs '{path}': array '{name}' is in the archive twice")
            seen.add(name)
            if expect is not None and name in expect:
                if info.file_size > expect[name] + (1 << 16):  # (the .npy header: at most 64 KiB)
                    raise ToolError(
                        f"inputs '{path}': array '{name}' holds {info.file_size:,} bytes, more "
                        f"than input '{name}' takes ({expect[name]:,})"
                    )
            try:
                with archive.open(info) as f:
                    major, minor = fmt.read_magic(f)
                    if (major, minor) == (1, 0):
                        shape, _, dtype = fmt.read_array_header_1_0(f)
                    elif major in (2, 3):
                        shape, _, dtype = fmt.read_array_header_2_0(f)
                    else:
                        raise ValueError(f"unsupported .npy format version {major}.{minor}")
                    header = f.tell()
            except (ValueError, SyntaxError, TypeError, EOFError, tokenize.TokenError, *_ZIP_ERRORS) as err:
                raise ToolError(f"inputs '{path}': array '{name}' has a malformed header: {err}") from None
            if dtype.hasobject:
                raise ToolError(f"inputs '{path}': array '{name}' holds Python objects (pickled data is not read)")
            count = 1
            for n in shape:
                count *= int(n)
            if count * dtype.itemsize != info.file_size - header:
                raise ToolError(
                    f"inputs '{path}': array '{name}' declares shape {tuple(shape)} of {dtype} "
                    f"({count * dtype.itemsize} bytes) but holds {info.file_size - header} bytes"
                )


_UNREAD = np.empty(0, np.float32)


def read_npz(path: str, expect: Mapping[str, int] | None = None) -> dict[str, np.ndarray]:
    """The arrays of an .npz archive; ToolError (one line) for anything else. With
    `expect` (input name: its bytes), a member of one of those names holding more
    bytes is refused before it is decompressed (`_check_npz_members`), and a member
    of any other name is not read: its value is an empty array (the caller refuses
    it by its name, as `tidal.sim.inputs.check_inputs` does)."""
    check_read_once(path, "an .npz is read more than once (its members' sizes first)")
    _check_npz_members(path, expect)
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
        if not magic.startswith(b"PK") and magic != b"\x93NUMPY":
            # (np.load takes anything else for a pickle and says to load it unsafely)
            raise ToolError(
                f"cannot read inputs '{path}': not an .npz archive (no zip header; "
                "numpy.savez writes one)"
            )
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ToolError(f"inputs file '{path}' holds one array, not an .npz archive")
        with loaded as npz:
            # (a member the caller does not expect is not decompressed: its name is
            # all that refusing it takes, and it may be a zip bomb)
            return {
                name: npz[name] if expect is None or name in expect else _UNREAD
                for name in npz.files
            }
    except OSError as err:
        raise ToolError(f"cannot read inputs '{path}': {err.strerror or err}") from None
    except (ValueError, EOFError, SyntaxError, tokenize.TokenError, MemoryError, *_ZIP_ERRORS) as err:
        raise ToolError(f"cannot read inputs '{path}': {err}") from None


class NpzArrays(Mapping[str, np.ndarray]):
    """The arrays of an .npz archive, each decompressed when first asked for: a
    caller that learns which names it takes only after reading some (tidal-run, whose
    model's inputs are known once it is imported with the values fed) refuses an
    unknown name by its name, without inflating it (a zip bomb under a wrong name).
    `open_npz` makes one; `without(names)` is a view of the others."""

    def __init__(self, path: str, names: Sequence[str], cache: dict[str, np.ndarray] | None = None):
        self.path, self._names = path, dict.fromkeys(names)  # (in order, looked up at once)
        self._cache: dict[str, np.ndarray] = {} if cache is None else cache

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._cache:
            try:
                with np.load(self.path, allow_pickle=False) as npz:
                    self._cache[name] = npz[name]
            except (ValueError, EOFError, KeyError, MemoryError, *_ZIP_ERRORS) as err:
                raise ToolError(f"cannot read inputs '{self.path}': array '{name}': {err}") from None
        return self._cache[name]

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def without(self, names: Iterable[str]) -> NpzArrays:
        drop = set(names)
        return NpzArrays(self.path, [n for n in self._names if n not in drop], self._cache)


def open_npz(path: str) -> NpzArrays:
    """The arrays of the .npz archive at `path`, as `read_npz` checks them (headers
    against sizes, a 4 GiB total), each decompressed only when first read."""
    names = list(read_npz(path, expect={}))  # every member unread: names and checks
    return NpzArrays(path, names)


def npz_payload(arrays: dict[str, np.ndarray]) -> Callable[[BinaryIO], None]:
    """The .npz archive of `arrays`, as a `write_files` payload that streams each
    array into the file (an archive built in memory first doubled the outputs'
    memory: three aliased 1 GiB outputs ran a 6 GB process out of memory inside
    zipfile); a string tensor (onnxruntime gives an object array of str) as an
    array of NumPy's str dtype, which `np.load` reads without pickles."""

    def write(f: BinaryIO) -> None:
        values = {name: _no_objects(a) for name, a in arrays.items()}
        if stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            np.savez(f, **values)  # type: ignore[arg-type]
            return
        # /dev/null or a FIFO, written in place: zipfile needs the offsets a regular
        # file gives, so the archive is made in memory first
        buffer = io.BytesIO()
        np.savez(buffer, **values)  # type: ignore[arg-type]
        f.write(buffer.getbuffer())

    return write


def _no_objects(array: np.ndarray) -> np.ndarray:
    if isinstance(array, np.ndarray) and array.dtype == object:
        return np.array(array.tolist(), dtype=np.str_).reshape(array.shape)
    return array


# ---------------------------------------------------------------------------
# Which file a path names
# ---------------------------------------------------------------------------


def _identity(path: str) -> tuple[object, ...]:
    """What `path` names: (device, inode) of an existing file (through symlinks),
    else its resolved absolute path."""
    resolved = os.path.realpath(path)
    try:
        st = os.stat(resolved)
    except OSError:
        return ("path", resolved)
    return ("inode", st.st_dev, st.st_ino)


def _is_char_device(path: str) -> bool:
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def _check_target(path: str) -> None:
    """An output path a tool can write: its directory exists, and it is not a
    directory, block device or socket."""
    resolved = os.path.realpath(path)
    try:
        mode = os.stat(resolved).st_mode
    except FileNotFoundError:
        directory = os.path.dirname(resolved)
        if not os.path.isdir(directory):
            raise ToolError(
                f"cannot write '{path}': directory '{directory}' does not exist"
            ) from None
        return
    except OSError as err:
        raise ToolError(f"cannot write '{path}': {err.strerror or err}") from None
    kind = _special_kind(mode)
    if kind in ("a directory", "a block device", "a socket"):
        raise ToolError(f"cannot write '{path}': it is {kind}")


def _special_kind(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


MLIR_MAX_BYTES = 128 << 20
"""The largest MLIR text the tools parse. xDSL's parser holds about 60 times the
text in memory while it reads a dense constant's hex string (a 9.9 MB SqueezeNet
module: 0.58 GB), so 128 MiB already takes about 8 GB; larger models are read from
their ONNX file, whose weights are never text."""


INPUT_MAX_BYTES = {
    ".onnx": 2**31,  # protobuf's limit: a larger model keeps its weights as external data
    ".mlir": 4 * MLIR_MAX_BYTES,  # the UTF-8 bytes of MLIR_MAX_BYTES characters
    ".tbin": 1 << 34,  # the largest chip preset's DRAM (4 GiB) four times over
}
"""The most bytes an input file of each kind may hold, checked on its size before
it is read (each is read whole)."""


def check_source(path: str) -> None:
    """An input a tool can read: not a directory or a device (/dev/zero would be
    read until memory runs out), and, for a regular file of a kind in
    INPUT_MAX_BYTES, not larger than its kind may be. A FIFO is read as it comes, as
    any Unix tool reads one, where the tool reads it once (a binary); models and
    .npz files are read more than once (`check_read_once`); a missing file is left
    to the reader's message."""
    try:
        st = os.stat(path)
    except OSError:
        return
    kind = _special_kind(st.st_mode)
    if kind in ("a directory", "a character device", "a block device", "a socket"):
        raise ToolError(f"cannot read '{path}': it is {kind}")
    limit = INPUT_MAX_BYTES.get(os.path.splitext(path)[1].lower())
    if kind is None and limit is not None and st.st_size > limit:
        raise ToolError(
            f"cannot read '{path}': {st.st_size:,} bytes, more than the {limit:,} a "
            f"{os.path.splitext(path)[1]} file may hold"
        )


def check_read_once(path: str, why: str) -> None:
    """ToolError if `path` is a pipe or FIFO (`<(cat m.onnx)`, `mkfifo`), which can be
    read only once, for an input that is read more than once (`why`): the second
    read found it empty, and the message blamed the data ("not a valid ONNX
    model"), or a FIFO with no writer blocked. Checked without opening it."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # (the reader names a missing file)
    if stat.S_ISFIFO(mode):
        raise ToolError(f"cannot read '{path}': it is a pipe or FIFO, and {why}; give a regular file")


def check_paths(inputs: Iterable[str | None], outputs: Iterable[str | None]) -> None:
    """Refuse, before any work, inputs that cannot be read whole (`check_source`),
    outputs that would destroy an input or each other, and outputs that cannot be
    written (see the module docstring). `None` entries (options not given) are
    skipped. Raises ToolError naming both paths."""
    inputs = [p for p in inputs if p is not None]
    for p in inputs:
        check_source(p)
    seen: list[tuple[str, tuple[object, ...], str]] = [("input", _identity(p), p) for p in inputs]
    for out in outputs:
        if out is None:
            continue
        if not out:
            raise ToolError("an output path is empty")
        if out.endswith(os.sep) and not os.path.isdir(out):
            # (open() would write the file without the slash)
            raise ToolError(f"cannot write '{out}': a path ending in '{os.sep}' names a directory")
        _check_target(out)
        ident = _identity(out)
        if not _is_char_device(out):  # /dev/null may take any number of outputs
            for role, other, name in seen:
                if other == ident:
                    same = "" if name == out else f" ('{name}')"
                    raise ToolError(
                        f"output '{out}' is the same file as the {role}{same}; "
                        "refusing to overwrite it"
                    )
        seen.append(("output", ident, out))


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------

Payload = bytes | Callable[[BinaryIO], None]
"""What to write: the bytes, or a function that streams them into a binary file."""

_NAME_CHARS = 80  # of the target's name kept in a temporary file's name


def _temp_prefix(target: str) -> str:
    return f".{os.path.basename(target)[:_NAME_CHARS]}.tidal-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def remove_stale_temps(target: str) -> None:
    """Remove the temporary files that writes to `target` by processes that no longer
    exist left behind (after kill -9 or a power cut)."""
    directory = os.path.dirname(target) or "."
    prefix = _temp_prefix(target)
    pattern = re.compile(re.escape(prefix) + r"(\d+)-[A-Za-z0-9_]+\.tmp")
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        m = pattern.fullmatch(name)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def _emit(f: BinaryIO, data: Payload) -> None:
    if isinstance(data, bytes | bytearray | memoryview):
        f.write(data)
    else:
        data(f)


def _stage(target: str, data: Payload, umask: int, staged: list[str]) -> None:
    """Write `data` to a new temporary file beside `target` (appended to `staged`
    before a byte is written, so the caller can always remove it)."""
    directory = os.path.dirname(target)
    remove_stale_temps(target)
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix=f"{_temp_prefix(target)}{os.getpid()}-", suffix=".tmp"
    )
    staged.append(tmp)
    with os.fdopen(fd, "wb") as f:
        try:
            st = os.stat(target)
        except FileNotFoundError:
            os.fchmod(fd, 0o666 & ~umask)
        else:
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
            if os.geteuid() == 0:  # root can keep the replaced file's owner too
                os.fchown(fd, st.st_uid, st.st_gid)
        _emit(f, data)
        f.flush()
        os.fsync(fd)


def _write_in_place(target: str, path: str, data: Payload) -> None:
    """Write a character device or FIFO where it is. A FIFO is opened without
    blocking first, so that one with no reader is an error, not a hang."""
    flags = os.O_WRONLY | os.O_NONBLOCK
    try:
        fd = os.open(target, flags)
    except OSError as err:
        if err.errno == errno.ENXIO:
            raise ToolError(f"cannot write '{path}': a FIFO with no reader") from None
        raise
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    with os.fdopen(fd, "wb") as f:
        _emit(f, data)


def write_files(payloads: Sequence[tuple[str, Payload]]) -> None:
    """Write every file or none (see the module docstring). ToolError (one line) if
    any cannot be written; the temporary files are gone whatever happens."""
    umask = os.umask(0)
    os.umask(umask)
    staged: list[str] = []
    renames: list[tuple[str, str, str]] = []  # (temporary, target, path as given)
    in_place: list[tuple[str, str, Payload]] = []
    path = ""
    try:
        for path, data in payloads:
            _check_target(path)
            target = os.path.realpath(path)
            try:
                kind = _special_kind(os.stat(target).st_mode)
            except FileNotFoundError:
                kind = None
            if kind is not None:
                in_place.append((target, path, data))
                continue
            _stage(target, data, umask, staged)
            renames.append((staged[-1], target, path))
        for target, path, data in in_place:
            _write_in_place(target, path, data)
        for tmp, target, path in renames:
            os.replace(tmp, target)
    except OSError as err:
        raise ToolError(f"cannot write '{path}': {err.strerror or err}") from None
    finally:
        for tmp in staged:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
