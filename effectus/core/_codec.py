"""Values to JSON and back, without pickle: decoding never imports a module or runs a constructor.

Plain JSON values stand for themselves; everything else is a one-key object whose key starts
with ``$`` (``{"$tuple": [...]}``).  A dict is written as a JSON object only when its keys are
strings that do not start with ``$``, so decoding is unambiguous.  Classes named in a trace
(dataclasses, enums, exceptions) are looked up among modules already imported — a trace can
never make effectus import code.  Users add codecs for their own types with `register_codec`.

Arrays are inline (base64, with the SHA-256 of their bytes) unless a `BlobStore` is given and
they hold more than `BLOB_THRESHOLD` bytes: then the raw bytes go to the store, named by their
SHA-256, and the encoded value names the hash.  Either way decoding checks the bytes against the
hash, so a changed or damaged array is never returned.  Integers outside the signed 64-bit range are tagged
(``{"$int": "..."}``) because JSON parsers (orjson among them) read them back as floats.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import math
import os
import re
import sys
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeAlias

from effectus.core._errors import TraceError

__all__ = ["BLOB_THRESHOLD", "BlobStore", "CodecError", "decode", "encode", "register_codec"]

JSON: TypeAlias = "None | bool | int | float | str | list[JSON] | dict[str, JSON]"

# Exceptions keep these attributes besides their args (OSError's errno and filename, say).
_ERROR_ATTRS = ("errno", "strerror", "filename", "filename2", "code", "reason")

#: Arrays with more bytes of data than this go to the blob store, when there is one.
BLOB_THRESHOLD = 4096

# Integers in this range are plain JSON numbers; every JSON parser worth using reads them exactly.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
# Past this many bits an integer is written in hex: CPython limits decimal conversion (4300 digits).
_DECIMAL_BITS = 10_000
_SHA256 = re.compile(r"[0-9a-f]{64}")


class CodecError(TraceError, TypeError):
    """A value has no codec, or an encoded value cannot be decoded."""


class BlobStore:
    """Content-addressed files of raw bytes: ``<directory>/<sha256 hex>.bin``, written once.

    A trace keeps its large arrays in ``<trace path>.blobs``.  ``put`` writes a blob through a
    temporary file and ``os.replace``, so a blob file is either absent or complete; ``get``
    checks the hash of what it reads, so a damaged blob is never returned.

    >>> import tempfile
    >>> store = BlobStore(tempfile.mkdtemp())
    >>> sha = store.put(b"hello")
    >>> sha[:12], store.get(sha)
    ('2cf24dba5fb0', b'hello')
    """

    __slots__ = ("directory", "fsync")

    def __init__(self, directory: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.directory = Path(directory)
        #: also ``os.fsync`` each new blob before ``put`` returns
        self.fsync = fsync

    def __repr__(self) -> str:
        return f"BlobStore({str(self.directory)!r})"

    def path(self, sha: str) -> Path:
        """Where the blob named ``sha`` lives (``sha`` must be 64 lowercase hex digits)."""
        if type(sha) is not str or _SHA256.fullmatch(sha) is None:
            raise TraceError(f"{sha!r} is not a blob name: expected 64 lowercase hex digits (SHA-256)")
        return self.directory / f"{sha}.bin"

    def put(self, data: bytes) -> str:
        """Store ``data`` (unless a blob with its hash exists) and return its SHA-256 hex."""
        import hashlib

        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if target.exists():
            return sha
        import tempfile

        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=f".{sha}.", suffix=".tmp", dir=self.directory)
            try:
                with open(fd, "wb") as f:
                    f.write(data)
                    if self.fsync:
                        f.flush()
                        os.fsync(f.fileno())
                os.replace(temp, target)  # a reader sees no blob or the whole blob
            except BaseException:
                os.unlink(temp)
                raise
        except OSError as err:
            raise TraceError(f"cannot write blob {sha} to {target}: {err}") from err
        return sha

    def get(self, sha: str) -> bytes:
        """The bytes of blob ``sha``, checked against their hash.

        Raises:
            TraceError: the blob is missing, or its content does not hash to ``sha``.
        """
        import hashlib

        target = self.path(sha)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            raise TraceError(
                f"blob {sha} is missing: expected it at {target}.\nFix: copy the trace's "
                f"{self.directory.name} directory along with the trace file."
            ) from None
        except OSError as err:
            raise TraceError(f"cannot read blob {sha} at {target}: {err}") from err
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha:
            raise TraceError(
                f"blob {sha} at {target} is corrupt: its content hashes to {actual}.\n"
                f"Fix: restore the blob from a copy of the trace."
            )
        return data


_encoders: dict[type, tuple[str, Callable[[Any], JSON]]] = {}
_decoders: dict[str, Callable[[JSON], Any]] = {}


def register_codec(
    cls: type, tag: str, encode: Callable[[Any], JSON], decode: Callable[[JSON], Any]
) -> None:
    """Teach traces to store values of ``cls`` as ``{"$<tag>": encode(value)}``.

    >>> class Point:
    ...     def __init__(self, x: int, y: int) -> None:
    ...         self.x, self.y = x, y
    >>> register_codec(Point, "doctest_point", lambda p: [p.x, p.y], lambda j: Point(*j))
    >>> encode(Point(1, 2))
    {'$doctest_point': [1, 2]}
    >>> decode({'$doctest_point': [1, 2]}).y
    2
    """
    if not tag.isidentifier() or tag in _BUILTIN_TAGS:
        raise ValueError(f"codec tag must be an identifier not among {sorted(_BUILTIN_TAGS)}; got {tag!r}")
    if tag in _decoders and _encoders.get(cls, (None,))[0] != tag:
        raise ValueError(f"codec tag {tag!r} is already registered for another type")
    _encoders[cls] = (tag, encode)
    _decoders[tag] = decode


def _qualname(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _loaded_class(name: str) -> type:
    """The class ``module:qualname``, from modules already imported (never imports)."""
    obj = _loaded_object(name)
    if not isinstance(obj, type):
        raise CodecError(f"the trace names {name}, which is not a class")
    return obj


def _loaded_object(name: str) -> Any:
    """The object ``module:qualname``, from modules already imported (never imports)."""
    module_name, _, qualname = name.partition(":")
    module = sys.modules.get(module_name)
    if module is None:
        raise CodecError(
            f"the trace names {name}, but module {module_name!r} is not imported; effectus "
            f"never imports code named by a trace. Fix: import {module_name} before replaying."
        )
    obj: Any = module
    for part in qualname.split("."):
        # The namespace itself, not getattr: a module's __getattr__ may import (numpy's does).
        namespace: Mapping[str, Any] | None = getattr(obj, "__dict__", None)
        obj = namespace.get(part) if namespace is not None else None
        if obj is None:
            raise CodecError(f"the trace names {name}, which does not exist in {module_name}")
    return obj


def encode(value: Any, where: str = "value", blobs: BlobStore | None = None) -> JSON:
    """``value`` as JSON data; ``where`` names it in errors (``ReadFile.path``).

    Arrays of more than `BLOB_THRESHOLD` bytes go to ``blobs`` when it is given.

    >>> encode({"k": (1, b"x")})
    {'k': {'$tuple': [1, {'$bytes': 'eA=='}]}}
    """
    if value is None or value is True or value is False or type(value) is str:
        return value  # exact JSON scalars
    # (Declared: pyright types `type()` of an Any value as partially unknown, type[Unknown].)
    t: type[Any] = type(value)  # pyright: ignore[reportUnknownVariableType]
    if t is int:
        if _INT_MIN <= value <= _INT_MAX:
            return value  # type: ignore[no-any-return]  # an exact int
        return {"$int": str(value) if value.bit_length() <= _DECIMAL_BITS else hex(value)}
    if t is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if t is list:
        return [encode(v, f"{where}[{i}]", blobs) for i, v in enumerate(value)]
    if t is tuple:
        return {"$tuple": [encode(v, f"{where}[{i}]", blobs) for i, v in enumerate(value)]}
    if t is dict:
        if all(type(k) is str and not k.startswith("$") for k in value):
            return {k: encode(v, f"{where}[{k!r}]", blobs) for k, v in value.items()}
        return {"$map": [[encode(k, f"{where} key", blobs), encode(v, f"{where}[{k!r}]", blobs)] for k, v in value.items()]}
    if t is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if t in (set, frozenset):
        items = sorted((encode(v, f"{where} item", blobs) for v in value), key=repr)
        return {"$set" if t is set else "$frozenset": items}
    custom = _encoders.get(t)
    if custom is not None:
        return {f"${custom[0]}": custom[1](value)}
    if isinstance(value, enum.Enum):
        return {"$enum": [_qualname(t), value.name]}
    if isinstance(value, BaseException):
        attrs = {a: encode(getattr(value, a), f"{where}.{a}", blobs) for a in _ERROR_ATTRS if getattr(value, a, None) is not None}
        args = [_encode_arg(a, f"{where}.args", blobs) for a in value.args]
        return {"$error": {"type": _qualname(t), "args": args, "attrs": attrs}}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name), f"{where}.{f.name}", blobs) for f in dataclasses.fields(value)}
        return {"$dataclass": [_qualname(t), fields]}
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type)):
        # By name only: a function is compared with the one the replayed program passes,
        # and rebuilt (when it must be) from the modules already imported.
        module = getattr(value, "__module__", None) or "builtins"
        return {"$function": f"{module}:{value.__qualname__}"}
    array = _encode_array(value, where, blobs)
    if array is not None:
        return array
    raise CodecError(
        f"cannot record {where}: no codec for type {t.__module__}.{t.__qualname__}.\n"
        f"Fix: fx.register_codec({t.__qualname__}, 'tag', encode=..., decode=...) with functions "
        f"to and from JSON data, or make it a dataclass of recordable fields."
    )


def _encode_arg(value: Any, where: str, blobs: BlobStore | None) -> JSON:
    """An exception argument: encoded when it can be, else its repr (the message survives)."""
    try:
        return encode(value, where, blobs)
    except CodecError:
        return repr(value)


def _encode_array(value: Any, where: str, blobs: BlobStore | None) -> JSON | None:
    module = type(value).__module__
    if not (module.startswith("numpy") or module.startswith("jax")):
        return None
    import numpy as np

    arr = np.asarray(value)
    if arr.dtype.hasobject:
        raise CodecError(f"cannot record {where}: numpy arrays of Python objects are not recordable")
    raw = np.ascontiguousarray(arr).tobytes()
    payload: dict[str, JSON] = {"dtype": arr.dtype.str, "shape": list(arr.shape)}
    if blobs is not None and len(raw) > BLOB_THRESHOLD:
        payload["blob"] = blobs.put(raw)
    else:
        import hashlib

        payload["data"] = base64.b64encode(raw).decode("ascii")
        payload["sha256"] = hashlib.sha256(raw).hexdigest()
    payload["jax"] = module.startswith("jax")
    return {"$array": payload}


def decode(data: JSON, blobs: BlobStore | None = None) -> Any:
    """The value that `encode` turned into ``data``; arrays stored as blobs are read from ``blobs``.

    >>> decode({'k': {'$tuple': [1, {'$bytes': 'eA=='}]}})
    {'k': (1, b'x')}
    """
    if type(data) is list:
        return [decode(v, blobs) for v in data]
    if type(data) is not dict:
        return data
    if len(data) == 1:
        (key, payload), = data.items()
        if key.startswith("$"):
            return _decode_tagged(key[1:], payload, blobs)
    return {k: decode(v, blobs) for k, v in data.items()}


def _decode_tagged(tag: str, payload: JSON, blobs: BlobStore | None) -> Any:
    try:
        if tag == "tuple":
            return tuple(decode(v, blobs) for v in _as_list(payload))
        if tag == "map":
            return {_hashable(decode(k, blobs)): decode(v, blobs) for k, v in (_pair(p) for p in _as_list(payload))}
        if tag == "int":
            return int(_as_str(payload), 0)
        if tag == "bytes":
            return base64.b64decode(_as_str(payload), validate=True)
        if tag == "float":
            text = _as_str(payload)
            if text not in ("nan", "inf", "-inf"):
                raise CodecError(f"bad $float {text!r}")
            return float(text)
        if tag in ("set", "frozenset"):
            items = [_hashable(decode(v, blobs)) for v in _as_list(payload)]
            return set(items) if tag == "set" else frozenset(items)
        if tag == "enum":
            name, member = _pair(payload)
            cls = _loaded_class(_as_str(name))
            if not issubclass(cls, enum.Enum):
                raise CodecError(f"{name} is not an Enum")
            return cls[_as_str(member)]
        if tag == "error":
            return _decode_error(payload, blobs)
        if tag == "dataclass":
            name, fields = _pair(payload)
            return _decode_dataclass(_as_str(name), fields, blobs)
        if tag == "array":
            return _decode_array(payload, blobs)
        if tag == "function":
            return _loaded_object(_as_str(payload))
        custom = _decoders.get(tag)
        if custom is not None:
            return custom(payload)
    except TraceError:  # CodecError, and a missing or corrupt blob
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as err:
        raise CodecError(f"cannot decode ${tag}: {err}") from err
    raise CodecError(f"unknown value tag ${tag}; was a codec registered when this trace was written?")


def _decode_error(payload: JSON, blobs: BlobStore | None) -> BaseException:
    if type(payload) is not dict:
        raise CodecError("$error payload must be an object")
    cls = _loaded_class(_as_str(payload.get("type")))
    if not issubclass(cls, BaseException):
        raise CodecError(f"{cls.__qualname__} is not an exception class")
    args = tuple(decode(a, blobs) for a in _as_list(payload.get("args", [])))
    # The __new__ of the nearest built-in base sets args (and OSError's errno, ...) without
    # running any __new__, __init__ or __setattr__ the class itself defines.
    err: BaseException = _builtin_new(cls).__new__(cls, *args)
    object.__setattr__(err, "args", args)
    attrs = payload.get("attrs", {})
    if type(attrs) is not dict:
        raise CodecError("$error attrs must be an object")
    for name, value in attrs.items():
        if name in _ERROR_ATTRS:
            try:
                object.__setattr__(err, name, decode(value, blobs))
            except AttributeError:
                pass  # a read-only attribute: the args already carry it
    return err


def _builtin_new(cls: type[BaseException]) -> type[BaseException]:
    """The nearest base of ``cls`` whose ``__new__`` is built in (static types are not heap types)."""
    for base in cls.__mro__:
        if "__new__" in vars(base) and not base.__flags__ & _HEAPTYPE:
            return base
    return BaseException


def _decode_dataclass(name: str, fields: JSON, blobs: BlobStore | None) -> Any:
    cls = _loaded_class(name)
    if not dataclasses.is_dataclass(cls) or type(fields) is not dict:
        raise CodecError(f"{name} is not a dataclass with the recorded fields")
    names = {f.name for f in dataclasses.fields(cls)}
    if set(fields) != names:
        raise CodecError(f"{name} has fields {sorted(names)}, the trace has {sorted(fields)}")
    obj = object.__new__(cls)  # no __init__/__post_init__: decoding runs no user code
    for key, value in fields.items():
        object.__setattr__(obj, key, decode(value, blobs))
    return obj


def _decode_array(payload: JSON, blobs: BlobStore | None) -> Any:
    import numpy as np

    if type(payload) is not dict:
        raise CodecError("$array payload must be an object")
    dtype = np.dtype(_as_str(payload.get("dtype")))
    if dtype.hasobject:
        raise CodecError("$array of Python objects is refused")
    shape = tuple(_as_int(n) for n in _as_list(payload.get("shape")))
    if "blob" in payload:
        sha = _as_str(payload["blob"])
        if blobs is None:
            raise CodecError(
                f"the array is stored in blob {sha}, and no blob store was given.\n"
                f"Fix: decode with the trace's store: decode(data, trace.blobs)."
            )
        raw = blobs.get(sha)
    else:
        raw = base64.b64decode(_as_str(payload.get("data")), validate=True)
        if "sha256" in payload:
            import hashlib

            sha = _as_str(payload["sha256"])
            if hashlib.sha256(raw).hexdigest() != sha:
                raise CodecError(
                    f"$array data does not hash to its recorded SHA-256 {sha[:16]}...: the trace was changed "
                    f"or damaged after it was written.\nFix: record the run again."
                )
    if len(raw) != dtype.itemsize * math.prod(shape):
        raise CodecError(f"$array data has {len(raw)} bytes, shape {shape} of {dtype} needs {dtype.itemsize * math.prod(shape)}")
    arr = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if payload.get("jax") and "jax" in sys.modules:
        import jax.numpy as jnp

        # jax annotates asarray's `device` parameter with a type pyright cannot resolve.
        return jnp.asarray(arr)  # pyright: ignore[reportUnknownMemberType]
    return arr


def _as_list(x: JSON) -> list[JSON]:
    if type(x) is not list:
        raise CodecError(f"expected a list, got {type(x).__name__}")
    return x


def _as_int(x: JSON) -> int:
    if type(x) is not int:
        raise CodecError(f"expected an integer, got {type(x).__name__}")
    return x


def _as_str(x: JSON) -> str:
    if type(x) is not str:
        raise CodecError(f"expected a string, got {type(x).__name__}")
    return x


def _pair(x: JSON) -> tuple[JSON, JSON]:
    items = _as_list(x)
    if len(items) != 2:
        raise CodecError(f"expected a pair, got {len(items)} items")
    return items[0], items[1]


def _hashable(x: Any) -> Any:
    try:
        hash(x)
    except TypeError:
        raise CodecError(f"a set item or map key decodes to an unhashable {type(x).__name__}") from None
    return x


_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: set on classes created by Python code

_BUILTIN_TAGS = frozenset(
    {"tuple", "map", "int", "bytes", "float", "set", "frozenset", "enum", "error", "dataclass", "array", "function"}
)
