"""Placement strings parse to a `Placement` with every figure in base units, or fail with a
`PlacementError` whose caret points at the exact column that is wrong.

A placement says where a tool may run: ``on(gpu>=1, memory>=8GB).qos(responsive).replicas(3)``.
Keywords, resource and metric names, levels and units are case-insensitive; whitespace may
stand between any two tokens (a number and its unit included).  The grammar::

    placement   = clause { "." clause } ;
    clause      = on | qos | replicas | affinity | label ;
    on          = "on" "(" requirement { "," requirement } ")" ;         (* at most once *)
    requirement = resource [ op quantity ] ;                    (* bare: resource >= 1 *)
    resource    = "gpu" | "cpu" | "npu" | "memory" | "mem" | "network" | "disk" ;
    qos         = "qos" "(" ( level | bound ) { "," bound } ")" ;          (* at most once *)
    level       = "interactive" | "responsive" | "batch" ;
    bound       = ( "latency" | "response" | "throughput" | "availability" ) op quantity ;
    replicas    = "replicas" "(" digits ")" ;                  (* at least 1; at most once *)
    affinity    = ( "near" | "apart" ) "(" tool ")" ;
    tool        = name { "." name } ;      name = ( letter | "_" ) { letter | digit | "_" } ;
    label       = "label" "(" match { "," match } ")" ;
    match       = word ( "=" | "!=" ) word ;                 word = { letter | digit | "_.-" }- ;
    op          = ">=" | "<=" | ">" | "<" | "==" | "!=" ;
    quantity    = digits [ "." digits ] [ unit ] [ "/" "s" ] ;   (* no sign, exponent, leading dot *)
    unit        = "%" | "B" | "KB" | "MB" | "GB" | "TB" | "ms" | "s" | "min" | "h" ;

Which unit fits is decided per resource or metric: gpu/cpu/npu count (no unit), memory and
disk are sizes (unit required; bytes, 1KB = 1024B), network is a bandwidth (size unit, optional
``/s``; bytes per second), latency and response are times (unit required; milliseconds),
throughput is requests per second (no unit, optional ``/s``) and availability a percentage.
``%`` on a resource means a share of the node's capacity; percentages are stored as fractions.
Quantities are scaled exactly (`fractions.Fraction`) and rounded once, so ``str`` of a
placement parses back to the very same floats.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import NoReturn, TypeVar

from effectus.core._errors import PlacementError

__all__ = [
    "QOS_LEVELS", "RESOURCES", "Affinity", "Constraint", "LabelMatch", "Placement", "Qos",
    "QosBound", "Requirement", "parse_placement",
]

T = TypeVar("T")

RESOURCES: tuple[str, ...] = ("gpu", "cpu", "npu", "memory", "network", "disk")
#: level -> (latency ms, response ms, throughput per second)
QOS_LEVELS: dict[str, tuple[float, float, float]] = {
    "interactive": (100.0, 200.0, 1000.0),
    "responsive": (1000.0, 2000.0, 100.0),
    "batch": (10000.0, 30000.0, 10.0),
}
_METRICS = ("latency", "response", "throughput", "availability")
_CLAUSES = ("on", "qos", "replicas", "near", "apart", "label")
_KIND = {
    "gpu": "count", "cpu": "count", "npu": "count", "memory": "size", "disk": "size",
    "network": "bandwidth", "latency": "time", "response": "time", "throughput": "rate",
    "availability": "percent",
}
_SIZES = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}
_TIMES = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000}
_UNITS = {**_SIZES, **_TIMES, "%": 1}
_SIZE_LIST = [unit.upper() for unit in _SIZES]
_SIZE_UNITS, _TIME_UNITS = "B, KB, MB, GB or TB", "ms, s, min or h"
#: kind -> (the units it takes, what a missing unit is told or None, what a wrong one is told, an example)
_KINDS: dict[str, tuple[set[str], str | None, str, str]] = {
    "count": ({"%"}, None, "{name} counts {what} and takes no unit",
              "a count such as {name}{op}2, or a share of the node such as {name}{op}50%"),
    "size": ({*_SIZES, "%"}, "{name} needs a unit: " + _SIZE_UNITS, "{name} takes a size unit: " + _SIZE_UNITS,
             "a size such as {name}{op}8GB, or a share of the node such as {name}{op}50%"),
    "bandwidth": ({*_SIZES, "%"}, "{name} needs a unit: " + _SIZE_UNITS, "{name} takes a size unit (per second): "
                  + _SIZE_UNITS, "a bandwidth such as {name}{op}100MB/s, or a share of the node such as {name}{op}50%"),
    "time": (set(_TIMES), "{name} needs a time unit: " + _TIME_UNITS, "{name} takes a time unit: " + _TIME_UNITS,
             "a time such as {name}{op}10ms or {name}{op}2s"),
    "rate": (set(), None, "{name} counts requests per second and takes no unit",
             "requests per second such as {name}{op}100/s"),
    "percent": ({"%"}, "{name} needs a percentage (%)", "{name} takes a percentage (%)",
                "a percentage such as {name}{op}99.9%"),
}
_LEVEL_OR_BOUND = "interactive, responsive or batch, or a bound such as latency<10ms"
_WHOLE = "a whole number of at least 1, such as replicas(3)"
_CLAUSE_LIST = "one of: on(...), qos(...), replicas(...), near(...), apart(...), label(...)"
_CLAUSE_EXAMPLE = {
    "on": "on(gpu>=1, memory>=8GB)", "qos": "qos(interactive, latency<10ms)",
    "replicas": "replicas(3)", "near": "near(db.query)", "apart": "apart(db.query)",
    "label": "label(zone=a, tier!=spot)",
}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_LABEL = re.compile(r"[A-Za-z0-9_.-]+")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?")
_EXPONENT = re.compile(r"[eE][+-]?[0-9]")
_UNIT = re.compile(r"%|[A-Za-z]+")
_OP = re.compile(r">=|<=|==|!=|>|<")
_TOKEN = re.compile(r"[A-Za-z0-9_]+|>=|<=|==|!=|\S")  # what an error quotes as "got ..."
_MAX_DIGITS = 4000  # below int()'s limit on digits, far above any float's


@dataclass(frozen=True, slots=True, kw_only=True)
class Constraint:
    """One clause or term of a placement string, as the user wrote it (for messages and unsat cores)."""

    text: str
    column: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Requirement(Constraint):
    """A term of ``on(...)``: ``value`` in bytes, bytes per second or devices, or a fraction 0..1."""

    resource: str
    op: str
    value: float
    percent: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class QosBound(Constraint):
    """A bound inside ``qos(...)``: ``value`` in ms (latency, response), per second, or a fraction."""

    metric: str
    op: str
    value: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Qos(Constraint):
    """The ``qos(...)`` clause: an optional level and bounds; the properties give effective figures."""

    level: str | None
    bounds: tuple[QosBound, ...]

    def _figures(self, metric: str, ops: tuple[str, ...], index: int) -> list[float]:
        figures = [b.value for b in self.bounds if b.metric == metric and b.op in ops]
        if self.level is not None and index >= 0:
            figures.append(QOS_LEVELS[self.level][index])
        return figures

    @property
    def latency_ms(self) -> float | None:
        """The level's latency tightened by any ``<``/``<=`` bound; None when neither is given."""
        return min(self._figures("latency", ("<", "<="), 0), default=None)

    @property
    def response_ms(self) -> float | None:
        """The level's response time tightened by any ``<``/``<=`` bound; None when neither."""
        return min(self._figures("response", ("<", "<="), 1), default=None)

    @property
    def throughput(self) -> float | None:
        """The level's throughput raised by any ``>``/``>=`` bound; None when neither."""
        return max(self._figures("throughput", (">", ">="), 2), default=None)

    @property
    def availability(self) -> float | None:
        """The highest ``>``/``>=`` availability bound, as a fraction; None without one."""
        return max(self._figures("availability", (">", ">="), -1), default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Affinity(Constraint):
    """``near(tool)`` (run beside it) or ``apart(tool)`` (never on its node)."""

    kind: str
    tool: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelMatch(Constraint):
    """A term of ``label(...)``: the node's label ``key`` must equal (``=``) or differ from ``value``."""

    key: str
    op: str
    value: str


@dataclass(frozen=True, slots=True)
class Placement:
    """A parsed placement string; ``str`` gives its canonical text."""

    source: str
    requirements: tuple[Requirement, ...] = ()
    qos: Qos | None = None
    replicas: int = 1
    replicas_clause: Constraint | None = None
    affinities: tuple[Affinity, ...] = ()
    labels: tuple[LabelMatch, ...] = ()

    def constraints(self) -> tuple[Constraint, ...]:
        """Every term the user wrote (the qos clause itself when it names a level), in source order."""
        found: list[Constraint] = [*self.requirements]
        if self.qos is not None:
            found += [self.qos] if self.qos.level is not None else []
            found += self.qos.bounds
        found += [self.replicas_clause] if self.replicas_clause is not None else []
        found += [*self.affinities, *self.labels]
        return tuple(sorted(found, key=lambda c: c.column))

    def __str__(self) -> str:
        parts: list[str] = []
        if self.requirements:
            terms = (f"{r.resource}{r.op}{_spell(r.resource, r.value, r.percent)}" for r in self.requirements)
            parts.append(f"on({', '.join(terms)})")
        if self.qos is not None:
            head = [self.qos.level] if self.qos.level is not None else []
            bounds = (f"{b.metric}{b.op}{_spell(b.metric, b.value, b.metric == 'availability')}"
                      for b in self.qos.bounds)
            parts.append(f"qos({', '.join([*head, *bounds])})")
        if self.replicas_clause is not None or self.replicas != 1:
            parts.append(f"replicas({self.replicas})")
        parts += [f"{a.kind}({a.tool})" for a in self.affinities]
        if self.labels:
            parts.append(f"label({', '.join(f'{m.key}{m.op}{m.value}' for m in self.labels)})")
        return ".".join(parts)


def _scale(digits: str, factor: Fraction) -> float:
    return float(Fraction(digits) * factor)  # exact product, rounded once


def _digits(value: float, factor: Fraction) -> str | None:
    """The shortest decimal that scales by ``factor`` to exactly ``value``, written without exponent."""
    with localcontext() as ctx:
        ctx.prec = 2000  # holds a float's exact expansion: only the division may round, far out
        exact = Decimal(value) * factor.denominator / factor.numerator
    for precision in range(1, 40):
        text = format(Decimal(format(exact, f".{precision - 1}e")).normalize(), "f")
        if _scale(text, factor) == value:
            return text
    return None


def _spell(name: str, value: float, percent: bool) -> str:
    """``value`` in the unit that reads back as exactly ``value`` with the fewest digits."""
    kind = _KIND[name]
    units = {"size": _SIZES, "bandwidth": _SIZES, "time": _TIMES}.get(kind, {"": 1})
    spellings: list[tuple[int, int, str]] = []
    for unit, size in {"%": 1}.items() if percent else units.items():
        factor = Fraction(1, 100) if percent else Fraction(size)
        digits = _digits(value, factor) if value >= factor or factor <= 1 else None
        if digits is not None:
            unit = unit.upper() if kind in ("size", "bandwidth") else unit
            spellings.append((len(digits.replace(".", "").strip("0")), -size, digits + unit))
    return min(spellings)[2]  # never empty: at factor 1 (or %) 17 digits always do


def _suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    spelled = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(word.lower(), list(spelled), n=1)
    return f" — did you mean {spelled[close[0]]!r}?" if close else ""


class _Parser:
    """Recursive descent over the string; ``i`` is the offset of the next unread character."""

    def __init__(self, source: str, where: str | None) -> None:
        self.s, self.where = source, where
        self.i: int = 0
        self.seen: dict[str, int] = {}
        self.requirements: list[Requirement] = []
        self.qos: Qos | None = None
        self.replicas = 1
        self.replicas_clause: Constraint | None = None
        self.affinities: list[Affinity] = []
        self.labels: list[LabelMatch] = []

    def fail(self, start: int, end: int, what: str, expected: str) -> NoReturn:
        display = "".join(" " if c.isspace() else c for c in self.s)
        head = f"{self.where}: " if self.where else ""
        err = PlacementError(
            f"{head}placement {self.s!r}, column {start + 1}: {what}\n  {display}\n"
            f"  {' ' * start}{'^' * max(1, end - start)}\nexpected {expected}"
        )
        setattr(err, "column", start + 1)  # PlacementError itself declares neither attribute
        setattr(err, "source", self.s)
        raise err

    def ws(self) -> int:
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1
        return self.i

    def peek(self) -> str:
        return self.s[self.i : self.i + 1]

    def got(self, at: int) -> tuple[int, str]:
        """Where the token at ``at`` ends, and how a message names it."""
        m = _TOKEN.match(self.s, at)
        return (at + 1, "the end of the placement") if m is None else (m.end(), repr(m.group()))

    def unexpected(self, what: str, expected: str) -> NoReturn:
        end, got = self.got(self.i)
        self.fail(self.i, end, f"{what}, got {got}", expected)

    def placement(self) -> Placement:
        if self.ws() == len(self.s):
            self.fail(self.i, self.i, "empty placement", f"a clause such as {_CLAUSE_EXAMPLE['on']}")
        while True:
            start = self.i
            self.clause()
            if self.ws() == len(self.s):
                break
            if self.peek() != ".":
                self.unexpected(f"unexpected text after {self.s[start:self.i].strip()!r}",
                                "'.' and another clause, or the end of the placement")
            dot = self.i
            self.i += 1
            if self.ws() == len(self.s):
                self.fail(dot, dot + 1, "trailing '.'", "another clause after '.', or nothing")
            if self.peek() == ".":
                self.fail(self.i, self.i + 1, "doubled '.'", "one '.' between clauses")
        return Placement(self.s, tuple(self.requirements), self.qos, self.replicas,
                         self.replicas_clause, tuple(self.affinities), tuple(self.labels))

    def clause(self) -> None:
        start = self.i
        m = _WORD.match(self.s, start)
        if m is None:
            self.unexpected("expected a clause", _CLAUSE_LIST)
        word, name = m.group(), m.group().lower()
        if name not in _CLAUSES:
            self.fail(start, m.end(), f"unknown clause {word!r}", _CLAUSE_LIST + _suggest(word, _CLAUSES))
        if name in self.seen:
            self.fail(start, m.end(), f"{name}(...) is given twice (first at column {self.seen[name]})",
                      f"a single {name}(...): merge the two into one")
        if name in ("on", "qos", "replicas"):
            self.seen[name] = start + 1
        self.i = m.end()
        if self.ws() == len(self.s) or self.peek() != "(":
            self.unexpected(f"expected '(' after {word!r}", f"{name}(...), such as {_CLAUSE_EXAMPLE[name]}")
        self.i += 1
        if name == "on":
            self.requirements += self.items("on", "a requirement", self.requirement)
        elif name == "qos":
            self.qos = self.qos_clause(start)
        elif name == "replicas":
            self.replicas = self.replicas_count()
            self.replicas_clause = Constraint(text=self.s[start : self.i], column=start + 1)
        elif name == "label":
            self.labels += self.items("label", "a label match", self.label_match)
        else:
            self.affinities.append(self.affinity(name, start))

    def items(self, clause: str, what: str, item: Callable[[], T]) -> list[T]:
        """``item { "," item } ")"``, the opening parenthesis already read."""
        found: list[T] = []
        while True:
            if self.ws() < len(self.s) and self.peek() == ")":
                if found:
                    self.fail(self.i, self.i + 1, f"expected {what} after ','", f"{what} or no trailing ','")
                self.fail(self.i, self.i + 1, f"{clause}() is empty",
                          f"at least one term, such as {_CLAUSE_EXAMPLE[clause]}")
            start = self.i
            found.append(item())
            end = self.i
            if self.ws() < len(self.s) and self.peek() in ",)":
                self.i += 1
                if self.s[self.i - 1] == ")":
                    return found
                continue
            self.unexpected(f"expected ',' or ')' after {self.s[start:end]!r}",
                            f"',' before the next term, or ')' to close {clause}(...)")

    def requirement(self) -> Requirement:
        start = self.i
        m = _WORD.match(self.s, start)
        if m is None:
            self.unexpected("expected a resource", "one of: gpu, cpu, npu, memory (mem), network, disk")
        word = m.group()
        resource = "memory" if word.lower() == "mem" else word.lower()
        if resource not in RESOURCES:
            self.fail(start, m.end(), f"unknown resource {word!r}",
                      "one of: gpu, cpu, npu, memory (mem), network, disk" + _suggest(word, [*RESOURCES, "mem"]))
        self.i = m.end()
        self.ws()
        op = _OP.match(self.s, self.i)
        if op is None:
            if self.i == len(self.s) or self.peek() in ",)":
                self.i = m.end()
                return Requirement(text=word, column=start + 1, resource=resource, op=">=", value=1.0, percent=False)
            if self.peek() == "=" and not self.s.startswith("==", self.i):
                self.fail(self.i, self.i + 1, "'=' is not a comparison operator", "'==', or >=, <=, >, <, !=")
            self.unexpected(f"expected an operator after {word!r}",
                            f"one of >=, <=, >, <, ==, != (a bare {word} means {word}>=1)")
        self.i = op.end()
        value, percent = self.quantity(resource, op.group())
        return Requirement(text=self.s[start : self.i], column=start + 1, resource=resource,
                           op=op.group(), value=value, percent=percent)

    def quantity(self, name: str, op: str) -> tuple[float, bool]:
        kind = _KIND[name]
        takes, needs, misfit, example = _KINDS[kind]
        example = example.format(name=name, op=op)
        start = self.ws()
        sign = self.peek()
        if sign in ("-", "+"):
            m = _NUMBER.match(self.s, start + 1)
            end, text = (m.end(), sign + m.group()) if m else (start + 1, sign)
            what = "negative numbers are not allowed" if sign == "-" else "a number takes no sign"
            self.fail(start, end, f"{what}; got {text!r}", example)
        if sign == "." and self.s[start + 1 : start + 2].isdigit():
            self.fail(start, start + 1, "a number cannot start with '.'", f"a leading 0: 0{self.s[start:start + 2]}")
        m = _NUMBER.match(self.s, start)
        if m is None:
            self.unexpected(f"expected a number after {op!r}", example)
        digits = m.group()
        if digits.endswith("."):
            self.fail(m.end() - 1, m.end(), "expected digits after the decimal point", example)
        if len(digits) > _MAX_DIGITS:
            self.fail(start, m.end(), f"a number with more than {_MAX_DIGITS} digits", example)
        if _EXPONENT.match(self.s, m.end()):
            self.fail(m.end(), m.end() + 1, "exponents are not allowed", f"the number written out; {example}")
        self.i = m.end()
        unit_m = _UNIT.match(self.s, self.i) or _UNIT.match(self.s, self.ws())
        if unit_m is not None and (unit_m.start() == m.end() or unit_m.group().lower() in _UNITS):
            self.i = unit_m.end()
        else:
            self.i, unit_m = m.end(), None
        unit = unit_m.group().lower() if unit_m else None
        if unit_m is not None and unit not in _UNITS:
            units = {"time": list(_TIMES), "size": _SIZE_LIST, "bandwidth": _SIZE_LIST}.get(kind, ["%"])
            self.fail(unit_m.start(), unit_m.end(), f"unknown unit {unit_m.group()!r}",
                      example + _suggest(unit_m.group(), units))
        slash = self.per_second()
        if unit is not None and unit_m is not None and unit not in takes:
            misfit = misfit.format(name=name, what="cores" if name == "cpu" else "devices")
            self.fail(unit_m.start(), unit_m.end(), f"{misfit}; got {unit_m.group()!r}", example)
        if unit is None and needs is not None:
            self.fail(start, m.end(), needs.format(name=name), example)
        if slash is not None and (unit == "%" or kind not in ("bandwidth", "rate")):
            self.fail(slash, slash + 1, f"'/s' does not fit {name}", example)
        if unit == "%" and Fraction(digits) > 100:
            self.fail(start, self.i, f"a percentage is at most 100%; got {self.s[start:self.i]!r}", example)
        factor = Fraction(1, 100) if unit == "%" else Fraction(_UNITS.get(unit or "", 1))
        try:
            return _scale(digits, factor), unit == "%"
        except OverflowError:
            self.fail(start, self.i, "the number is too large", example)

    def per_second(self) -> int | None:
        """Reads an optional ``/s``; gives the slash's offset."""
        end = self.i
        slash = self.ws()
        if self.peek() != "/":
            self.i = end
            return None
        self.i += 1
        m = _WORD.match(self.s, self.ws())
        if m is None or m.group().lower() != "s":
            self.unexpected("expected 's' after '/'", "a rate such as 100MB/s or 100/s")
        self.i = m.end()
        return slash

    def qos_clause(self, start: int) -> Qos:
        level: list[str] = []

        def item() -> QosBound | None:
            at = self.i
            first = self.s[:at].rstrip().endswith("(")
            m = _WORD.match(self.s, at)
            if m is None:
                self.unexpected("expected a QoS level or bound", _LEVEL_OR_BOUND)
            word = m.group()
            self.i = m.end()
            self.ws()
            op = _OP.match(self.s, self.i)
            if op is None:
                self.i = m.end()
                if word.lower() in QOS_LEVELS and first:
                    level.append(word.lower())
                    return None
                if word.lower() in QOS_LEVELS:
                    self.fail(at, m.end(), f"the QoS level {word!r} must come first, and only once",
                              f"qos(level, bounds...), such as {_CLAUSE_EXAMPLE['qos']}")
                if word.lower() in _METRICS:
                    self.ws()
                    self.unexpected(f"expected an operator after {word!r}", "one of >=, <=, >, <, ==, !=")
                self.fail(at, m.end(), f"unknown QoS level {word!r}",
                          _LEVEL_OR_BOUND + _suggest(word, [*QOS_LEVELS, *_METRICS]))
            metric = word.lower()
            if metric not in _METRICS:
                self.fail(at, m.end(), f"unknown QoS metric {word!r}",
                          "one of: latency, response, throughput, availability" + _suggest(word, _METRICS))
            self.i = op.end()
            value, _ = self.quantity(metric, op.group())
            return QosBound(text=self.s[at : self.i], column=at + 1, metric=metric, op=op.group(), value=value)

        bounds = tuple(b for b in self.items("qos", "a bound", item) if b is not None)
        return Qos(text=self.s[start : self.i], column=start + 1, level=level[0] if level else None, bounds=bounds)

    def replicas_count(self) -> int:
        at = self.ws()
        m = _NUMBER.match(self.s, at)
        if self.peek() in (")", "-") or m is None:
            what = {")": "replicas() is empty", "-": "negative numbers are not allowed"}.get(self.peek())
            if what is not None:
                self.fail(at, at + 1, what, _WHOLE)
            self.unexpected("expected the number of replicas", _WHOLE)
        if "." in m.group() or len(m.group()) > _MAX_DIGITS:
            self.fail(at, m.end(), f"replicas must be a whole number; got {m.group()!r}", _WHOLE)
        if int(m.group()) == 0:
            self.fail(at, m.end(), "replicas must be at least 1; got 0", _WHOLE)
        self.i = m.end()
        self.close("replicas", "the number of replicas")
        return int(m.group())

    def affinity(self, kind: str, start: int) -> Affinity:
        m = _TOOL.match(self.s, self.ws())
        if m is None:
            expected = f"a tool's dotted name, such as {_CLAUSE_EXAMPLE[kind]}"
            if self.peek() == ")":
                self.fail(self.i, self.i + 1, f"{kind}() is empty", expected)
            self.unexpected("expected a tool name", expected)
        self.i = m.end()
        if self.ws() < len(self.s) and self.peek() == ",":
            self.fail(self.i, self.i + 1, f"{kind}(...) takes one tool", f"one clause per tool: {kind}(a).{kind}(b)")
        self.close(kind, "the tool name")
        return Affinity(text=self.s[start : self.i], column=start + 1, kind=kind, tool=m.group())

    def close(self, clause: str, after: str) -> None:
        if self.ws() == len(self.s) or self.peek() != ")":
            self.unexpected(f"expected ')' after {after}", f"')' to close {clause}(...)")
        self.i += 1

    def label_match(self) -> LabelMatch:
        at = self.i
        key = _LABEL.match(self.s, at)
        if key is None:
            self.unexpected("expected a label key", "key=value or key!=value, such as label(zone=a)")
        self.i = key.end()
        self.ws()
        op = "=" if self.peek() == "=" else "!=" if self.s.startswith("!=", self.i) else None
        if op is None or self.s.startswith("==", self.i):
            self.unexpected(f"expected '=' or '!=' after label key {key.group()!r}",
                            f"{key.group()}=value or {key.group()}!=value")
        self.i += len(op)
        value = _LABEL.match(self.s, self.ws())
        if value is None:
            self.unexpected(f"expected a label value after {op!r}", "letters, digits, '_', '.' or '-': label(zone=a)")
        self.i = value.end()
        return LabelMatch(text=self.s[at : self.i], column=at + 1, key=key.group(), op=op, value=value.group())


def parse_placement(text: str, *, where: str | None = None) -> Placement:
    """Parses a placement string.

    Figures come out in base units: bytes, bytes per second, milliseconds, requests per second,
    device counts; percentages as fractions 0..1.  A bare resource (``on(gpu)``) means ``>=1``.

    Args:
        text: the placement, such as ``"on(gpu>=1, memory>=8GB).qos(interactive)"``.
        where: where it was written (``"app.py:12"``), to start error messages with.

    Returns:
        The `Placement`; ``str`` of it is canonical text that parses back to an equal one.

    Raises:
        PlacementError: the string is malformed; the message points at the column, which is
            also the error's ``column`` attribute (1-based; ``source`` holds the string).
        TypeError: ``text`` is not a string.

    >>> p = parse_placement("on(gpu>=1, mem >= 1.5GB).qos(interactive, latency<10ms).replicas(3)")
    >>> p.requirements[1].resource, p.requirements[1].value == 1.5 * 1024**3
    ('memory', True)
    >>> p.qos.latency_ms, p.qos.response_ms, p.replicas
    (10.0, 200.0, 3)
    >>> str(p)
    'on(gpu>=1, memory>=1.5GB).qos(interactive, latency<10ms).replicas(3)'
    >>> parse_placement("on(gpu>=1, memry>=8GB)")
    Traceback (most recent call last):
    ...
    effectus.PlacementError: placement 'on(gpu>=1, memry>=8GB)', column 12: unknown resource 'memry'
      on(gpu>=1, memry>=8GB)
                 ^^^^^
    expected one of: gpu, cpu, npu, memory (mem), network, disk — did you mean 'memory'?
    """
    if not isinstance(text, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"parse_placement expects a str, got {type(text).__name__} ({text!r})")
    try:
        return _Parser(text, where).placement()
    except PlacementError as err:
        raise err.with_traceback(None) from None  # the user's frame is the last one shown
