"""Tests of `effectus.effects._files`: file effects under RealFiles and MemoryFiles.

The two handlers must be indistinguishable to a program; the Hypothesis property at the end
runs random operation sequences against both and compares every answer and every error.
"""

from __future__ import annotations

import os
import stat
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import effectus as fx
from effectus.effects import MemoryFiles, RealFiles

Files = RealFiles | MemoryFiles


@pytest.fixture(params=["real", "memory"])
def files(request: pytest.FixtureRequest, tmp_path: Path) -> Files:
    """Each test using this fixture runs once on disk (under tmp_path) and once in memory."""
    return RealFiles(tmp_path) if request.param == "real" else MemoryFiles()


def run(files: Files, effect: fx.Effect[object]) -> object:
    return fx.run(effect, files)


def test_write_then_read_text_and_bytes(files: Files) -> None:
    """WriteFile/ReadFile round-trip UTF-8 text (line endings kept); the bytes forms too."""
    run(files, fx.WriteFile("notes/a.txt", "héllo\r\nworld\n"))
    assert run(files, fx.ReadFile("notes/a.txt")) == "héllo\r\nworld\n"
    assert run(files, fx.ReadBytes("notes/a.txt")) == "héllo\r\nworld\n".encode()
    run(files, fx.WriteBytes("bin/x", b"\x00\xff"))
    assert run(files, fx.ReadBytes("bin/x")) == b"\x00\xff"


def test_write_replaces_existing_content(files: Files) -> None:
    """A second write replaces the whole file, including with shorter content."""
    run(files, fx.WriteFile("a", "long content"))
    run(files, fx.WriteFile("a", "x"))
    assert run(files, fx.ReadFile("a")) == "x"


def test_list_files_is_recursive_sorted_and_filtered_by_name(files: Files) -> None:
    """ListFiles lists files (not dirs) under a directory at any depth, sorted, by name glob."""
    for path in ["src/b.py", "src/a.py", "src/sub/c.py", "src/readme.md", "top.py"]:
        run(files, fx.WriteFile(path, ""))
    assert run(files, fx.ListFiles()) == (
        "src/a.py", "src/b.py", "src/readme.md", "src/sub/c.py", "top.py",
    )
    assert run(files, fx.ListFiles("src", "*.py")) == ("src/a.py", "src/b.py", "src/sub/c.py")
    assert run(files, fx.ListFiles("src/sub")) == ("src/sub/c.py",)
    assert run(files, fx.ListFiles(".", "[ab].*")) == ("src/a.py", "src/b.py")
    assert run(files, fx.ListFiles(pattern="*.PY")) == ()  # case-sensitive everywhere


def test_delete_and_exists(files: Files) -> None:
    """DeleteFile removes a file; FileExists is true for files only; the directory stays."""
    run(files, fx.WriteFile("d/f", "1"))
    assert run(files, fx.FileExists("d/f")) is True
    assert run(files, fx.FileExists("d")) is False
    assert run(files, fx.DeleteFile("d/f")) is None
    assert run(files, fx.FileExists("d/f")) is False
    assert run(files, fx.ListFiles("d")) == ()


ERRORS: list[tuple[str, Callable[[], fx.Effect[object]], type[OSError], str]] = [
    ("read missing", lambda: fx.ReadFile("nope.txt"), FileNotFoundError, "nope.txt"),
    ("read in missing dir", lambda: fx.ReadBytes("no/such"), FileNotFoundError, "no/such"),
    ("read a directory", lambda: fx.ReadFile("dir"), IsADirectoryError, "dir"),
    ("read the root", lambda: fx.ReadBytes("."), IsADirectoryError, "."),
    ("read below a file", lambda: fx.ReadFile("file/x"), NotADirectoryError, "file/x"),
    ("write a directory", lambda: fx.WriteFile("dir", "x"), IsADirectoryError, "dir"),
    ("write the root", lambda: fx.WriteBytes(".", b""), IsADirectoryError, "."),
    ("write below a file", lambda: fx.WriteFile("file/x/y", ""), NotADirectoryError, "file/x/y"),
    ("delete missing", lambda: fx.DeleteFile("gone"), FileNotFoundError, "gone"),
    ("delete a directory", lambda: fx.DeleteFile("dir"), IsADirectoryError, "dir"),
    ("delete below a file", lambda: fx.DeleteFile("file/x"), NotADirectoryError, "file/x"),
    ("list missing", lambda: fx.ListFiles("nowhere"), FileNotFoundError, "nowhere"),
    ("list a file", lambda: fx.ListFiles("file"), NotADirectoryError, "file"),
    ("list below a file", lambda: fx.ListFiles("file/x"), NotADirectoryError, "file/x"),
]


@pytest.mark.parametrize(
    "build, error, path", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_errors_have_the_same_type_and_message_on_disk_and_in_memory(
    tmp_path: Path, build: Callable[[], fx.Effect[object]], error: type[OSError], path: str
) -> None:
    """Each failing operation raises the same OSError subclass, naming the relative path,
    under RealFiles and MemoryFiles, at the program's await."""
    messages: list[str] = []
    for files in (RealFiles(tmp_path), MemoryFiles()):
        fx.run(fx.WriteFile("file", "x"), files)
        fx.run(fx.WriteFile("dir/inner", "x"), files)

        async def main() -> object:
            return await build()

        with pytest.raises(error) as info:
            fx.run(main(), files)
        assert info.value.filename == path
        assert "main" in [f.name for f in traceback.extract_tb(info.value.__traceback__)]
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_invalid_utf8_is_a_unicode_decode_error_naming_the_file(files: Files) -> None:
    """ReadFile of non-UTF-8 bytes raises UnicodeDecodeError that names the path and ReadBytes."""
    run(files, fx.WriteBytes("blob.bin", b"ok\xff"))
    with pytest.raises(UnicodeDecodeError, match=r"in file 'blob.bin'; read it with ReadBytes"):
        run(files, fx.ReadFile("blob.bin"))


@pytest.mark.parametrize(
    "path, rule",
    [
        ("", "it is empty"),
        ("/etc/passwd", "it is absolute"),
        ("../x", "climb out of the files root"),
        ("a/../../x", "climb out of the files root"),
        ("..", "climb out of the files root"),
        ("a\x00b", "NUL"),
        ("a\\b", "backslash"),
        ("C:/x", "drive letter"),
    ],
)
def test_invalid_paths_are_refused_when_the_effect_is_built(path: str, rule: str) -> None:
    """A bad path is a ValueError naming the path and the rule broken, on the user's line."""
    with pytest.raises(ValueError, match=rf"ReadFile\(path=.*\): invalid path .*{rule}") as info:
        fx.ReadFile(path)
    assert traceback.extract_tb(info.value.__traceback__)[0].name == (
        "test_invalid_paths_are_refused_when_the_effect_is_built"
    )


def test_every_file_effect_validates_its_path() -> None:
    """All seven file effects refuse an absolute path."""
    builders: list[Callable[[], object]] = [
        lambda: fx.ReadFile("/a"),
        lambda: fx.ReadBytes("/a"),
        lambda: fx.WriteFile("/a", ""),
        lambda: fx.WriteBytes("/a", b""),
        lambda: fx.ListFiles("/a"),
        lambda: fx.DeleteFile("/a"),
        lambda: fx.FileExists("/a"),
    ]
    for build in builders:
        with pytest.raises(ValueError, match="it is absolute"):
            build()


def test_paths_are_normalised() -> None:
    """'a/./b', 'a//b' and 'x/../a/b' are stored as 'a/b'; a '..' inside the root is allowed."""
    assert fx.ReadFile("a/./b") == fx.ReadFile("a//b") == fx.ReadFile("x/../a/b")
    assert fx.ReadFile("a/./b").path == "a/b"
    assert fx.ListFiles("./").directory == "."


def test_non_string_paths_and_contents_are_type_errors() -> None:
    """A Path object, text as bytes or data as str are TypeErrors with a fix."""
    with pytest.raises(TypeError, match=r"path must be a str .*type=PosixPath"):
        fx.ReadFile(Path("a"))  # type: ignore[arg-type]  # the wrong call under test
    with pytest.raises(TypeError, match=r"(?s)text must be a str.*use WriteBytes"):
        fx.WriteFile("a", b"x")  # type: ignore[arg-type]  # the wrong call under test
    with pytest.raises(TypeError, match=r"(?s)data must be bytes.*use WriteFile"):
        fx.WriteBytes("a", "x")  # type: ignore[arg-type]  # the wrong call under test


def test_write_bytes_copies_mutable_buffers() -> None:
    """WriteBytes (typed bytes) stores a bytes copy of a bytearray or memoryview passed anyway,
    so the effect stays an immutable value."""
    buf = bytearray(b"ab")
    effect = fx.WriteBytes("f", buf)  # type: ignore[arg-type]  # accepted at run time
    buf[0] = 0
    assert effect.data == b"ab" and type(effect.data) is bytes
    view = memoryview(b"cd")
    assert fx.WriteBytes("f", view).data == b"cd"  # type: ignore[arg-type]  # as above


@pytest.mark.parametrize("pattern", ["", "a/b", "**/x"])
def test_list_files_refuses_patterns_with_slashes_or_empty(pattern: str) -> None:
    """A ListFiles pattern is a non-empty glob on names; a '/' suggests the directory argument."""
    with pytest.raises(ValueError, match=r"(?s)pattern must be a non-empty glob.*ListFiles\('src"):
        fx.ListFiles(".", pattern)


def test_real_files_writes_under_the_root(tmp_path: Path) -> None:
    """RealFiles writes real files below its root, creating the parent directories."""
    fx.run(fx.WriteFile("x/y/z.txt", "data"), RealFiles(str(tmp_path)))
    assert (tmp_path / "x" / "y" / "z.txt").read_text() == "data"


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    """After many writes, the directory holds only the target files: temp files are renamed."""
    files = RealFiles(tmp_path)
    for i in range(20):
        fx.run(fx.WriteFile("out/data.txt", str(i)), files)
        fx.run(fx.WriteBytes("out/other.bin", bytes([i])), files)
    assert sorted(os.listdir(tmp_path / "out")) == ["data.txt", "other.bin"]
    assert (tmp_path / "out" / "data.txt").read_text() == "19"


def test_failed_write_keeps_the_old_content_and_removes_the_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the final rename fails, the target keeps its old content and no temp file is left."""
    files = RealFiles(tmp_path)
    fx.run(fx.WriteFile("a.txt", "old"), files)

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        fx.run(fx.WriteFile("a.txt", "new"), files)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "old"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_atomic_write_keeps_the_permissions_of_an_existing_file(tmp_path: Path) -> None:
    """Replacing a file through a temp file keeps the old file's permission bits."""
    target = tmp_path / "script.sh"
    target.write_text("old")
    target.chmod(0o751)
    fx.run(fx.WriteFile("script.sh", "new"), RealFiles(tmp_path))
    assert stat.S_IMODE(target.stat().st_mode) == 0o751
    assert target.read_text() == "new"


def test_real_files_root_must_be_an_existing_directory(tmp_path: Path) -> None:
    """RealFiles of a missing root or of a file says so and how to fix it."""
    with pytest.raises(FileNotFoundError, match=r"(?s)root must be an existing directory.*mak"):
        RealFiles(tmp_path / "missing")
    (tmp_path / "f").write_text("")
    with pytest.raises(NotADirectoryError, match=r"is not a directory"):
        RealFiles(tmp_path / "f")


def test_memory_files_initial_tree_and_snapshot() -> None:
    """MemoryFiles(initial) stores str as UTF-8; snapshot maps sorted paths to bytes."""
    files = MemoryFiles({"b/c.txt": "ç", "a.bin": b"\x01", "./d": ""})
    assert files.snapshot() == {"a.bin": b"\x01", "b/c.txt": "ç".encode(), "d": b""}
    assert fx.run(fx.ListFiles("b"), files) == ("b/c.txt",)
    assert fx.testing(files={"x": "1"}).run(fx.ReadFile("x")) == "1"


def test_memory_files_refuses_inconsistent_or_invalid_initial_trees() -> None:
    """A file below a file, a bad path or non-text content in initial raise on construction."""
    with pytest.raises(NotADirectoryError):
        MemoryFiles({"a": "x", "a/b": "y"})
    with pytest.raises(ValueError, match=r"MemoryFiles\(initial=\{'/abs': \.\.\.\}\).*absolute"):
        MemoryFiles({"/abs": "x"})
    with pytest.raises(TypeError, match=r"the content of 'a' must be str or bytes"):
        MemoryFiles({"a": 1})  # type: ignore[dict-item]  # the wrong call under test


# --- the equivalence property -------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c.txt"])
PATHS = st.lists(NAMES, min_size=1, max_size=3).map("/".join)
DIRS = st.one_of(st.just("."), PATHS)
CONTENT = st.binary(max_size=8) | st.just(b"\xff\xfe") | st.text(max_size=8).map(str.encode)

OPERATIONS = st.one_of(
    st.builds(fx.ReadFile, PATHS),
    st.builds(fx.ReadBytes, PATHS),
    st.builds(fx.WriteFile, PATHS, st.text(max_size=8)),
    st.builds(fx.WriteBytes, PATHS, CONTENT),
    st.builds(fx.DeleteFile, PATHS),
    st.builds(fx.FileExists, PATHS),
    st.builds(fx.ListFiles, DIRS, st.sampled_from(["*", "*.txt", "a", "?"])),
)


def outcome(files: Files, effect: fx.Effect[object]) -> tuple[object, ...]:
    """What a program sees: ("ok", answer) or ("error", type, message)."""

    async def main() -> object:
        return await effect

    try:
        return ("ok", fx.run(main(), files))
    except Exception as err:  # compared, not swallowed
        return ("error", type(err), str(err))


def tree_on_disk(root: Path) -> Iterator[tuple[str, bytes]]:
    for dirpath, _, names in os.walk(root):
        for name in names:
            full = Path(dirpath, name)
            yield full.relative_to(root).as_posix(), full.read_bytes()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPERATIONS, max_size=25))
def test_property_real_and_memory_files_are_indistinguishable(
    operations: list[fx.Effect[object]],
) -> None:
    """Property: any sequence of file operations gives identical answers, error types and
    messages under RealFiles (on a fresh directory) and MemoryFiles, and leaves the same tree."""
    with tempfile.TemporaryDirectory() as root:
        real, memory = RealFiles(root), MemoryFiles()
        for op in operations:
            assert outcome(real, op) == outcome(memory, op), op
        assert dict(sorted(tree_on_disk(Path(root)))) == memory.snapshot()
