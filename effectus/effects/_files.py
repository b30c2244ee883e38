"""Files under a root: read, write, list and delete, on disk or in memory, with one semantics.

Guarantees: paths are relative POSIX strings that cannot leave the root (checked, and
normalised, when the effect is built); `RealFiles` and `MemoryFiles` give the same answers
and raise the same error types with the same messages for the same operations; a write
through `RealFiles` is atomic (a reader sees the old content or the new, never a part).
"""

from __future__ import annotations

import abc
import contextlib
import errno
import os
import posixpath
import stat
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import cast

from effectus.core import Effect, Handler, effect, handles

__all__ = [
    "DeleteFile",
    "FileExists",
    "ListFiles",
    "MemoryFiles",
    "ReadBytes",
    "ReadFile",
    "RealFiles",
    "WriteBytes",
    "WriteFile",
]


def check_path(where: str, path: object) -> str:
    """``path`` normalised (``"a/./b"`` -> ``"a/b"``; the root is ``"."``), or an error.

    Raises:
        TypeError: ``path`` is not a str.
        ValueError: ``path`` is empty, absolute, contains NUL or a backslash, or its ``..``
            components climb out of the root.
    """
    if not isinstance(path, str):
        raise TypeError(
            f"{where}: path must be a str relative to the files root; got {path!r} "
            f"(type={type(path).__name__}).\n"
            f"Fix: pass a POSIX string such as 'data/input.txt' (for a pathlib path p "
            f"relative to the root, p.as_posix())."
        )
    rule = None
    if not path:
        rule = "it is empty"
    elif "\x00" in path:
        rule = "it contains a NUL character"
    elif path.startswith("/"):
        rule = "it is absolute; paths are relative to the files root"
    elif "\\" in path:
        rule = "it contains a backslash; separate components with '/'"
    elif len(path) >= 2 and path[1] == ":" and path[0].isalpha():
        rule = "it starts with a drive letter; paths are relative to the files root"
    if rule is None:
        norm = posixpath.normpath(path)
        if norm == ".." or norm.startswith("../"):
            rule = "its '..' components climb out of the files root"
        else:
            return norm
    raise ValueError(
        f"{where}: invalid path {path!r}: {rule}.\n"
        f"Fix: use a relative POSIX path inside the root, such as 'data/input.txt'; choose "
        f"the root itself with fx.production(root=...) or RealFiles(root)."
    )


def _normalise(self: Effect[object], name: str, value: object) -> None:
    norm = check_path(f"{type(self).__name__}({name}={value!r})", value)
    if norm != value:
        object.__setattr__(self, name, norm)


@effect
class ReadFile(Effect[str]):
    """Read the file at ``path`` as UTF-8 text.

    ``fx.production()`` reads under its root directory (`RealFiles`); ``fx.testing()`` reads
    from an in-memory tree (`MemoryFiles`, given by ``fx.testing(files=...)``).  Line endings
    are kept as they are.  Recorded as its fields and its answer; a replay answers with the
    recorded text.

    Args:
        path: relative POSIX path under the root; normalised when the effect is built.

    Raises:
        TypeError, ValueError: ``path`` is not a valid relative path (on the user's line).
        FileNotFoundError: no file there (raised at the ``await``, as are the rest).
        IsADirectoryError: ``path`` is a directory.
        NotADirectoryError: a parent of ``path`` is a file.
        UnicodeDecodeError: the content is not valid UTF-8 (read it with `ReadBytes`).

    >>> import effectus as fx
    >>> fx.testing(files={"notes/a.txt": "hello"}).run(fx.ReadFile("notes/./a.txt"))
    'hello'
    """

    path: str

    def __post_init__(self) -> None:
        _normalise(self, "path", self.path)


@effect
class ReadBytes(Effect[bytes]):
    """Read the file at ``path`` as bytes.

    Handled like `ReadFile` (`RealFiles` in production, `MemoryFiles` in testing), with the
    same errors except that any content is accepted.  Recorded as its fields and its answer.

    >>> import effectus as fx
    >>> fx.testing(files={"blob": b"\\x00\\xff"}).run(fx.ReadBytes("blob"))
    b'\\x00\\xff'
    """

    path: str

    def __post_init__(self) -> None:
        _normalise(self, "path", self.path)


@effect
class WriteFile(Effect[None]):
    """Write ``text`` as UTF-8 to the file at ``path``, replacing it, creating parent dirs.

    ``fx.production()`` writes under its root atomically: to a temporary file in the same
    directory, flushed to disk, then renamed over ``path`` (`RealFiles`); ``fx.testing()``
    writes to its in-memory tree (`MemoryFiles`).  Recorded as its fields.

    Args:
        path: relative POSIX path under the root.
        text: the new content; line endings are written as given.

    Raises:
        TypeError, ValueError: a bad path, or ``text`` is not a str (on the user's line).
        IsADirectoryError: ``path`` is a directory (raised at the ``await``).
        NotADirectoryError: a parent of ``path`` is a file.

    >>> import effectus as fx
    >>> interp = fx.testing()
    >>> interp.run(fx.WriteFile("out/report.txt", "ok"))
    >>> interp.handler(fx.effects.MemoryFiles).snapshot()
    {'out/report.txt': b'ok'}
    """

    path: str
    text: str

    def __post_init__(self) -> None:
        _normalise(self, "path", self.path)
        text = cast(object, self.text)  # unchecked until here
        if not isinstance(text, str):
            binary = isinstance(text, (bytes, bytearray))
            hint = "use WriteBytes for bytes" if binary else "convert it with str(...)"
            raise TypeError(
                f"WriteFile(path={self.path!r}, text=...): text must be a str; got "
                f"type={type(text).__name__}.\nFix: {hint}."
            )


@effect
class WriteBytes(Effect[None]):
    """Write ``data`` to the file at ``path``, replacing it, creating parent directories.

    Handled like `WriteFile` (atomic on disk in production, in memory in testing), with the
    same errors.  ``data`` is typed ``bytes``; a ``bytearray`` or ``memoryview`` passed anyway
    is copied to ``bytes`` when the effect is built, so the effect stays an immutable value.
    Recorded as its fields.

    >>> import effectus as fx
    >>> interp = fx.testing()
    >>> interp.run(fx.WriteBytes("x.bin", b"ab"))
    >>> interp.run(fx.ReadBytes("x.bin"))
    b'ab'
    """

    path: str
    data: bytes

    def __post_init__(self) -> None:
        _normalise(self, "path", self.path)
        data = cast(object, self.data)  # unchecked until here
        if type(data) is not bytes:
            copied = _as_bytes(data)
            if copied is not None:
                object.__setattr__(self, "data", copied)
            else:
                hint = "use WriteFile for text" if isinstance(data, str) else (
                    "encode it to bytes first"
                )
                raise TypeError(
                    f"WriteBytes(path={self.path!r}, data=...): data must be bytes; got "
                    f"type={type(data).__name__}.\nFix: {hint}."
                )


@effect
class ListFiles(Effect[tuple[str, ...]]):
    """List the files under ``directory``, at any depth, whose names match ``pattern``.

    Handled by `RealFiles` in production and `MemoryFiles` in testing.  Only files are
    listed, never directories.  Recorded as its fields and its answer.

    Args:
        directory: relative POSIX path of the directory to search (default: the root).
        pattern: a glob (``*``, ``?``, ``[abc]``) matched, case-sensitively, against each
            file's name (not its path).

    Returns:
        The matching files' paths relative to the root, in POSIX form, sorted.

    Raises:
        TypeError, ValueError: a bad directory, or a pattern that is empty or contains ``/``.
        FileNotFoundError: ``directory`` does not exist (raised at the ``await``).
        NotADirectoryError: ``directory`` or one of its parents is a file.

    >>> import effectus as fx
    >>> tree = {"src/a.py": "", "src/sub/b.py": "", "src/c.txt": "", "d.py": ""}
    >>> fx.testing(files=tree).run(fx.ListFiles("src", "*.py"))
    ('src/a.py', 'src/sub/b.py')
    """

    directory: str = "."
    pattern: str = "*"

    def __post_init__(self) -> None:
        _normalise(self, "directory", self.directory)
        p = cast(object, self.pattern)  # unchecked until here
        if not isinstance(p, str):
            raise TypeError(
                f"ListFiles(pattern={p!r}): pattern must be a str glob "
                f"(type={type(p).__name__}).\nFix: e.g. ListFiles('src', '*.py')."
            )
        if not p or "/" in p:
            raise ValueError(
                f"ListFiles(pattern={p!r}): pattern must be a non-empty glob on file names, "
                f"without '/'.\nFix: pass the directory separately, e.g. "
                f"ListFiles('src/pkg', '*.py'); the search is already recursive."
            )


@effect
class DeleteFile(Effect[None]):
    """Delete the file at ``path``; directories are left alone.

    Handled by `RealFiles` in production and `MemoryFiles` in testing.  Recorded as its
    fields.

    Raises:
        TypeError, ValueError: ``path`` is not a valid relative path (on the user's line).
        FileNotFoundError: no file there (raised at the ``await``).
        IsADirectoryError: ``path`` is a directory.
        NotADirectoryError: a parent of ``path`` is a file.

    >>> import effectus as fx
    >>> interp = fx.testing(files={"tmp/x": "1"})
    >>> interp.run(fx.DeleteFile("tmp/x"))
    >>> interp.run(fx.FileExists("tmp/x"))
    False
    """

    path: str

    def __post_init__(self) -> None:
        _normalise(self, "path", self.path)


@effect
class FileExists(Effect[bool]):
    """Answer whether a file (not a directory) exists at ``path``.

    Handled by `RealFiles` in production and `MemoryFiles` in testing; never raises at the
    ``await``.  Recorded as its fields and its answer.

    >>> import effectus as fx
    >>> interp = fx.testing(files={"a/b.txt": ""})
    >>> interp.run(fx.FileExists("a/b.txt")), interp.run(fx.FileExists("a"))
    (True, False)
    """

    path: str

    def __post_init__(self) -> None:
        _normalise(self, "path", self.path)


# The errors both handlers raise, so that their messages are identical; the filename is the
# path as the program named it, relative to the root.
def _missing(path: str) -> FileNotFoundError:
    return FileNotFoundError(errno.ENOENT, "No such file or directory", path)


def _is_a_directory(path: str) -> IsADirectoryError:
    return IsADirectoryError(errno.EISDIR, "Is a directory", path)


def _not_a_directory(path: str) -> NotADirectoryError:
    return NotADirectoryError(errno.ENOTDIR, "Not a directory", path)


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UnicodeDecodeError(
            err.encoding,
            err.object,
            err.start,
            err.end,
            f"{err.reason} (in file {path!r}; read it with ReadBytes if it is not text)",
        ) from None


def _as_bytes(data: object) -> bytes | None:
    """A ``bytes`` copy of bytes-like ``data`` (bytes, bytearray, memoryview), else None."""
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, memoryview):
        # (The cast: for pyright, the items of a bare memoryview are unknown.)
        return cast("memoryview[int]", data).tobytes()
    return None


def _ancestors(path: str) -> Iterator[str]:
    """The directories above ``path`` (not the root), outermost first."""
    if path == ".":
        return
    parts = path.split("/")
    for i in range(1, len(parts)):
        yield "/".join(parts[:i])


def _encode(where: str, path: str, content: object) -> bytes:
    if isinstance(content, str):
        return content.encode("utf-8")
    copied = _as_bytes(content)
    if copied is not None:
        return copied
    raise TypeError(
        f"{where}: the content of {path!r} must be str or bytes "
        f"(type={type(content).__name__})."
    )


class _ByteStore(Handler, abc.ABC):
    """What `MemoryFiles` and `RealFiles` share: text and bytes over one byte-level store."""

    @abc.abstractmethod
    def _read(self, path: str) -> bytes: ...

    @abc.abstractmethod
    def _write(self, path: str, data: bytes) -> None: ...

    @handles(ReadFile)
    def read_file(self, e: ReadFile) -> str:
        return _decode(self._read(e.path), e.path)

    @handles(ReadBytes)
    def read_bytes(self, e: ReadBytes) -> bytes:
        return self._read(e.path)

    @handles(WriteFile)
    def write_file(self, e: WriteFile) -> None:
        self._write(e.path, e.text.encode("utf-8"))

    @handles(WriteBytes)
    def write_bytes(self, e: WriteBytes) -> None:
        self._write(e.path, e.data)


class MemoryFiles(_ByteStore):
    """A file tree in memory, with exactly the semantics of `RealFiles`.

    Used by ``fx.testing(files=...)``.  Directories exist once a file was written below
    them and stay after their files are deleted, as on disk.

    Args:
        initial: files present at the start, path -> content (str is stored as UTF-8).

    Raises:
        TypeError, ValueError: a bad path or content in ``initial``.
        NotADirectoryError: ``initial`` puts a file below another file.

    >>> import effectus as fx
    >>> files = MemoryFiles({"a.txt": "hi"})
    >>> fx.run(fx.WriteFile("b/c.txt", "yo"), files)
    >>> files.snapshot()
    {'a.txt': b'hi', 'b/c.txt': b'yo'}
    """

    def __init__(self, initial: Mapping[str, str | bytes] | None = None) -> None:
        self._files: dict[str, bytes] = {}
        self._dirs: set[str] = {"."}
        for raw, content in (initial or {}).items():
            path = check_path(f"MemoryFiles(initial={{{raw!r}: ...}})", raw)
            self._write(path, _encode("MemoryFiles(initial=...)", path, content))

    def _walk_to(self, path: str) -> None:
        """Raise what the OS would when ``path``'s parents are missing or not directories."""
        for d in _ancestors(path):
            if d in self._files:
                raise _not_a_directory(path)
            if d not in self._dirs:
                raise _missing(path)

    def _read(self, path: str) -> bytes:
        self._walk_to(path)
        data = self._files.get(path)
        if data is not None:
            return data
        raise _is_a_directory(path) if path in self._dirs else _missing(path)

    def _write(self, path: str, data: bytes) -> None:
        if path in self._dirs:
            raise _is_a_directory(path)
        missing: list[str] = []
        for d in _ancestors(path):
            if d in self._files:
                raise _not_a_directory(path)
            if d not in self._dirs:
                missing.append(d)
        self._dirs.update(missing)
        self._files[path] = data

    @handles(ListFiles)
    def list_files(self, e: ListFiles) -> tuple[str, ...]:
        directory = e.directory
        self._walk_to(directory)
        if directory in self._files:
            raise _not_a_directory(directory)
        if directory not in self._dirs:
            raise _missing(directory)
        prefix = "" if directory == "." else directory + "/"
        return tuple(
            sorted(
                p
                for p in self._files
                if p.startswith(prefix) and fnmatchcase(p.rpartition("/")[2], e.pattern)
            )
        )

    @handles(DeleteFile)
    def delete_file(self, e: DeleteFile) -> None:
        self._read(e.path)  # raises exactly as a read would
        del self._files[e.path]

    @handles(FileExists)
    def file_exists(self, e: FileExists) -> bool:
        return e.path in self._files

    def snapshot(self) -> dict[str, bytes]:
        """Every file's content by path, sorted by path."""
        return {p: self._files[p] for p in sorted(self._files)}

    def __repr__(self) -> str:
        return f"MemoryFiles({len(self._files)} files)"


class RealFiles(_ByteStore):
    """The real file system below ``root``, with exactly the semantics of `MemoryFiles`.

    Used by ``fx.production(root=...)``.  Paths are resolved lexically under ``root`` (the
    effects refuse paths that climb out); symbolic links inside the root are followed by the
    OS when reading and writing, and not descended into when listing.  Errors name the path
    as the program wrote it, relative to the root.

    Writes are atomic: the content goes to a temporary file in the target's directory, is
    flushed to disk, and replaces the target with ``os.replace``; a failed write removes the
    temporary file and leaves the old content.  An existing file keeps its permissions.

    The one difference from `MemoryFiles` is the file system's own: on a case-insensitive
    one (macOS and Windows by default), ``"A.txt"`` and ``"a.txt"`` name the same file.

    Args:
        root: an existing directory; made absolute when the handler is built, so a later
            ``os.chdir`` does not move it.

    Raises:
        FileNotFoundError, NotADirectoryError: ``root`` is missing or not a directory.

    >>> import effectus as fx, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     files = RealFiles(d)
    ...     fx.run(fx.WriteFile("a/b.txt", "hi"), files)
    ...     fx.run(fx.ListFiles(), files)
    ('a/b.txt',)
    """

    blocking = True  # disk I/O: under fx.production(), other tasks run meanwhile

    def __init__(self, root: str | os.PathLike[str]) -> None:
        full: str = os.path.abspath(os.fspath(root))
        if not os.path.isdir(full):
            kind = NotADirectoryError if os.path.exists(full) else FileNotFoundError
            raise kind(
                f"RealFiles(root={os.fspath(root)!r}): the root must be an existing directory "
                f"({full!r} is {'not a directory' if kind is NotADirectoryError else 'missing'})"
                f".\nFix: create it first (os.makedirs(root, exist_ok=True)) or pass another "
                f"root."
            )
        self.root = full

    def _full(self, path: str) -> str:
        if path == ".":
            return self.root
        return os.path.join(self.root, *path.split("/"))

    def _kind(self, path: str) -> str | None:
        """``"dir"``, ``"file"`` or None (missing), following symbolic links."""
        try:
            mode = os.stat(self._full(path)).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return None
        return "dir" if stat.S_ISDIR(mode) else "file"

    def _diagnose(self, path: str, *, want: str) -> OSError | None:
        """The error `MemoryFiles` would raise for ``path`` (or None if it would not)."""
        for d in _ancestors(path):
            kind = self._kind(d)
            if kind is None:
                return _missing(path)
            if kind == "file":
                return _not_a_directory(path)
        kind = self._kind(path)
        if kind is None:
            return _missing(path)
        if kind != want:
            return _is_a_directory(path) if kind == "dir" else _not_a_directory(path)
        return None

    def _read(self, path: str) -> bytes:
        try:
            with open(self._full(path), "rb") as f:
                return f.read()
        except OSError as err:
            raise (self._diagnose(path, want="file") or err) from None

    def _write(self, path: str, data: bytes) -> None:
        if path == ".":
            raise _is_a_directory(path)
        for d in _ancestors(path):
            if self._kind(d) == "file":
                raise _not_a_directory(path)
        if self._kind(path) == "dir":
            raise _is_a_directory(path)
        full = self._full(path)
        parent, name = os.path.split(full)
        os.makedirs(parent, exist_ok=True)
        fd, tmp = _create_temp(parent, name)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileNotFoundError):
                os.chmod(tmp, stat.S_IMODE(os.stat(full).st_mode))
            os.replace(tmp, full)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @handles(ListFiles)
    def list_files(self, e: ListFiles) -> tuple[str, ...]:
        directory = e.directory
        error = self._diagnose(directory, want="dir")
        if error is not None:
            raise error
        base = self._full(directory)
        prefix = "" if directory == "." else directory + "/"
        found: list[str] = []
        for dirpath, _, filenames in os.walk(base):
            rel = os.path.relpath(dirpath, base)
            sub = "" if rel == os.curdir else rel.replace(os.sep, "/") + "/"
            found.extend(prefix + sub + n for n in filenames if fnmatchcase(n, e.pattern))
        return tuple(sorted(found))

    @handles(DeleteFile)
    def delete_file(self, e: DeleteFile) -> None:
        error = self._diagnose(e.path, want="file")
        if error is not None:
            raise error
        os.remove(self._full(e.path))

    @handles(FileExists)
    def file_exists(self, e: FileExists) -> bool:
        return self._kind(e.path) == "file"

    def __repr__(self) -> str:
        return f"RealFiles({self.root!r})"


def _create_temp(directory: str, name: str) -> tuple[int, str]:
    """Create a new, empty temporary file next to ``name``: (descriptor, path)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{name}.{os.urandom(4).hex()}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
