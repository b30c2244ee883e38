"""Tool specs: refinements, pre/postconditions, invariants and declared effects, checked per call.

``@fx.tool(requires=..., ensures=..., effects=..., placement=..., invariants=...)`` reads the
tool's signature once and compiles its checks into one generated function per tool (the way
`dataclasses` builds ``__init__``): the function has the tool's own parameters, so binding the
arguments costs nothing extra, and a simple predicate whose body reads only its parameters and
builtins is inlined as an expression.  A precondition that holds costs one comparison in that
function; one that fails raises `PreconditionError` on the caller's line with the predicate's
source, the values of the names it reads and the call site.

What a spec says:

- **refinements**: parameters (and the result) annotated ``Annotated[T, *constraints]`` with the
  annotated-types constraints `Gt`, `Ge`, `Lt`, `Le`, `MultipleOf`, `MinLen`, `MaxLen`, `Len`,
  `Interval` and `Predicate`, `Length` (a length given by other parameters: a ``Vec[n]``) and
  `Shape` (an array's dims, in symbols shared across the signature: ``Shape("n m")``);
- **types**: ``T`` itself is checked with beartype (``isinstance`` for plain classes);
- ``requires``: predicates over the parameters, checked before the body starts;
- ``ensures``: predicates over ``result`` and the parameters, checked when the body returns;
- ``invariants``: predicates over the parameters that must hold before and after the body
  (for arguments the tool mutates);
- ``effects``: the effect types the tool may perform (its callees and tasks included); any
  other effect is refused with `UndeclaredEffect` before a handler sees it;
- ``placement``: where the tool may run, a placement string (kept for the planner).
"""

from __future__ import annotations

import ast
import builtins
import inspect
import reprlib
import typing
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from types import CodeType
from typing import Any, Generic, Literal, ParamSpec, TypeVar, cast, overload

from effectus.core import EffectusError, PostconditionError, PreconditionError
from effectus.core._effect import is_effect_type
from effectus.core._site import caller_site, relative
from effectus.core._tool import Call, Tool
from effectus.specs._source import find_node, returned_expr

__all__ = ["Length", "Predicate", "Shape", "Spec", "SpecError", "SpecTool", "spec_of", "tool"]

P = ParamSpec("P")
R = TypeVar("R")

Kind = Literal["requires", "ensures", "invariant", "refinement"]
PredicateLike = Callable[..., object]


class SpecError(EffectusError, TypeError):
    """A spec is malformed: found when the tool is decorated (a predicate naming a parameter
    the tool does not have, refinements that no value satisfies, a non-async function...)."""


SpecError.__module__ = "effectus"


@dataclass(frozen=True)
class Length:
    """Refinement: the value's length equals an expression over other parameters.

    ``xs: Annotated[list[float], Length("n")]`` is a vector of ``n`` elements (a ``Vec[n]``);
    ``Length("n + 1")`` and ``Length("rows * cols")`` work too.
    """

    expr: str

    def __post_init__(self) -> None:
        try:
            ast.parse(self.expr, mode="eval")
        except SyntaxError as err:
            raise SpecError(f"Length({self.expr!r}): not an expression ({err.msg})") from None


@dataclass(frozen=True)
class Shape:
    """Refinement: an array's dims, written in symbols shared across the tool's signature.

    ``a: Annotated[np.ndarray, Shape("n m")]`` is a 2-d array (of any class with a ``.shape``)
    of ``n`` rows and ``m`` columns.  Dims are separated by spaces; each is an int (``3``), a
    name (``n``) or an expression of names and ints with ``+ - * //`` and no spaces (``n+1``,
    ``2*k``); ``Shape("")`` is a 0-d array.  In a tool, a name that is one of its parameters means
    that argument; any other name is a symbol that takes the same value in every `Shape` of the
    tool, the result's included.  A symbol takes its value where it first stands alone as a dim
    (parameters in signature order, then the result), so each must stand alone somewhere.

    >>> Shape("batch n+1")
    Shape(dims='batch n+1')
    >>> Shape("n + 1")
    Traceback (most recent call last):
    ...
    effectus.SpecError: Shape('n + 1'): '+' is not a dim (it does not parse).
    Fix: write each dim as an int, a name or an expression of them with + - * // and no spaces inside it, e.g. Shape("batch n+1") (not "n + 1").
    """

    dims: str

    def __post_init__(self) -> None:
        _parse_dims(self)


_DIM_NODES = (ast.Name, ast.Load, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.FloorDiv)


def _parse_dims(shape: Shape) -> list[ast.expr]:
    """The dims of ``shape``, parsed; `SpecError` for one that is not an int, name or expression."""
    if not isinstance(shape.dims, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise SpecError(
            f"Shape(dims={shape.dims!r}) (type={type(shape.dims).__qualname__}): the dims are one string.\n"
            f'Fix: separate the dims with spaces, e.g. Shape("n m").'
        )
    out: list[ast.expr] = []
    for dim in shape.dims.split():
        try:
            node = ast.parse(dim, mode="eval").body
        except SyntaxError:
            why = "it does not parse"
        else:
            if all(isinstance(n, _DIM_NODES) or (isinstance(n, ast.Constant) and type(n.value) is int) for n in ast.walk(node)):
                out.append(node)
                continue
            why = "only non-negative ints, names and + - * // make a dim"
        raise SpecError(
            f"Shape({shape.dims!r}): {dim!r} is not a dim ({why}).\n"
            f"Fix: write each dim as an int, a name or an expression of them with + - * // and no spaces "
            f'inside it, e.g. Shape("batch n+1") (not "n + 1").'
        )
    return out


class ShapeCheck:
    """The `Shape` refinements of a tool, checked together: the ``fn`` of one refinement `Predicate`.

    ``shapes`` are the values checked (the parameters', or the result's); ``given`` (the
    parameters', when the result is checked) only give symbols their values.  `expr` is the whole
    check as one Python expression over the values and the parameters named in dims, a symbol
    replaced by the dim where it is bound: for ``a: Shape("n m"), b: Shape("m 3")`` it is
    ``len(a.shape) == 2 and len(b.shape) == 2 and b.shape[0] == a.shape[1] and b.shape[1] == 3``.
    The generated check inlines it, z3 translates it, and `explain` says which dim failed.
    """

    def __init__(
        self, tool_name: str, shapes: Sequence[tuple[str, Shape]], params: Sequence[str],
        given: Sequence[tuple[str, Shape]] = (),
    ) -> None:
        self.given, self.shapes = tuple(given), tuple(shapes)
        parsed = {id(s): _parse_dims(s) for _, s in (*self.given, *self.shapes)}
        if "len" in params:
            raise SpecError(f"@fx.tool on {tool_name}: its parameter len hides the builtin its Shape check calls.\nFix: rename it.")
        #: symbol -> (value, dim index) where it first stands alone
        self.bindings: dict[str, tuple[str, int]] = {}
        for value, s in (*self.given, *self.shapes):
            for i, dim in enumerate(parsed[id(s)]):
                if isinstance(dim, ast.Name) and dim.id not in params:
                    self.bindings.setdefault(dim.id, (value, i))
        ndims: dict[str, Shape] = {}
        for value, s in self.shapes:
            for name in {n.id for d in parsed[id(s)] for n in ast.walk(d) if isinstance(n, ast.Name)} - set(params):
                if name not in self.bindings:
                    where = "a parameter or the result" if value == "result" else "a parameter"
                    raise SpecError(
                        f"@fx.tool on {tool_name}: {value}: Shape({s.dims!r}) uses {name}, which no dim gives a value.\n"
                        f'Fix: make {name} a parameter, or write it alone as a dim of {where} (Shape("{name} ...")).'
                    )
            first = ndims.setdefault(value, s)
            if len(parsed[id(first)]) != len(parsed[id(s)]):
                raise SpecError(
                    f"@fx.tool on {tool_name}: the Shapes of {value} contradict each other: {first!r}, {s!r} "
                    f"differ in their number of dims.\nFix: keep one Shape, or give both the same number of dims."
                )
        # (value, dim index, its text, the dim as written) for each dim not where a symbol is bound
        self._dims: list[tuple[str, int, str, ast.expr]] = []
        for value, s in self.shapes:
            for i, (text, dim) in enumerate(zip(s.dims.split(), parsed[id(s)])):
                if not (isinstance(dim, ast.Name) and self.bindings.get(dim.id) == (value, i)):
                    self._dims.append((value, i, text, dim))
        parts = [f"len({value}.shape) == {len(parsed[id(s)])}" for value, s in self.shapes]
        parts += [f"{value}.shape[{i}] == {ast.unparse(self._bound(dim))}" for value, i, _, dim in self._dims]
        self.expr = ast.parse(" and ".join(parts), mode="eval").body
        values = list(dict.fromkeys(v for v, _ in (*self.given, *self.shapes)))
        named = {n.id for _, _, _, d in self._dims for n in ast.walk(d) if isinstance(n, ast.Name)}
        #: what the check reads (its arguments): the shaped values, then the parameters named in dims
        self.names: tuple[str, ...] = (*values, *(p for p in params if p in named and p not in values))
        self.source = ", ".join(f"{value}: Shape({s.dims!r})" for value, s in self.shapes)
        #: the check as it is pasted into the generated function
        self.inline = f"({' and '.join(parts)})"
        self._fn: Callable[..., object] = eval(f"lambda {', '.join(self.names)}: {self.inline}", {})  # our own expression

    def _bound(self, dim: ast.expr) -> ast.expr:
        """``dim`` with each symbol replaced by the dim where it is bound."""
        if isinstance(dim, ast.Name) and dim.id in self.bindings:
            value, i = self.bindings[dim.id]
            return ast.parse(f"{value}.shape[{i}]", mode="eval").body
        if isinstance(dim, ast.BinOp):
            return ast.BinOp(self._bound(dim.left), dim.op, self._bound(dim.right))
        return dim

    def __call__(self, *values: object) -> object:
        """The check itself, on values in `names` order."""
        return self._fn(*values)

    def explain(self, *values: object) -> str | None:
        """The first thing wrong with ``values`` (in `names` order), as a sentence naming the value,
        the dim and the symbol (``b.shape[0] = 4 but m = 3 (from a.shape[1])``); None if nothing is."""
        env = dict(zip(self.names, values))
        shapes: dict[str, tuple[object, ...]] = {}
        for value, s in (*self.given, *self.shapes):
            got = getattr(env[value], "shape", None)
            if not isinstance(got, Iterable):
                has = "no .shape" if got is None else f"a .shape that is not a tuple: {reprlib.repr(got)}"
                return f"{value} is {type(env[value]).__qualname__} {reprlib.repr(env[value])}, which has {has}"
            shapes[value] = tuple(cast(Iterable[object], got))
            want = len(s.dims.split())
            if len(shapes[value]) != want:
                return f"{value}.shape = {shapes[value]!r} has {len(shapes[value])} dims, but Shape({s.dims!r}) has {want}"
        symbols = {name: shapes[value][i] for name, (value, i) in self.bindings.items()}

        def origin(name: str) -> str:
            if name in self.bindings:
                value, i = self.bindings[name]
                return f"{name} = {symbols[name]!r} (from {value}.shape[{i}])"
            return f"{name} = {env[name]!r} (the argument)"

        for value, i, text, dim in self._dims:
            actual = shapes[value][i]
            names = list(dict.fromkeys(n.id for n in ast.walk(dim) if isinstance(n, ast.Name)))
            try:
                expected = eval(compile(ast.Expression(dim), "<shape>", "eval"), {"__builtins__": {}}, {**env, **symbols})
            except Exception as err:  # a dim such as n//k raises for k == 0: that is the failure
                return f"{value}.shape[{i}]: {text} raised {type(err).__name__}: {err} with {', '.join(map(origin, names))}"
            if _same(actual, expected):
                continue
            if isinstance(dim, ast.Constant):
                return f"{value}.shape[{i}] = {actual!r}, not {text}"
            if isinstance(dim, ast.Name):
                return f"{value}.shape[{i}] = {actual!r} but {origin(dim.id)}"
            return f"{value}.shape[{i}] = {actual!r} but {text} = {expected!r} with {', '.join(map(origin, names))}"
        return None


def _same(a: object, b: object) -> bool:
    try:
        return bool(a == b)
    except Exception:  # an array compared with a dim: not the same
        return False


@dataclass(frozen=True)
class Predicate:
    """One predicate of a spec, with what the checks and the proofs need to know about it."""

    kind: Kind
    #: the callable (for refinements: None, and `source` is the expression; for `Shape`
    #: refinements: their `ShapeCheck`)
    fn: PredicateLike | None
    #: the parameter names it reads, in its own order (``result`` for the result)
    names: tuple[str, ...]
    #: its text as the user wrote it: ``0 < k <= len(xs)``
    source: str
    #: where it was written (``file:line``)
    where: str
    #: the expression inlined in the generated check, when the predicate allows it
    inline: str | None


@dataclass(frozen=True)
class Spec:
    """What `tool` read from the decorator and the signature."""

    name: str
    signature: inspect.Signature
    #: parameter name -> its type without refinements (``Annotated`` stripped)
    types: dict[str, object]
    result_type: object
    requires: tuple[Predicate, ...]
    ensures: tuple[Predicate, ...]
    invariants: tuple[Predicate, ...]
    #: refinements of parameters (requires) and of the result (ensures), as predicates
    refinements: tuple[Predicate, ...]
    #: parameter name (or ``result``) -> its annotated-types constraints
    constraints: dict[str, tuple[object, ...]]
    effects: frozenset[type] | None
    placement: str | None
    #: where the tool is defined (``file:line``)
    where: str

    def predicates(self) -> tuple[Predicate, ...]:
        """Every predicate of the spec, refinements first."""
        return (*self.refinements, *self.requires, *self.ensures, *self.invariants)


class SpecTool(Tool[P, R], Generic[P, R]):
    """A tool with a spec: each call checks it (see `tool`)."""

    spec: Spec

    def __init__(self, fn: Callable[P, Coroutine[Any, Any, R]], spec: Spec, pre: Callable[..., Any], post: Callable[..., Any] | None) -> None:
        super().__init__(fn)
        self.spec = spec
        self.allowed = spec.effects
        self._pre = pre
        self._post = post

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Call[R]:
        bound = self._pre(*args, **kwargs)  # raises PreconditionError on the caller's line
        post = self._post
        if post is None:
            return Call(self, self._fn(*args, **kwargs), args, kwargs)
        # The body's coroutine is made inside the wrapper (the arguments bind: `_pre` has the
        # same signature), so a call closed unstarted leaves no coroutine never awaited.
        return Call(self, _ensured(self._fn, args, kwargs, post, bound), args, kwargs)

    def __repr__(self) -> str:
        return f"<tool {self.__module__}.{self.__qualname__} with a spec>"


async def _ensured(
    fn: Callable[..., Coroutine[Any, Any, R]], args: tuple[Any, ...], kwargs: dict[str, Any],
    post: Callable[..., Any], bound: tuple[Any, ...],
) -> R:
    result = await fn(*args, **kwargs)
    post(result, *bound)
    return result


def spec_of(obj: object) -> Spec | None:
    """The spec of a tool made by ``@fx.tool(...)``, or None."""
    return obj.spec if isinstance(obj, SpecTool) else None


# --- the decorator ----------------------------------------------------------------------------


@overload
def tool(fn: Callable[P, Coroutine[Any, Any, R]], /) -> Tool[P, R]: ...
@overload
def tool(
    *,
    requires: PredicateLike | Sequence[PredicateLike] = ...,
    ensures: PredicateLike | Sequence[PredicateLike] = ...,
    effects: Iterable[type] | None = ...,
    placement: str | None = ...,
    invariants: PredicateLike | Sequence[PredicateLike] = ...,
) -> Callable[[Callable[P, Coroutine[Any, Any, R]]], Tool[P, R]]: ...


def tool(
    fn: Callable[P, Coroutine[Any, Any, R]] | None = None,
    /,
    *,
    requires: PredicateLike | Sequence[PredicateLike] = (),
    ensures: PredicateLike | Sequence[PredicateLike] = (),
    effects: Iterable[type] | None = None,
    placement: str | None = None,
    invariants: PredicateLike | Sequence[PredicateLike] = (),
) -> Tool[P, R] | Callable[[Callable[P, Coroutine[Any, Any, R]]], Tool[P, R]]:
    """Make an ``async def`` program a tool, optionally with a spec checked on every call.

    Bare (``@fx.tool``), a tool checks only the refinements of its parameters and result
    (``Annotated[int, Ge(0)]``), and one without any costs nothing extra per call.  Given
    any spec argument, it also checks argument and result types with beartype:

    >>> import effectus as fx
    >>> from typing import Annotated
    >>> from annotated_types import Ge
    >>> @fx.tool(requires=lambda xs, k: k <= len(xs), ensures=lambda result, k: len(result) == k)
    ... async def top(xs: list[int], k: Annotated[int, Ge(0)]) -> list[int]:
    ...     return sorted(xs, reverse=True)[:k]
    >>> fx.run(top([3, 1, 2], 2))
    [3, 2]
    >>> fx.run(top([3], 2))
    Traceback (most recent call last):
    ...
    effectus.PreconditionError: precondition of tool top failed: k <= len(xs)
    ...

    Args:
        requires: predicates over the parameters (each names those it reads).
        ensures: predicates over ``result`` and the parameters.
        effects: the effect types the tool may perform; others raise `UndeclaredEffect`.
        placement: where the tool may run (a placement string).
        invariants: predicates over the parameters, checked before and after the body.

    Raises:
        SpecError: a predicate names a parameter the tool lacks, or is not callable;
            refinements of one parameter contradict each other; ``effects`` holds a non-effect.
    """
    bare = (requires, ensures, effects, placement, invariants) == ((), (), None, None, ())

    def decorate(f: Callable[P, Coroutine[Any, Any, R]]) -> Tool[P, R]:
        if not inspect.iscoroutinefunction(f):
            return Tool(f)  # raises the TypeError that says to write `async def`
        try:
            hints = typing.get_type_hints(f, include_extras=True)
        except Exception as err:  # a forward reference that does not resolve (yet)
            if bare:
                return Tool(f)  # no refinements can be read: nothing to check
            raise SpecError(
                f"@fx.tool on {f.__qualname__}: cannot resolve its annotations "
                f"({type(err).__name__}: {err}).\nFix: define the types the signature names before the tool."
            ) from err
        if bare and not any(_split_annotated(h)[1] for h in hints.values()):
            return Tool(f)  # no spec and no refinements: calls cost nothing extra
        spec = build_spec(f, hints, requires, ensures, effects, placement, invariants)
        pre, post = compile_checks(spec, f)
        return SpecTool(f, spec, pre, post)

    return decorate if fn is None else decorate(fn)


def _listed(value: PredicateLike | Sequence[PredicateLike], what: str, tool_name: str) -> list[PredicateLike]:
    items = [value] if callable(value) else list(value)
    for item in items:
        if not callable(item):
            raise SpecError(
                f"@fx.tool({what}=...) on {tool_name}: {item!r} is not a predicate.\n"
                f"Fix: pass a function or lambda, e.g. {what}=lambda x: x > 0 (or a list of them)."
            )
    return items


def build_spec(
    fn: Callable[..., Any],
    hints: dict[str, Any],
    requires: PredicateLike | Sequence[PredicateLike],
    ensures: PredicateLike | Sequence[PredicateLike],
    effects: Iterable[type] | None,
    placement: str | None,
    invariants: PredicateLike | Sequence[PredicateLike],
) -> Spec:
    """Read a tool's spec from its decorator arguments, its signature and its type ``hints``."""
    name = fn.__qualname__
    signature = inspect.signature(fn)
    params = list(signature.parameters)
    for p in signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise SpecError(f"@fx.tool(...) on {name}: *{p.name} parameters cannot carry a spec; name each parameter.")
    types: dict[str, object] = {}
    constraints: dict[str, tuple[object, ...]] = {}
    refinements: list[Predicate] = []
    shaped: list[tuple[str, Shape]] = []
    where = _where_code(fn.__code__)
    for pname in [*params, "result"]:
        hint = hints.get("return" if pname == "result" else pname, object)
        base, metadata = _split_annotated(hint)
        types[pname] = base
        if metadata:
            constraints[pname] = metadata
            _check_bounds(name, pname, metadata)
            for c in metadata:
                if isinstance(c, Shape):  # the Shapes of all values are one check: they share symbols
                    shaped.append((pname, c))
                    continue
                expr = _constraint_expr(pname, c, name, params)
                names = _names_in(expr, [*params, "result"])
                refinements.append(Predicate("refinement", None, names, expr, where, expr))
    given = [(p, s) for p, s in shaped if p != "result"]
    for checked, before in [(given, []), ([(p, s) for p, s in shaped if p == "result"], given)]:
        if checked:
            shapes = ShapeCheck(name, checked, params, given=before)
            refinements.append(Predicate("refinement", shapes, shapes.names, shapes.source, where, shapes.inline))
    result_type = types.pop("result")
    declared: frozenset[type] | None = None
    if effects is not None:
        declared = frozenset(effects)
        for e in declared:
            if not is_effect_type(e):
                raise SpecError(
                    f"@fx.tool(effects=...) on {name}: {e!r} is not an effect type.\n"
                    f"Fix: list effect classes (subclasses of fx.Effect), e.g. effects=[fx.Get, fx.Put]."
                )
    if placement is not None and not isinstance(placement, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise SpecError(f"@fx.tool(placement=...) on {name}: expected a placement string, got {placement!r}")
    if placement is not None:
        from effectus.types._placement import parse_placement

        code = getattr(fn, "__code__", None)
        where = _where_code(code) if code is not None else name
        parse_placement(placement, where=f"{where} (placement of {name})")  # a malformed one fails here
    return Spec(
        name=name,
        signature=signature,
        types=types,
        result_type=result_type,
        requires=tuple(_predicate("requires", p, params, name) for p in _listed(requires, "requires", name)),
        ensures=tuple(_predicate("ensures", p, [*params, "result"], name) for p in _listed(ensures, "ensures", name)),
        invariants=tuple(_predicate("invariant", p, params, name) for p in _listed(invariants, "invariants", name)),
        refinements=tuple(refinements),
        constraints=constraints,
        effects=declared,
        placement=placement,
        where=where,
    )


def annotated_parts(hint: object) -> tuple[object, tuple[object, ...]]:
    """``Annotated[T, *metadata]`` as ``(T, metadata)``, grouped metadata (``Interval``,
    ``Len``) expanded into its parts; ``(hint, ())`` for anything else."""
    import annotated_types as at  # (not at `import effectus`: the stdlib-only import test)

    if typing.get_origin(hint) is not typing.Annotated:
        return hint, ()
    base, *metadata = typing.get_args(hint)
    flat: list[object] = []
    for m in metadata:
        if isinstance(m, at.GroupedMetadata):
            flat.extend(m)  # Interval, Len: their parts
        else:
            flat.append(m)
    return base, tuple(flat)


def _split_annotated(hint: object) -> tuple[object, tuple[object, ...]]:
    """The base type and the metadata a spec checks (annotated-types, `Length`, `Shape`)."""
    import annotated_types as at

    base, metadata = annotated_parts(hint)
    return base, tuple(m for m in metadata if isinstance(m, (at.BaseMetadata, Length, Shape)))


# annotated-types constraint -> (its field, the check it means)
_TEMPLATES: dict[str, tuple[str, str]] = {
    "Gt": ("gt", "{p} > {v}"),
    "Ge": ("ge", "{p} >= {v}"),
    "Lt": ("lt", "{p} < {v}"),
    "Le": ("le", "{p} <= {v}"),
    "MultipleOf": ("multiple_of", "{p} % {v} == 0"),
    "MinLen": ("min_length", "len({p}) >= {v}"),
    "MaxLen": ("max_length", "len({p}) <= {v}"),
}


def _constraint_expr(param: str, c: object, tool_name: str, params: list[str]) -> str:
    """The Python expression of one refinement of ``param``."""
    import annotated_types as at  # (not at `import effectus`: the stdlib-only import test)

    template = _TEMPLATES.get(type(c).__name__) if type(c).__module__ == at.__name__ else None
    if template is not None:
        field, text = template
        return text.format(p=param, v=repr(getattr(c, field)))
    match c:
        case Length(expr=expr):
            unknown = [n for n in _names_in(expr, None) if n not in params]
            if unknown:
                raise SpecError(
                    f"@fx.tool on {tool_name}: Length({expr!r}) on {param} names {', '.join(unknown)}, "
                    f"which {'is not a parameter' if len(unknown) == 1 else 'are not parameters'}.\n"
                    f"Fix: a length may name only the tool's parameters: {', '.join(params)}."
                )
            return f"len({param}) == ({expr})"
        case at.Predicate(func=func):
            return f"{_register_refinement(func)}({param})"
        case _:
            raise SpecError(f"@fx.tool on {tool_name}: unsupported refinement {c!r} on {param}")


# Predicate(...) refinements are called through names the generated checks can see.
_REFINEMENT_FUNCS: dict[str, Callable[[Any], object]] = {}


def _register_refinement(func: Callable[[Any], object]) -> str:
    key = f"_refine_{len(_REFINEMENT_FUNCS)}"
    for existing, f in _REFINEMENT_FUNCS.items():
        if f is func:
            return existing
    _REFINEMENT_FUNCS[key] = func
    return key


# annotated-types bound -> (its field, whether it bounds from below, whether inclusive)
_BOUNDS: dict[str, tuple[str, bool, bool]] = {
    "Gt": ("gt", True, False), "Ge": ("ge", True, True), "Lt": ("lt", False, False), "Le": ("le", False, True),
}


def _check_bounds(tool_name: str, param: str, constraints: tuple[object, ...]) -> None:
    """Refinements of one parameter that no number satisfies: an error now, not a vacuous tool."""
    import annotated_types as at  # (not at `import effectus`: the stdlib-only import test)

    lows: list[tuple[float, bool, object]] = []
    highs: list[tuple[float, bool, object]] = []
    for c in constraints:
        bound = _BOUNDS.get(type(c).__name__) if type(c).__module__ == at.__name__ else None
        if bound is None:
            continue
        field, lower, inclusive = bound
        value: object = getattr(c, field)
        if isinstance(value, (int, float)):
            (lows if lower else highs).append((float(value), inclusive, c))
    for low, low_inclusive, a in lows:
        for high, high_inclusive, b in highs:
            if low > high or (low == high and not (low_inclusive and high_inclusive)):
                raise SpecError(
                    f"@fx.tool on {tool_name}: the refinements of {param} contradict each other: "
                    f"{a!r}, {b!r} admit no value.\nFix: correct the bounds."
                )


def _names_in(expr: str, known: list[str] | None) -> tuple[str, ...]:
    names: list[str] = []
    for node in ast.walk(ast.parse(expr, mode="eval")):
        if isinstance(node, ast.Name) and node.id not in names and (known is None or node.id in known):
            names.append(node.id)
    return tuple(names)


def _where_code(code: CodeType) -> str:
    return f"{relative(code.co_filename)}:{code.co_firstlineno}"


def _predicate(kind: Kind, fn: PredicateLike, allowed: list[str], tool_name: str) -> Predicate:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        raise SpecError(f"@fx.tool({kind}=...) on {tool_name}: cannot read the parameters of {fn!r}") from None
    names = tuple(sig.parameters)
    unknown = [n for n in names if n not in allowed]
    if unknown:
        extra = " (only ensures may name `result`)" if "result" in unknown else ""
        raise SpecError(
            f"@fx.tool({kind}=...) on {tool_name}: the predicate {predicate_source(fn)!r} names "
            f"{', '.join(unknown)}, which {'is not a parameter' if len(unknown) == 1 else 'are not parameters'} "
            f"of {tool_name}{extra}.\n"
            f"Fix: name its parameters after the tool's: {', '.join(allowed)}."
        )
    code = getattr(fn, "__code__", None)
    where = _where_code(code) if isinstance(code, CodeType) else "<unknown>"
    node = predicate_node(fn)
    source = ast.unparse(node) if node is not None else _name_of(fn)
    return Predicate(kind, fn, names, source, where, _inline_expr(fn, names, node))


# --- predicate source -------------------------------------------------------------------------


def predicate_node(fn: PredicateLike) -> ast.expr | None:
    """The expression a lambda (or a one-``return`` def) computes, parsed from its source."""
    code = getattr(fn, "__code__", None)
    if not isinstance(code, CodeType):
        return None
    node = find_node(code, getattr(fn, "__globals__", None))
    if isinstance(node, ast.Lambda):
        return node.body
    return None if node is None else returned_expr(node)


def predicate_source(fn: PredicateLike) -> str:
    """The predicate's text (``0 < k <= len(xs)``), or its name when the source is not found."""
    node = predicate_node(fn)
    return ast.unparse(node) if node is not None else _name_of(fn)


def _name_of(fn: PredicateLike) -> str:
    return str(getattr(fn, "__qualname__", repr(fn)))


_SAFE_BUILTINS = frozenset({"len", "abs", "min", "max", "all", "any", "range", "sum", "int", "float", "bool", "round", "sorted", "tuple", "list", "set"})


def _inline_expr(fn: PredicateLike, names: tuple[str, ...], node: ast.expr | None) -> str | None:
    """The predicate's expression, when it can be pasted into the generated check as is: it
    reads only its parameters and unshadowed builtins, and defines no names of its own."""
    code = getattr(fn, "__code__", None)
    if node is None or not isinstance(code, CodeType) or code.co_freevars or getattr(fn, "__defaults__", None):
        return None
    globals_: dict[str, object] = getattr(fn, "__globals__", {})
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Lambda, ast.NamedExpr, ast.comprehension, ast.Await, ast.Yield, ast.YieldFrom)):
            return None
        if isinstance(sub, ast.Name):
            if sub.id in names:
                continue
            if sub.id in _SAFE_BUILTINS and sub.id not in globals_ and hasattr(builtins, sub.id):
                continue
            return None
    return f"({ast.unparse(node)})"


# --- the generated checks ---------------------------------------------------------------------

_GENERATED = __file__  # the generated checks are effectus' own frames: sites skip them


def compile_checks(spec: Spec, fn: Callable[..., Any]) -> tuple[Callable[..., Any], Callable[..., Any] | None]:
    """The precondition check (the tool's own signature; answers the bound arguments) and the
    postcondition check (``result, *arguments``; None when there is nothing to check)."""
    params = list(spec.signature.parameters.values())
    names = [p.name for p in params]
    namespace: dict[str, Any] = {"_fail": _fail, "_mistyped": _mistyped, "_spec": spec, **_REFINEMENT_FUNCS}
    header: list[str] = []
    for i, p in enumerate(params):
        if p.kind is p.KEYWORD_ONLY and (i == 0 or params[i - 1].kind is not p.KEYWORD_ONLY):
            header.append("*")
        header.append(p.name if p.default is p.empty else f"{p.name}=_d{i}")
        if p.default is not p.empty:
            namespace[f"_d{i}"] = p.default
        if p.kind is p.POSITIONAL_ONLY and (i + 1 == len(params) or params[i + 1].kind is not p.POSITIONAL_ONLY):
            header.append("/")

    def checks(preds: Sequence[Predicate], label: str, post: bool) -> list[str]:
        out: list[str] = []
        for j, pred in enumerate(preds):
            key = f"_{label}{j}"
            namespace[key] = pred
            namespace[f"{key}_fn"] = pred.fn
            test = pred.inline if pred.inline is not None else f"{key}_fn({', '.join(pred.names)})"
            values = "{" + ", ".join(f"{n!r}: {n}" for n in pred.names) + "}"
            # (A try block costs nothing in 3.11 until something raises.)
            out += [
                "    try:",
                f"        _ok = {test}",
                "    except Exception as _err:",
                "        _ok = _err",
                f"    if _ok is not True: _fail(_spec, {key}, {values}, _ok, {post})",
            ]
        return out

    pre_refine = [p for p in spec.refinements if "result" not in p.names]
    post_refine = [p for p in spec.refinements if "result" in p.names]
    pre_body = [
        *_type_checks(spec, namespace, names),
        *checks(pre_refine, "r", False),
        *checks(spec.requires, "q", False),
        *checks(spec.invariants, "i", False),
        f"    return ({''.join(n + ', ' for n in names)})",
    ]
    post_body = [
        *_type_checks(spec, namespace, ["result"]),
        *checks(post_refine, "s", True),
        *checks(spec.ensures, "e", True),
        *checks(spec.invariants, "j", True),
    ]
    sources = [f"def _pre({', '.join(header)}):\n" + "\n".join(pre_body)]
    if len(post_body) > 0:
        sources.append(f"def _post({', '.join(['result', *names])}):\n" + "\n".join(post_body))
    # Like dataclasses' __init__: one generated function per tool, compiled once.
    exec(compile("\n\n".join(sources), _GENERATED, "exec"), namespace)
    return namespace["_pre"], namespace.get("_post")


def _type_checks(spec: Spec, namespace: dict[str, Any], names: list[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        hint = spec.result_type if n == "result" else spec.types.get(n, object)
        test = _type_test(hint)
        if test is None:
            continue
        namespace[f"_t_{n}"] = test
        namespace[f"_h_{n}"] = hint
        # Plain classes are tested inline (isinstance is a builtin call, not a Python one).
        plain = hint is float or (isinstance(hint, type) and not getattr(hint, "__parameters__", ()))
        namespace[f"_c_{n}"] = (float, int) if hint is float else hint
        check = f"isinstance({n}, _c_{n})" if plain else f"_t_{n}({n})"
        out.append(f"    if not {check}: _mistyped(_spec, {n!r}, {n}, _h_{n})")
    return out


def _type_test(hint: object) -> Callable[[object], bool] | None:
    """A fast membership test for ``hint`` (None: anything goes)."""
    if hint is object or hint is typing.Any or hint is inspect.Parameter.empty:
        return None
    if hint is float:  # the numeric tower, as type checkers read it
        return lambda v: isinstance(v, (float, int))
    if isinstance(hint, type) and not getattr(hint, "__parameters__", ()):
        return lambda v: isinstance(v, hint)
    from beartype.door import is_bearable  # only tools with generic hints pay for beartype

    return lambda v: is_bearable(v, cast(Any, hint))


def _hint_name(hint: object) -> str:
    return hint.__qualname__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def _mistyped(spec: Spec, name: str, value: object, hint: object) -> None:
    post = name == "result"
    error = PostconditionError if post else PreconditionError
    raise error(
        f"{'result' if post else 'argument ' + name} of tool {spec.name} must be {_hint_name(hint)}, "
        f"got {value!r} (type={type(value).__qualname__})\n"
        f"  {_where(spec, post)}\n"
        f"Fix: {'return' if post else 'pass'} a value of type {_hint_name(hint)}."
    )


def _where(spec: Spec, post: bool) -> str:
    if post:  # the body has returned: its definition says which tool it was
        return f"returned by the tool defined at {spec.where}"
    return f"called at {caller_site()}"


def _fail(spec: Spec, pred: Predicate, values: dict[str, object], outcome: object, post: bool) -> None:
    """A check did not answer True: the predicate failed, raised, or answered a non-bool."""
    numpy_bool = type(outcome).__module__ == "numpy" and type(outcome).__name__ in ("bool", "bool_")
    if numpy_bool and bool(outcome):
        return  # numpy's True
    what = {"requires": "precondition", "ensures": "postcondition", "invariant": "invariant", "refinement": "refinement"}[pred.kind]
    shapes = pred.fn if isinstance(pred.fn, ShapeCheck) else None
    reason = shapes.explain(*values.values()) if shapes is not None else None
    if reason is not None:
        head = f"{what} of tool {spec.name} failed: {reason}\n  predicate: {pred.source}"
    elif isinstance(outcome, Exception):
        head = f"{what} of tool {spec.name} raised {type(outcome).__name__}: {outcome}\n  predicate: {pred.source}"
    elif outcome is False or numpy_bool:
        head = f"{what} of tool {spec.name} failed: {pred.source}"
    else:
        head = (
            f"{what} of tool {spec.name} answered {outcome!r} (type={type(outcome).__qualname__}), "
            f"not a bool: {pred.source}"
        )
    lines = [head]
    for name, value in values.items():
        shown = shapes is not None and hasattr(value, "shape")
        lines.append(f"  {name}.shape = {getattr(value, 'shape')!r}" if shown else f"  {name} = {value!r}")
    lines.append(f"  {_where(spec, post)}")
    lines.append(f"  predicate at {pred.where}")
    lines.append(
        "Fix: make the tool return a result that satisfies it, or correct the spec."
        if post
        else "Fix: call the tool with arguments that satisfy it, or check them before calling."
    )
    err = (PostconditionError if post else PreconditionError)("\n".join(lines))
    if isinstance(outcome, Exception):
        raise err from outcome
    raise err
