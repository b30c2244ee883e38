"""Tests of `effectus.core._codec`: values to JSON and back, blobs, and what decoding refuses."""

from __future__ import annotations

import enum
import errno
import hashlib
import json
import math
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import effectus as fx
from effectus.core._codec import BLOB_THRESHOLD, BlobStore, CodecError, decode, encode, register_codec

PROPERTIES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- values of the test module's own types ---------------------------------------------------


class Color(enum.Enum):
    RED = 1
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclass(frozen=True)
class Point:
    x: Any
    y: Any


@dataclass
class Box:
    content: Any


@dataclass(frozen=True)
class Guarded:
    """A dataclass whose constructor refuses everything: decoding must not call it."""

    value: int

    def __post_init__(self) -> None:
        raise AssertionError("decoding ran __post_init__")


class Refusing(ValueError):
    """An exception whose own __new__, __init__ and __setattr__ must not run when decoded."""

    def __new__(cls, *args: Any) -> Refusing:
        raise AssertionError("decoding ran __new__")

    def __init__(self, *args: Any) -> None:
        raise AssertionError("decoding ran __init__")


class AppError(Exception):
    """A user exception with a required keyword-only argument."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


class Meters:
    """A type with no codec until a test registers one."""

    def __init__(self, value: float) -> None:
        self.value = value


# --- comparing decoded values exactly ---------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 is not 1.0 nor True; nan is nan)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return repr(a) == repr(b)  # nan == nan, -0.0 != 0.0
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, BaseException):
        attrs = ("errno", "strerror", "filename", "filename2")
        return same(a.args, b.args) and all(
            same(getattr(a, n, None), getattr(b, n, None)) for n in attrs
        )
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, (Point, Box)):
        return all(same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    return bool(a == b)


def round_trip(value: Any, blobs: BlobStore | None = None) -> Any:
    """``value`` encoded, through JSON text (as a trace stores it), and decoded."""
    data = encode(value, "value", blobs)
    text = json.dumps(data, allow_nan=False)  # encoded data is plain, finite JSON
    return decode(json.loads(text), blobs)


# --- strategies -------------------------------------------------------------------------------

ints = st.integers() | st.integers(min_value=2**62, max_value=2**80) | st.integers(max_value=-(2**62))
finite = st.floats(allow_nan=False, allow_infinity=False)
scalars = st.none() | st.booleans() | ints | finite | st.text()
# Set items and map keys must hash and compare equal after decoding (so no nan).
hashables = st.recursive(
    scalars | st.binary(max_size=20),
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=5,
)
keys = st.text() | st.text().map(lambda s: "$" + s) | ints | st.tuples(st.integers(), st.text())
non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
exceptions = st.one_of(
    st.builds(ValueError, st.text()),
    st.builds(KeyError, st.text()),
    st.builds(lambda n, m, f: OSError(n, m, f), st.sampled_from([errno.ENOENT, errno.EACCES, errno.EEXIST]),
              st.text(), st.text()),
    st.builds(lambda f: FileNotFoundError(errno.ENOENT, "No such file or directory", f), st.text()),
    st.builds(lambda m, c: AppError(m, code=c), st.text(), st.integers()),
)
arrays = hnp.arrays(
    dtype=st.sampled_from(["int8", "uint16", "int32", "int64", "float32", "float64", "bool", "complex128"]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(), inner, max_size=3),
        st.dictionaries(keys, inner, max_size=3),
        st.builds(Point, inner, inner),
        st.builds(Box, inner),
    )


values = st.recursive(
    scalars | non_finite | st.binary(max_size=30) | st.sets(hashables, max_size=4)
    | st.frozensets(hashables, max_size=4) | st.sampled_from(list(Color) + list(Level)) | exceptions
    | arrays,
    _containers,
    max_leaves=12,
)


# --- round trips ------------------------------------------------------------------------------


@PROPERTIES
@given(values)
def test_every_encodable_value_round_trips_through_json(value: Any) -> None:
    """decode(json(encode(v))) is v, with exact types, for nested values of every supported kind."""
    assert same(round_trip(value), value)


@PROPERTIES
@given(values)
def test_encoded_data_is_plain_json(value: Any) -> None:
    """encode yields only None/bool/int/float/str/list/str-keyed dict, with finite floats."""

    def plain(x: Any) -> bool:
        if x is None or type(x) in (bool, str):
            return True
        if type(x) is int:
            return -(2**63) <= x < 2**63  # every JSON parser reads these exactly
        if type(x) is float:
            return math.isfinite(x)
        if type(x) is list:
            return all(plain(v) for v in x)
        return type(x) is dict and all(type(k) is str and plain(v) for k, v in x.items())

    assert plain(encode(value))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> BlobStore:
    return BlobStore(tmp_path_factory.mktemp("blobs"))


@PROPERTIES
@given(
    hnp.arrays(
        dtype=st.sampled_from(["uint8", "int16", "float32", "float64", "complex64"]),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=40),
    )
)
def test_arrays_round_trip_through_a_blob_store(store: BlobStore, array: np.ndarray[Any, Any]) -> None:
    """With a store, arrays over the threshold go to blobs named by their hash and come back."""
    data = encode({"a": array}, "value", store)
    payload = data["a"]["$array"]  # type: ignore[index, call-overload]
    if array.nbytes > BLOB_THRESHOLD:
        assert "data" not in payload and store.path(payload["blob"]).read_bytes() == array.tobytes()
        assert payload["blob"] == hashlib.sha256(array.tobytes()).hexdigest()
    else:
        assert "blob" not in payload
    assert same(decode(json.loads(json.dumps(data)), store)["a"], array)


def test_the_blob_threshold_is_more_than_4096_bytes(store: BlobStore) -> None:
    """4096 bytes of data stay inline; 4097 go to the store; without a store all stay inline."""
    at = np.zeros(4096, dtype=np.uint8)
    over = np.zeros(4097, dtype=np.uint8)
    assert "data" in encode(at, blobs=store)["$array"]  # type: ignore[index, call-overload]
    assert "blob" in encode(over, blobs=store)["$array"]  # type: ignore[index, call-overload]
    assert "data" in encode(over)["$array"]  # type: ignore[index, call-overload]


def test_a_non_contiguous_array_is_stored_in_c_order() -> None:
    """A transposed or strided view decodes to the same values."""
    base = np.arange(24, dtype=np.int32).reshape(4, 6)
    for view in (base.T, base[::2, 1::2]):
        assert np.array_equal(round_trip(view), view)


def test_jax_arrays_come_back_as_jax_arrays_when_jax_is_loaded() -> None:
    """A jax array is recorded with jax=True and decodes to a jax array (jax already imported)."""
    jnp = pytest.importorskip("jax.numpy")
    value = jnp.arange(6, dtype=jnp.float32).reshape(2, 3)
    data = encode(value)
    assert data["$array"]["jax"] is True  # type: ignore[index, call-overload]
    back = decode(data)
    assert type(back).__module__.startswith("jax")
    assert np.array_equal(np.asarray(back), np.asarray(value))


def test_big_integers_are_tagged_and_exact() -> None:
    """Integers outside 64 bits are written as strings (JSON parsers would make them floats)."""
    for n in (2**63, -(2**63) - 1, 10**30, -(10**4000), 7**20000):
        data = encode(n)
        assert type(data) is dict and "$int" in data
        assert round_trip(n) == n
    assert encode(2**63 - 1) == 2**63 - 1
    assert encode(-(2**63)) == -(2**63)


def test_os_errors_keep_their_subclass_errno_and_filename() -> None:
    """OSError(ENOENT, ..., name) comes back a FileNotFoundError with errno and filename."""
    err = round_trip(OSError(errno.ENOENT, "No such file or directory", "cfg.toml"))
    assert type(err) is FileNotFoundError
    assert (err.errno, err.strerror, err.filename) == (errno.ENOENT, "No such file or directory", "cfg.toml")
    assert str(err) == "[Errno 2] No such file or directory: 'cfg.toml'"


def test_an_unencodable_exception_argument_keeps_its_repr() -> None:
    """An exception argument with no codec is recorded as its repr, so the message survives."""
    err = round_trip(ValueError(object.__new__(Meters)))
    assert type(err) is ValueError and str(err.args[0]).startswith("<")


def test_a_registered_codec_round_trips() -> None:
    """register_codec teaches encode and decode a user type, inside containers too."""
    register_codec(Meters, "test_codec_meters", lambda m: m.value, lambda j: Meters(j))
    data = encode([Meters(2.5)])
    assert data == [{"$test_codec_meters": 2.5}]
    back = round_trip({"d": (Meters(1.0),)})
    assert type(back["d"][0]) is Meters and back["d"][0].value == 1.0


def test_register_codec_refuses_builtin_and_taken_tags() -> None:
    """A tag that a built-in codec uses, or that names another type, is refused."""
    with pytest.raises(ValueError, match="codec tag must be an identifier"):
        register_codec(Meters, "tuple", lambda m: 0, lambda j: j)
    register_codec(Point, "test_codec_taken", lambda p: 0, lambda j: j)
    with pytest.raises(ValueError, match="already registered for another type"):
        register_codec(Box, "test_codec_taken", lambda p: 0, lambda j: j)


# --- decoding runs no code --------------------------------------------------------------------


def test_decoding_a_dataclass_does_not_call_its_constructor() -> None:
    """__init__ and __post_init__ do not run: the fields are set as recorded."""
    obj = object.__new__(Guarded)
    object.__setattr__(obj, "value", 7)
    back = round_trip(obj)
    assert type(back) is Guarded and back.value == 7


def test_decoding_an_exception_does_not_call_its_new_init_or_setattr() -> None:
    """A user exception is rebuilt by its built-in base's __new__, not by its own methods."""
    err = BaseException.__new__(Refusing, "bad", 3)
    back = round_trip(err)
    assert type(back) is Refusing and back.args == ("bad", 3)
    app = round_trip(AppError("boom", code=4))
    assert type(app) is AppError and app.args == ("boom",)


def test_decoding_a_class_from_a_module_not_imported_says_effectus_never_imports() -> None:
    """A dataclass whose module is not imported is an error telling what to import."""
    name = "effectus_test_never_imported_module"
    with pytest.raises(CodecError, match=rf"module '{name}' is not imported; effectus never imports code") as info:
        decode({"$dataclass": [f"{name}:Thing", {}]})
    assert name not in sys.modules
    assert f"Fix: import {name}" in str(info.value)


def test_decoding_never_triggers_a_module_getattr() -> None:
    """Names are looked up in namespaces: a module's lazy __getattr__ (numpy's imports) is not called."""
    calls: list[str] = []
    lazy = types.ModuleType("effectus_test_lazy_module")

    def lazy_getattr(name: str) -> object:
        calls.append(name)
        raise AttributeError(name)

    lazy.__getattr__ = lazy_getattr  # type: ignore[method-assign]  # a PEP 562 module hook
    sys.modules[lazy.__name__] = lazy
    try:
        with pytest.raises(CodecError, match="does not exist in effectus_test_lazy_module"):
            decode({"$dataclass": [f"{lazy.__name__}:testing.Thing", {}]})
    finally:
        del sys.modules[lazy.__name__]
    assert calls == []


def test_decoding_a_non_dataclass_or_non_enum_is_refused() -> None:
    """Tags name their kind of class: a function or an int is not a dataclass or enum."""
    with pytest.raises(CodecError, match="not a class"):
        decode({"$dataclass": [f"{__name__}:round_trip", {}]})
    with pytest.raises(CodecError, match="is not an Enum"):
        decode({"$enum": ["builtins:int", "real"]})
    with pytest.raises(CodecError, match="has fields"):
        decode({"$dataclass": [f"{__name__}:Point", {"x": 1}]})


# --- errors -----------------------------------------------------------------------------------


def test_a_value_with_no_codec_names_where_it_is_its_type_and_the_fix() -> None:
    """The error says which field, which type, and how to register a codec."""
    with pytest.raises(CodecError) as info:
        encode({"k": [Meters2()]}, "ReadFile.path")
    message = str(info.value)
    assert message.startswith("cannot record ReadFile.path['k'][0]: no codec for type ")
    assert f"{__name__}.Meters2" in message
    assert "Fix: fx.register_codec(Meters2, 'tag', encode=..., decode=...)" in message
    assert any(entry.name == "test_a_value_with_no_codec_names_where_it_is_its_type_and_the_fix"
               for entry in info.traceback)


class Meters2:
    """A type that never gets a codec."""


def test_codec_errors_are_trace_errors_and_type_errors() -> None:
    """CodecError is caught by `except fx.TraceError` and by `except TypeError`."""
    assert issubclass(CodecError, fx.TraceError) and issubclass(CodecError, TypeError)


def test_an_unknown_tag_is_refused() -> None:
    """A $tag no codec knows is an error that suggests a missing registration."""
    with pytest.raises(CodecError, match=r"unknown value tag \$nosuch; was a codec registered"):
        decode({"$nosuch": 1})


def test_object_arrays_are_refused_both_ways() -> None:
    """Arrays of Python objects would need pickle: encode and decode both refuse them."""
    with pytest.raises(CodecError, match="arrays of Python objects"):
        encode(np.array([object()], dtype=object))
    with pytest.raises(CodecError, match="Python objects is refused"):
        decode({"$array": {"dtype": "|O", "shape": [1], "data": "", "jax": False}})


@PROPERTIES
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5)
        | st.sampled_from(["$int", "$array", "$error", "$bytes", "$float", "$map", "$set", "$enum",
                           "$dataclass", "$tuple", "builtins:int", "<f8", "blob", "data", "shape"]),
        lambda inner: st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["$int", "$array", "$error", "$bytes", "$float", "$map", "$set",
                             "$frozenset", "$enum", "$dataclass", "$tuple", "$x", "dtype", "shape",
                             "data", "blob", "type", "args", "attrs", "jax"]),
            inner, max_size=3,
        ),
        max_leaves=10,
    )
)
def test_decoding_arbitrary_json_raises_only_codec_errors(data: Any) -> None:
    """Malformed payloads of every tag are a CodecError (or TraceError for blobs), never a crash."""
    try:
        decode(data)
    except fx.TraceError:
        pass


# --- the blob store ---------------------------------------------------------------------------


def test_blob_store_writes_once_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    """put returns the SHA-256, writes <sha>.bin once, and a second put of the same bytes is a no-op."""
    store = BlobStore(tmp_path / "x.blobs")
    sha = store.put(b"payload")
    assert sha == hashlib.sha256(b"payload").hexdigest()
    first = store.path(sha).stat()
    assert store.put(b"payload") == sha
    assert store.path(sha).stat().st_mtime_ns == first.st_mtime_ns
    assert sorted(p.name for p in (tmp_path / "x.blobs").iterdir()) == [f"{sha}.bin"]
    assert store.get(sha) == b"payload"


def test_a_missing_blob_names_its_hash_and_expected_path(tmp_path: Path) -> None:
    """get of an absent blob is a TraceError with the sha and where it was looked for."""
    store = BlobStore(tmp_path / "t.blobs")
    sha = hashlib.sha256(b"gone").hexdigest()
    with pytest.raises(fx.TraceError, match=rf"blob {sha} is missing: expected it at .*t\.blobs/{sha}\.bin"):
        store.get(sha)


def test_a_corrupt_blob_is_detected(tmp_path: Path) -> None:
    """A blob whose bytes no longer hash to its name is refused."""
    store = BlobStore(tmp_path)
    sha = store.put(b"original")
    store.path(sha).write_bytes(b"tampered")
    with pytest.raises(fx.TraceError, match=rf"blob {sha} at .* is corrupt: its content hashes to "):
        store.get(sha)


def test_blob_names_cannot_escape_the_store(tmp_path: Path) -> None:
    """Only 64 lowercase hex digits name a blob: a trace cannot make the store read ../ paths."""
    store = BlobStore(tmp_path)
    for bad in ("../../etc/passwd", "A" * 64, "0" * 63, "/abs"):
        with pytest.raises(fx.TraceError, match="is not a blob name"):
            store.get(bad)


def test_decoding_a_blob_array_without_a_store_says_how_to_pass_one(store: BlobStore) -> None:
    """An array stored as a blob needs the trace's blob store to decode."""
    data = encode(np.ones(2000), blobs=store)
    with pytest.raises(CodecError, match=r"stored in blob [0-9a-f]{64}, and no blob store was given"):
        decode(data)
    assert np.array_equal(decode(data, store), np.ones(2000))


def test_decoding_a_blob_array_checks_the_blob(tmp_path: Path) -> None:
    """A missing blob is a TraceError from decode (not wrapped into something vaguer)."""
    data = encode(np.ones(2000), blobs=BlobStore(tmp_path / "a"))
    with pytest.raises(fx.TraceError, match="is missing: expected it at"):
        decode(data, BlobStore(tmp_path / "b"))
