"""The compiled-segment cache: accelerator programs on disk, keyed by a structural
hash of the graph they were compiled from (tools/cache_key.py), so that a model, or a
segment two models share, is lowered once (after the seed patent US12093801B1:
executable instructions in a database keyed by subgraph identifiers).

    cache = Cache.open("~/.cache/tidal")        # CacheError: one line, for a bad dir
    program, status = cache.fetch(keyed, compile_segment, model="m.onnx")
    status                                      # "hit", "miss, stored", ...

One file per key, `<key>.tcache`, written whole or not at all (a temporary file in
the same directory, fsync, `os.replace`), so concurrent compiles never see half an
entry and the last writer wins. The file is a fixed header (magic, format version,
header length), a JSON header (key, created, source model, sizes, compile seconds,
the binary's SHA-256 and the names the key leaves out) and the binary's bytes
exactly as `isa.encode_container` gives them. An entry that cannot be read whole
(truncated, flipped bytes: the binary's checksum; a header field of the wrong type
or range) or that holds another binary than the one stored (its SHA-256) is a miss,
recompiled and replaced. On a hit the program is renamed to the current segment's
tensor and node names (`rename`), which the key leaves out.

Only files named `<64 hex digits>.tcache` (and this module's temporary files) are
the cache's: `clear` removes those and nothing else. Pure Python and NumPy.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import json
import math
import os
import re
import stat
import struct
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from tidal.sim import isa
from tidal.tools.files import remove_stale_temps

if TYPE_CHECKING:
    from tidal.tools.cache_key import Keyed, Names

ENV_VAR = "TIDAL_CACHE_DIR"
SUFFIX = ".tcache"
ENTRY_NAME = re.compile(r"[0-9a-f]{64}" + re.escape(SUFFIX))
# A store's temporary file (see files.remove_stale_temps for the form).
TEMP_NAME = re.compile(r"\.([0-9a-f]{64})" + re.escape(SUFFIX) + r"\.tidal-\d+-[A-Za-z0-9_]+\.tmp")
MAGIC = b"TIDALCACHE"
FORMAT = 2  # 2: the header holds the binary's SHA-256
PREFIX = struct.Struct("<10sHQ")  # magic, format, header JSON bytes
MAX_HEADER_BYTES = 1 << 26  # names of a model with a million ops fit
MAX_SECONDS = 1 << 37  # a bound for times in a header (the year 6325)
HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


class CacheError(Exception):
    """A cache directory that cannot be used, as one line."""


class BadEntry(Exception):
    """An entry that cannot be read whole; the message says why."""


def default_dir() -> Path:
    """Where tidal-cache looks by default: $TIDAL_CACHE_DIR, else
    $XDG_CACHE_HOME/tidal, else ~/.cache/tidal (an empty variable counts as unset,
    as the XDG spec has it)."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "tidal"


@dataclass(frozen=True)
class Entry:
    """One entry's header, as `list` shows it (`error` set for an unreadable one)."""

    path: Path
    key: str
    file_bytes: int
    size: int = 0
    created: float = 0.0
    model: str = ""
    chip: str = ""
    compile_seconds: float = 0.0
    error: str = ""


def _open_regular(path: Path) -> BinaryIO:
    """`path` open for reading if it is a regular file (through symlinks); OSError
    otherwise, without blocking: a FIFO named like an entry would wait for a writer
    forever, a device read without end."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _is_count(value: object) -> bool:
    """An int (not a bool) of at least 0."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_seconds(value: object) -> bool:
    """A finite number (not a bool) in [0, MAX_SECONDS): JSON gives NaN, Infinity and
    1e300 too, which no clock does and `time.localtime` refuses."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return 0 <= value < MAX_SECONDS


def _is_digest(value: object) -> bool:
    """A SHA-256 as 64 lowercase hex digits."""
    return isinstance(value, str) and HEX_DIGEST.fullmatch(value) is not None


def _is_text(value: object) -> bool:
    return isinstance(value, str)


# The header's fields besides the key and the names (which `Names.from_json` checks
# when the entry is used), each with what its value must be.
HEADER_FIELDS: tuple[tuple[str, Callable[[object], bool]], ...] = (
    ("size", _is_count),
    ("sha256", _is_digest),
    ("created", _is_seconds),
    ("compile_seconds", _is_seconds),
    ("model", _is_text),
    ("chip", _is_text),
)


def _header_of(f: BinaryIO, path: Path, file_bytes: int) -> dict[str, object]:
    """The JSON header of the entry open as `f`, checked; BadEntry says why not."""
    prefix = f.read(PREFIX.size)
    if len(prefix) < PREFIX.size:
        raise BadEntry(f"truncated ({file_bytes} bytes)")
    magic, version, length = PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise BadEntry("not a cache entry (bad magic)")
    if version != FORMAT:
        raise BadEntry(f"entry format {version}, this build reads {FORMAT}")
    if length > min(MAX_HEADER_BYTES, file_bytes - PREFIX.size):
        raise BadEntry(f"header of {length} bytes does not fit the file")
    try:
        header = json.loads(f.read(length))
    except (ValueError, RecursionError) as e:
        raise BadEntry(f"bad header ({str(e)[:80]})") from None
    if not isinstance(header, dict):
        raise BadEntry("bad header (not an object)")
    key = path.name[: -len(SUFFIX)]
    if header.get("key") != key:
        raise BadEntry("header names another key")
    for name, fits in HEADER_FIELDS:
        if not fits(header.get(name)):
            raise BadEntry(f"bad header field '{name}'")
    if header["size"] != file_bytes - PREFIX.size - length:  # type: ignore[operator]
        raise BadEntry(
            f"truncated or padded (header says {header['size']} bytes of binary, "
            f"the file holds {file_bytes - PREFIX.size - length})"
        )
    return header


class Cache:
    """A cache directory (see the module docstring). `hits` and `misses` count the
    `fetch`es of this object."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0

    @staticmethod
    def open(directory: str | os.PathLike[str]) -> Cache:
        """The cache in `directory`, created if missing, checked to be a directory we
        can write; CacheError (one line naming it) otherwise."""
        path = Path(directory)
        if path.exists() and not path.is_dir():
            raise CacheError(f"cache directory '{path}' is not a directory")
        try:
            path.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=path, prefix=f".probe.tidal-{os.getpid()}-",
                                         suffix=".tmp")
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            raise CacheError(
                f"cache directory '{path}' cannot be written: {e.strerror or e}"
            ) from None
        return Cache(path)

    def path_of(self, key: str) -> Path:
        return self.directory / f"{key}{SUFFIX}"

    # ---------------------------------------------------------------- reading

    def _open(self, keyed: Keyed) -> tuple[BinaryIO, Names, int, str]:
        """The entry of `keyed.key` open at its binary, with the names it was stored
        under, the binary's size and its SHA-256 (hex) as the header gives them;
        FileNotFoundError if there is none, BadEntry if its header is bad (the file
        is closed then)."""
        from tidal.tools.cache_key import Names

        path = self.path_of(keyed.key)
        try:
            f = _open_regular(path)
        except FileNotFoundError:
            raise
        except OSError as e:
            raise BadEntry(f"cannot be read: {e.strerror or e}") from None
        try:
            file_bytes = os.fstat(f.fileno()).st_size
            header = _header_of(f, path, file_bytes)
            names = Names.from_json(header.get("names"))
        except ValueError as e:
            f.close()
            raise BadEntry(f"bad header ({e})") from None
        except OSError as e:
            f.close()
            raise BadEntry(f"cannot be read: {e.strerror or e}") from None
        except BaseException:
            f.close()
            raise
        size, digest = int(header["size"]), str(header["sha256"])  # type: ignore[arg-type]
        return f, names, size, digest

    def load(self, keyed: Keyed) -> isa.Program:
        """The program stored under `keyed.key`, decoded (the container's checks,
        its checksum among them) and renamed to `keyed.names`; FileNotFoundError if
        there is none, BadEntry if it cannot be used. Holds the binary in memory
        while it decodes."""
        f, stored, size, digest = self._open(keyed)
        with f:
            try:
                data = f.read(size)
            except OSError as e:
                raise BadEntry(f"cannot be read: {e.strerror or e}") from None
        try:
            program = isa.decode_container(data)
        except isa.BinaryFormatError as e:
            raise BadEntry(str(e)) from None
        check_digest(hashlib.sha256(data).hexdigest(), digest)
        del data
        renamed = rename(program, stored, keyed.names)
        if renamed is None:
            raise BadEntry("its names do not map one to one onto this segment's")
        return renamed

    def load_verbatim(self, keyed: Keyed) -> StoredBinary | None:
        """The binary stored under `keyed.key`, to be copied as it is, when it was
        stored under the same names (else None: `load` renames it). Its container
        header and checksum are checked as `isa.decode_container` checks them, in
        chunks, so memory stays at one chunk whatever the binary's size; the file
        stays open (a concurrent store replaces the name, not this file). Its SHA-256
        is checked against the header's in the same pass. FileNotFoundError if
        there is none, BadEntry if it cannot be used."""
        f, stored, size, digest = self._open(keyed)
        if stored != keyed.names:
            f.close()
            return None
        try:
            binary = StoredBinary(f, f.tell(), size, digest)
            binary.check()
        except OSError as e:
            f.close()
            raise BadEntry(f"cannot be read: {e.strerror or e}") from None
        except BaseException:
            f.close()
            raise
        return binary

    def fetch(
        self,
        keyed: Keyed,
        compile_segment: Callable[[], isa.Program],
        *,
        model: str = "",
        lookup: bool = True,
        verbatim: bool = False,
        warn: Callable[[str], None] = lambda line: None,
    ) -> tuple[isa.Program | StoredBinary, str]:
        """The program of `keyed`: from the cache, else `compile_segment()`'s, stored
        (`lookup=False` compiles and stores without looking). With `verbatim`, a hit
        stored under the same names comes back as a `StoredBinary` to copy (the
        caller closes it), not decoded. Returns it and what happened: "hit", "miss,
        stored", "miss (entry unusable: why), stored", "not looked up, stored"
        (", not stored" when storing failed: `warn` gets the reason as one line; the
        program is returned all the same)."""
        status = "miss" if lookup else "not looked up"
        if lookup:
            try:
                found = self.load_verbatim(keyed) if verbatim else None
                program = found if found is not None else self.load(keyed)
            except FileNotFoundError:
                pass
            except BadEntry as e:
                status = f"miss (entry unusable: {e})"
            else:
                self.hits += 1
                return program, "hit"
        self.misses += 1
        started = time.perf_counter()
        program = compile_segment()
        seconds = time.perf_counter() - started
        try:
            self.store(keyed, program, model=model, compile_seconds=seconds)
        except CacheError as e:
            warn(str(e))
            return program, f"{status}, not stored"
        return program, f"{status}, stored"

    # ---------------------------------------------------------------- writing

    def store(
        self, keyed: Keyed, program: isa.Program, *, model: str = "",
        compile_seconds: float = 0.0,
    ) -> int:
        """Write `program` under `keyed.key` whole or not at all; returns the entry's
        bytes. CacheError (one line) if it cannot be written."""
        target = self.path_of(keyed.key)
        parts = isa.container_parts(program)
        size = sum(memoryview(p).nbytes for p in parts)
        digest = hashlib.sha256()
        for piece in parts:
            digest.update(piece)
        header = json.dumps({
            "key": keyed.key,
            "created": time.time(),
            "model": os.path.abspath(model) if model else "",
            "chip": program.chip,
            "size": size,
            "sha256": digest.hexdigest(),
            "compile_seconds": round(compile_seconds, 3),
            "names": keyed.names.to_json(),
        }).encode()
        remove_stale_temps(str(target))
        tmp = ""
        try:
            fd, tmp = tempfile.mkstemp(
                dir=self.directory, prefix=f".{target.name}.tidal-{os.getpid()}-",
                suffix=".tmp",
            )
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)  # as any file the user writes (mkstemp: 0600)
            with os.fdopen(fd, "wb") as f:
                f.write(PREFIX.pack(MAGIC, FORMAT, len(header)))
                f.write(header)
                for piece in parts:  # views of the program's arrays: no copy
                    f.write(piece)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
            tmp = ""
        except OSError as e:
            raise CacheError(
                f"cannot store a cache entry in '{self.directory}': {e.strerror or e}"
            ) from None
        finally:
            if tmp:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
        return PREFIX.size + len(header) + size

    # ---------------------------------------------------------------- managing

    def _entry_paths(self) -> Iterator[Path]:
        """The cache's entry files; none when the directory does not exist."""
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return
        except NotADirectoryError:
            raise CacheError(f"cache directory '{self.directory}' is not a directory") from None
        except OSError as e:
            raise CacheError(
                f"cannot read cache directory '{self.directory}': {e.strerror or e}"
            ) from None
        for name in names:
            if ENTRY_NAME.fullmatch(name):
                yield self.directory / name

    def entries(self, verify: bool = False) -> list[Entry]:
        """Every entry's header, oldest first; an unreadable one with `error` set.
        With `verify`, also each binary, read in chunks: the container's header and
        checksum and the SHA-256 the entry's header gives (`StoredBinary.check`),
        what a hit checks before it uses one."""
        found: list[Entry] = []
        for path in self._entry_paths():
            key = path.name[: -len(SUFFIX)]
            try:
                with _open_regular(path) as f:
                    file_bytes = os.fstat(f.fileno()).st_size
                    try:
                        header = _header_of(f, path, file_bytes)
                        if verify:
                            StoredBinary(f, f.tell(), int(header["size"]), str(header["sha256"])).check()  # type: ignore[arg-type]
                    except BadEntry as e:
                        found.append(Entry(path, key, file_bytes, error=str(e)))
                        continue
            except OSError as e:  # removed meanwhile, or unreadable
                found.append(Entry(path, key, 0, error=str(e.strerror or e)))
                continue
            found.append(Entry(
                path, key, file_bytes, size=int(header["size"]),  # type: ignore[arg-type]
                created=float(header["created"]),  # type: ignore[arg-type]
                model=str(header["model"]), chip=str(header["chip"]),
                compile_seconds=float(header["compile_seconds"]),  # type: ignore[arg-type]
            ))
        return sorted(found, key=lambda e: (e.created, e.key))

    def clear(self) -> tuple[int, int]:
        """Remove every entry, and the temporary files of stores by processes that
        no longer exist; returns (entries removed, bytes freed). Other files are left
        alone."""
        removed = freed = 0
        failed: list[str] = []
        for path in list(self._entry_paths()):
            try:
                size = path.lstat().st_size
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as e:  # (a directory named like an entry): the others go on
                failed.append(f"'{path}': {e.strerror or e}")
                continue
            removed, freed = removed + 1, freed + size
        for key in self._temp_keys():
            remove_stale_temps(str(self.path_of(key)))
        if failed:
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            raise CacheError(
                f"removed {removed} entries ({freed} bytes) but cannot remove {failed[0]}{more}"
            )
        return removed, freed

    def _temp_keys(self) -> set[str]:
        """The keys that temporary files of stores in progress (or abandoned) are for."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            return set()
        return {m.group(1) for n in names if (m := TEMP_NAME.fullmatch(n))}


def check_digest(actual: str, stored: str) -> None:
    """BadEntry unless a binary's SHA-256 `actual` is the `stored` one of its entry's
    header: a whole, valid binary of another program (its own checksum is right)
    under this key is not this key's program."""
    if actual != stored:
        raise BadEntry(
            "its binary is not the one stored under this key (SHA-256 mismatch)"
        )


CHUNK_BYTES = 1 << 20


class StoredBinary:
    """A cached binary still in its entry file, open at `offset`, `size` bytes, whose
    SHA-256 (hex) the entry's header gives as `digest`."""

    def __init__(self, f: BinaryIO, offset: int, size: int, digest: str):
        self.f, self.offset, self.size, self.digest = f, offset, size, digest

    def chunks(self) -> Iterator[bytes]:
        self.f.seek(self.offset)
        left = self.size
        while left:
            chunk = self.f.read(min(CHUNK_BYTES, left))
            if not chunk:
                raise BadEntry(f"truncated (ends {left} bytes early)")
            left -= len(chunk)
            yield chunk

    def check(self) -> None:
        """The container's magic, version, length and checksum, as
        `isa.decode_container` checks them, then the SHA-256 the entry's header gives;
        BadEntry naming what is wrong."""
        head = b""
        crc = 0
        sha = hashlib.sha256()
        for chunk in self.chunks():
            sha.update(chunk)
            if len(head) < isa.HEADER.size:
                take = isa.HEADER.size - len(head)
                head, chunk = head + chunk[:take], chunk[take:]
            crc = zlib.crc32(chunk, crc)
        if len(head) < isa.HEADER.size:
            raise BadEntry(f"offset 0: truncated header ({len(head)} bytes)")
        magic, version, _, _, want, body_len = isa.HEADER.unpack(head)
        if magic != isa.MAGIC or version != isa.VERSION:
            raise BadEntry("offset 0: not a Tidal binary of this version")
        if body_len != self.size - isa.HEADER.size:
            raise BadEntry(f"offset {isa.HEADER.size}: truncated or padded body")
        if crc != want:
            raise BadEntry(f"offset {isa.HEADER.size}: checksum mismatch (corrupt file)")
        check_digest(sha.hexdigest(), self.digest)

    def write_to(self, out: BinaryIO) -> int:
        """Copy the binary into `out`, by the kernel (`os.copy_file_range`) into a
        regular file where it can, else chunk by chunk (a pipe, /dev/null, a file
        system that cannot); returns its size."""
        try:
            dst = out.fileno()
            regular = stat.S_ISREG(os.fstat(dst).st_mode)
        except (AttributeError, OSError, ValueError):
            dst, regular = None, False
        if dst is not None and regular and hasattr(os, "copy_file_range"):
            out.flush()
            start, done = out.tell(), 0
            try:
                while done < self.size:
                    n = os.copy_file_range(self.f.fileno(), dst, self.size - done,
                                           self.offset + done)
                    if n == 0:
                        raise BadEntry(f"truncated (ends {self.size - done} bytes early)")
                    done += n
                out.seek(start + done)
                return self.size
            except OSError as e:
                if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                    raise
                out.seek(start)  # this file system cannot: copy through user space
                out.truncate()
        for chunk in self.chunks():
            out.write(chunk)
        return self.size

    def close(self) -> None:
        self.f.close()


def rename(program: isa.Program, stored: Names, current: Names) -> isa.Program | None:
    """`program`, compiled from a segment with the names `stored`, with the names of
    an identical segment named `current`: IO entries, the debug table (an origin, or
    an origin and a suffix after a dot, as kernels derive them) and META's constant
    and unread inputs. None when the names do not map one to one, position by position (two
    ops of one name in one model but not in the other: the debug table cannot say
    which is which)."""
    if stored == current:
        return program
    io = _mapping(stored.inputs + stored.outputs, current.inputs + current.outputs)
    origins = _mapping(stored.origins, current.origins)
    if io is None or origins is None:
        return None
    inputs = [{**e, "name": io.get(str(e["name"]), e["name"])} for e in program.inputs]
    outputs = [{**e, "name": io.get(str(e["name"]), e["name"])} for e in program.outputs]
    by_length = sorted(origins, key=len, reverse=True)
    debug = [_renamed_origin(s, origins, by_length) for s in program.debug]
    meta = dict(program.meta)
    if "constant_inputs" in meta:
        meta["constant_inputs"] = list(current.constant_inputs)
    if isinstance(unread := meta.get("unread_inputs"), list):
        meta["unread_inputs"] = [{**e, "name": io.get(str(e["name"]), e["name"])} for e in unread]
    return replace(program, inputs=inputs, outputs=outputs, debug=debug, meta=meta)


def _mapping(old: tuple[str, ...], new: tuple[str, ...]) -> dict[str, str] | None:
    if len(old) != len(new):
        return None
    mapping: dict[str, str] = {}
    backward: dict[str, str] = {}
    for a, b in zip(old, new):
        if mapping.setdefault(a, b) != b or backward.setdefault(b, a) != a:
            return None
    return mapping


def _renamed_origin(text: str, origins: dict[str, str], by_length: list[str]) -> str:
    if text in origins:
        return origins[text]
    for old in by_length:
        if text.startswith(old + "."):
            return origins[old] + text[len(old):]
    return text


# -------------------------------------------------------------------- tool options


def add_cache_options(parser: argparse.ArgumentParser) -> None:
    """`--cache-dir DIR` and `--no-cache` (tidal-compile, tidal-run)."""
    parser.add_argument(
        "--cache-dir", metavar="DIR",
        help=f"reuse compiled accelerator segments from DIR, storing new ones there "
        f"(created if missing; default: ${ENV_VAR} if set, else no cache)",
    )
    parser.add_argument("--no-cache", action="store_true",
                        help=f"do not use a cache, even if ${ENV_VAR} is set")


def checked_cache_dir(value: str | None) -> str | None:
    """`--cache-dir`'s value, unless it is empty: CacheError then, naming the option.
    An empty path is most likely an unset shell variable (`--cache-dir "$DIR"`), and
    it would otherwise mean no cache to tidal-compile and the default directory to
    tidal-cache (whose `clear` would empty it). An empty $TIDAL_CACHE_DIR is not an
    error: it counts as unset, as the XDG spec has it for its variables."""
    if value == "":
        raise CacheError("--cache-dir: empty path")
    return value


def cache_from_args(args: argparse.Namespace) -> Cache | None:
    """The cache the options ask for (`--cache-dir`, else $TIDAL_CACHE_DIR unless
    `--no-cache`), opened; None for none. CacheError for an empty `--cache-dir`
    (even with `--no-cache`) and for a directory that cannot be used."""
    checked_cache_dir(args.cache_dir)
    if args.no_cache:
        return None
    directory = args.cache_dir or os.environ.get(ENV_VAR)
    return Cache.open(directory) if directory else None
