"""The placement language: each clause parses to exact base-unit figures, ``str`` round-trips,
and every malformed string fails with a `PlacementError` whose caret sits on the bad column."""

from __future__ import annotations

import traceback

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import effectus as fx
from effectus.core._errors import PlacementError
from effectus.types._placement import (
    QOS_LEVELS,
    RESOURCES,
    Affinity,
    Constraint,
    LabelMatch,
    Placement,
    Qos,
    QosBound,
    Requirement,
    parse_placement,
)

KB, MB, GB, TB = 1024, 1024**2, 1024**3, 1024**4
Semantics = tuple[object, ...]


def semantic(p: Placement) -> Semantics:
    """The fields that carry meaning: everything but ``source``, ``text`` and ``column``."""
    qos = None if p.qos is None else (p.qos.level, tuple((b.metric, b.op, b.value) for b in p.qos.bounds))
    return (
        tuple((r.resource, r.op, r.value, r.percent) for r in p.requirements),
        qos,
        p.replicas,
        p.replicas_clause is not None,
        tuple((a.kind, a.tool) for a in p.affinities),
        tuple((m.key, m.op, m.value) for m in p.labels),
    )


def requirements(text: str) -> list[tuple[str, str, float, bool]]:
    return [(r.resource, r.op, r.value, r.percent) for r in parse_placement(text).requirements]


def bounds(text: str) -> list[tuple[str, str, float]]:
    qos = parse_placement(text).qos
    assert qos is not None
    return [(b.metric, b.op, b.value) for b in qos.bounds]


# --- the examples --------------------------------------------------------------------------


def test_on_with_a_count_and_a_size() -> None:
    """``on(gpu>=1, memory>=8GB)`` gives two requirements, 8GB in bytes, and nothing else."""
    p = parse_placement("on(gpu>=1, memory>=8GB)")
    assert requirements(p.source) == [("gpu", ">=", 1.0, False), ("memory", ">=", 8.0 * GB, False)]
    assert (p.qos, p.replicas, p.replicas_clause, p.affinities, p.labels) == (None, 1, None, (), ())
    assert [(r.text, r.column) for r in p.requirements] == [("gpu>=1", 4), ("memory>=8GB", 12)]


def test_on_then_a_qos_level() -> None:
    """``on(gpu>=1).qos(responsive)`` keeps the level and no bounds; the clause text is as written."""
    p = parse_placement("on(gpu>=1).qos(responsive)")
    assert p.qos is not None
    assert (p.qos.level, p.qos.bounds, p.qos.text, p.qos.column) == ("responsive", (), "qos(responsive)", 12)


def test_a_bare_resource_means_at_least_one_and_mem_is_memory() -> None:
    """``on(gpu, mem>=8GB)``: bare ``gpu`` is ``gpu>=1``; ``mem`` is the canonical ``memory``."""
    p = parse_placement("on(gpu, mem>=8GB)")
    assert requirements(p.source) == [("gpu", ">=", 1.0, False), ("memory", ">=", 8.0 * GB, False)]
    assert [r.text for r in p.requirements] == ["gpu", "mem>=8GB"]


def test_the_full_example() -> None:
    """The four-clause example: 1.5GB exactly in bytes, 10ms, 3 replicas, and its canonical text."""
    text = "on(gpu>=1, memory>=1.5GB).qos(interactive, latency<10ms).replicas(3)"
    p = parse_placement(text)
    assert requirements(text) == [("gpu", ">=", 1.0, False), ("memory", ">=", 1.5 * GB, False)]
    assert p.qos is not None and p.qos.level == "interactive"
    assert bounds(text) == [("latency", "<", 10.0)]
    assert p.replicas == 3
    assert p.replicas_clause == Constraint(text="replicas(3)", column=58)
    assert str(p) == text


def test_qos_level_with_bounds_and_a_lone_replicas() -> None:
    """A qos clause may hold a level and several bounds; ``replicas(3)`` may stand alone."""
    text = "qos(batch, latency<2min, throughput>=50/s, availability>=99.9%)"
    assert bounds(text)[:2] == [("latency", "<", 120000.0), ("throughput", ">=", 50.0)]
    metric, op, value = bounds(text)[2]
    assert (metric, op) == ("availability", ">=") and value == pytest.approx(0.999)
    assert parse_placement("replicas(3)").replicas == 3


def test_affinities_keep_dotted_tool_names_in_order() -> None:
    """near/apart take a dotted or plain tool name, may repeat, and keep their order."""
    p = parse_placement("near(examples.inference.classify).apart(classify).near(db)")
    assert [(a.kind, a.tool) for a in p.affinities] == [
        ("near", "examples.inference.classify"), ("apart", "classify"), ("near", "db"),
    ]
    assert p.affinities[1] == Affinity(text="apart(classify)", column=35, kind="apart", tool="classify")


def test_labels_match_equal_or_differ_and_may_repeat() -> None:
    """``label(zone=a, tier!=spot)`` gives two matches; a second label clause adds to them."""
    p = parse_placement("label(zone=a, tier!=spot).label(rack=r-1.2)")
    assert [(m.key, m.op, m.value) for m in p.labels] == [
        ("zone", "=", "a"), ("tier", "!=", "spot"), ("rack", "=", "r-1.2"),
    ]
    assert p.labels[1] == LabelMatch(text="tier!=spot", column=15, key="tier", op="!=", value="spot")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("on(memory>=1B)", ("memory", ">=", 1.0, False)),
        ("on(memory>=1KB)", ("memory", ">=", 1024.0, False)),
        ("on(mem<=3MB)", ("memory", "<=", 3.0 * MB, False)),
        ("on(disk>2TB)", ("disk", ">", 2.0 * TB, False)),
        ("on(disk==0.25kb)", ("disk", "==", 256.0, False)),
        ("on(network>=100MB)", ("network", ">=", 100.0 * MB, False)),
        ("on(network>=100MB/s)", ("network", ">=", 100.0 * MB, False)),
        ("on(network!=1gb)", ("network", "!=", 1.0 * GB, False)),
        ("on(gpu>=0.5)", ("gpu", ">=", 0.5, False)),
        ("on(npu<4)", ("npu", "<", 4.0, False)),
        ("on(cpu>=50%)", ("cpu", ">=", 0.5, True)),
        ("on(memory<=25%)", ("memory", "<=", 0.25, True)),
        ("on(network>=100%)", ("network", ">=", 1.0, True)),
    ],
)
def test_resource_units_scale_to_base_units(text: str, expected: tuple[str, str, float, bool]) -> None:
    """Sizes are 1024-based bytes, rates bytes per second, counts devices, percentages fractions."""
    assert requirements(text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("qos(latency<10ms)", ("latency", "<", 10.0)),
        ("qos(latency<10Ms)", ("latency", "<", 10.0)),
        ("qos(latency<=1.5s)", ("latency", "<=", 1500.0)),
        ("qos(latency<2min)", ("latency", "<", 120000.0)),
        ("qos(response<1H)", ("response", "<", 3600000.0)),
        ("qos(throughput>=50)", ("throughput", ">=", 50.0)),
        ("qos(throughput>=50/s)", ("throughput", ">=", 50.0)),
        ("qos(availability>=50%)", ("availability", ">=", 0.5)),
    ],
)
def test_qos_units_scale_to_base_units(text: str, expected: tuple[str, str, float]) -> None:
    """Times come out in milliseconds, throughput per second, availability as a fraction."""
    assert bounds(text) == [expected]


def test_keywords_names_and_units_are_case_insensitive() -> None:
    """Upper-case keywords, resources, levels and units mean the same as lower-case ones."""
    upper = parse_placement("ON(GPU>=1, MEM>=2Gb).QOS(BATCH, LATENCY<1MIN).REPLICAS(2).NEAR(Db).LABEL(Zone=A)")
    lower = parse_placement("on(gpu>=1, memory>=2GB).qos(batch, latency<1min).replicas(2).near(Db).label(Zone=A)")
    assert semantic(upper) == semantic(lower)
    assert upper.affinities[0].tool == "Db" and upper.labels[0].value == "A"  # names keep their case


def test_terms_keep_the_text_as_written() -> None:
    """A term's text is the user's own spelling, spaces inside included, stripped at the ends."""
    p = parse_placement("on( mem >= 1.5 gb , network>=100 MB / s ).qos( latency < 10 Ms )")
    assert [(r.text, r.column) for r in p.requirements] == [("mem >= 1.5 gb", 5), ("network>=100 MB / s", 21)]
    assert p.qos is not None and p.qos.bounds[0].text == "latency < 10 Ms"
    assert p.qos.text == "qos( latency < 10 Ms )"
    assert str(p) == "on(memory>=1.5GB, network>=100MB).qos(latency<10ms)"


# --- QoS levels ------------------------------------------------------------------------------


def test_qos_level_figures() -> None:
    """The three levels carry the documented latency, response time and throughput."""
    assert QOS_LEVELS == {
        "interactive": (100.0, 200.0, 1000.0),
        "responsive": (1000.0, 2000.0, 100.0),
        "batch": (10000.0, 30000.0, 10.0),
    }
    for level, figures in [("interactive", (100, 200, 1000, None)), ("responsive", (1000, 2000, 100, None)),
                           ("batch", (10000, 30000, 10, None))]:
        qos = parse_placement(f"qos({level})").qos
        assert qos is not None
        assert (qos.latency_ms, qos.response_ms, qos.throughput, qos.availability) == figures


def test_bounds_tighten_the_level() -> None:
    """Upper bounds lower latency/response below the level; lower bounds raise throughput."""
    qos = parse_placement(
        "qos(interactive, latency<=50ms, latency<80ms, response<500ms, throughput>=2000, availability>=99%)"
    ).qos
    assert qos is not None
    assert (qos.latency_ms, qos.response_ms, qos.throughput) == (50.0, 200.0, 2000.0)
    assert qos.availability == pytest.approx(0.99)


def test_bounds_in_the_wrong_direction_do_not_loosen_the_level() -> None:
    """``latency>5ms`` and ``throughput<3`` are not the bounds that set the effective figures."""
    qos = parse_placement("qos(batch, latency>5ms, throughput<3, availability<=50%)").qos
    assert qos is not None
    assert (qos.latency_ms, qos.throughput, qos.availability) == (10000.0, 10.0, None)


def test_bounds_without_a_level() -> None:
    """Without a level only the given bounds count; the others are None."""
    qos = parse_placement("qos(latency<5ms, availability>=90%, availability>99%)").qos
    assert qos is not None
    assert (qos.latency_ms, qos.response_ms, qos.throughput) == (5.0, None, None)
    assert qos.availability == pytest.approx(0.99)


# --- the data model ------------------------------------------------------------------------


def test_constraints_come_in_source_order() -> None:
    """constraints() lists every term by column, the qos clause itself only when it has a level."""
    p = parse_placement("label(zone=a).near(db).replicas(2).qos(batch, latency<1s).on(gpu).apart(x)")
    assert [(c.text, c.column) for c in p.constraints()] == [
        ("zone=a", 7), ("near(db)", 15), ("replicas(2)", 24), ("qos(batch, latency<1s)", 36),
        ("latency<1s", 47), ("gpu", 62), ("apart(x)", 67),
    ]
    levelless = parse_placement("qos(latency<1s).on(cpu)")
    assert [type(c) for c in levelless.constraints()] == [QosBound, Requirement]


def test_str_is_canonical() -> None:
    """str() writes one canonical form: spaces gone, mem spelled memory, largest exact unit."""
    p = parse_placement(" on ( mem>=2048MB , gpu ) . qos ( latency<1500ms , throughput>=7/s ) . replicas ( 2 ) ")
    assert str(p) == "on(memory>=2GB, gpu>=1).qos(latency<1.5s, throughput>=7).replicas(2)"
    assert str(parse_placement("label(a=b).near(t).label(c!=d)")) == "near(t).label(a=b, c!=d)"


def test_a_placement_built_by_hand_renders() -> None:
    """A Placement made in code (not parsed) renders to text that parses back to it."""
    p = Placement(
        "",
        requirements=(Requirement(text="", column=0, resource="disk", op="<", value=3 * MB, percent=False),),
        qos=Qos(text="", column=0, level=None,
                bounds=(QosBound(text="", column=0, metric="response", op="<", value=60000.0),)),
        replicas=4,
    )
    assert str(p) == "on(disk<3MB).qos(response<1min).replicas(4)"
    back = parse_placement(str(p))
    assert semantic(back)[:3] == semantic(p)[:3] and back.replicas_clause is not None


def test_where_prefixes_the_message_and_error_attributes_are_set() -> None:
    """``where=`` starts the message; the error carries column and source, and is a ValueError."""
    with pytest.raises(fx.PlacementError) as info:
        parse_placement("on(gpu>=1, memry>=8GB)", where="app.py:12")
    assert str(info.value).startswith("app.py:12: placement 'on(gpu>=1, memry>=8GB)', column 12: ")
    assert isinstance(info.value, ValueError)
    assert (getattr(info.value, "column"), getattr(info.value, "source")) == (12, "on(gpu>=1, memry>=8GB)")


def test_the_error_message_shows_what_where_and_what_to_do() -> None:
    """The message names the problem and column, quotes the string, carets it, says what fits."""
    with pytest.raises(PlacementError) as info:
        parse_placement("on(gpu>=1, memry>=8GB)")
    assert str(info.value) == (
        "placement 'on(gpu>=1, memry>=8GB)', column 12: unknown resource 'memry'\n"
        "  on(gpu>=1, memry>=8GB)\n"
        "             ^^^^^\n"
        "expected one of: gpu, cpu, npu, memory (mem), network, disk — did you mean 'memory'?"
    )
    frames = traceback.extract_tb(info.value.__traceback__)
    assert frames[0].name == "test_the_error_message_shows_what_where_and_what_to_do"


def test_the_caret_stays_aligned_past_tabs_and_newlines() -> None:
    """Whitespace in the source is shown as spaces so the caret still sits under the column."""
    with pytest.raises(PlacementError) as info:
        parse_placement("on(gpu)\n\t.qos(fast)")
    lines = str(info.value).splitlines()
    assert lines[1] == "  on(gpu)  .qos(fast)" and lines[2] == "  " + " " * 14 + "^^^^"


def test_close_misspellings_are_suggested() -> None:
    """Unknown clauses, metrics, levels and units come with a did-you-mean when one is close."""
    for text, suggestion in [("onn(gpu)", "'on'"), ("qos(latncy<1s)", "'latency'"), ("qos(bach)", "'batch'"),
                             ("on(memory>=1GBB)", "'GB'"), ("repliacs(2)", "'replicas'")]:
        with pytest.raises(PlacementError, match=f"did you mean {suggestion}"):
            parse_placement(text)


def test_non_strings_are_a_type_error() -> None:
    """Bytes or None are not placement strings: TypeError, not PlacementError."""
    for bad in (b"on(gpu)", None, 3):
        with pytest.raises(TypeError, match="expects a str") as info:
            parse_placement(bad)  # type: ignore[arg-type]
        assert not isinstance(info.value, PlacementError)


ERRORS = [
    ("", 1, "empty placement"),
    ("   ", 4, "empty placement"),
    ("onn(gpu)", 1, "unknown clause 'onn'"),
    ("(gpu)", 1, "expected a clause"),
    (".on(gpu)", 1, "expected a clause"),
    ("on gpu>=1)", 4, "expected '(' after 'on'"),
    ("on", 3, "expected '(' after 'on'"),
    ("on(gpu>=1", 10, "expected ',' or ')' after 'gpu>=1'"),
    ("on(gpu>=1 mem>=8GB)", 11, "expected ',' or ')'"),
    ("on(gpu>=1,)", 11, "expected a requirement after ','"),
    ("on(>=1)", 4, "expected a resource"),
    ("on(gpu>=)", 9, "expected a number after '>='"),
    ("on(gpu 1)", 8, "expected an operator after 'gpu'"),
    ("on(gpu=1)", 7, "'=' is not a comparison"),
    ("on(gpu>=1) x", 12, "unexpected text after 'on(gpu>=1)'"),
    ("on(gpu>=1)x", 11, "unexpected text"),
    ("on(gpu) qos(batch)", 9, "unexpected text"),
    ("on(gpu>=1).", 11, "trailing '.'"),
    ("on(gpu>=1). ", 11, "trailing '.'"),
    ("on(gpu>=1)..qos(batch)", 12, "doubled '.'"),
    ("on(gpu>=1). .qos(batch)", 13, "doubled '.'"),
    ("on(memry>=8GB)", 4, "unknown resource 'memry'"),
    ("qos(latncy<10ms)", 5, "unknown QoS metric 'latncy'"),
    ("qos(batch<3)", 5, "unknown QoS metric 'batch'"),
    ("qos(interactiv)", 5, "unknown QoS level 'interactiv'"),
    ("qos(latency<10ms, batch)", 19, "must come first"),
    ("qos(batch, batch)", 12, "must come first"),
    ("qos(latency)", 12, "expected an operator after 'latency'"),
    ("qos(latency 10ms)", 13, "expected an operator after 'latency'"),
    ("on(memory>=8XB)", 13, "unknown unit 'XB'"),
    ("qos(latency<3m)", 14, "unknown unit 'm'"),
    ("on(gpu>=8GB)", 10, "gpu counts devices and takes no unit; got 'GB'"),
    ("on(cpu>=2s)", 10, "cpu counts cores and takes no unit; got 's'"),
    ("on(gpu>=1 GB)", 11, "takes no unit; got 'GB'"),
    ("qos(latency<10GB)", 15, "latency takes a time unit: ms, s, min or h; got 'GB'"),
    ("qos(latency<10%)", 15, "latency takes a time unit"),
    ("on(memory>=8ms)", 13, "memory takes a size unit: B, KB, MB, GB or TB; got 'ms'"),
    ("qos(throughput>=5%)", 18, "throughput counts requests per second and takes no unit"),
    ("qos(availability>=99ms)", 21, "availability takes a percentage"),
    ("on(memory>=8)", 12, "memory needs a unit: B, KB, MB, GB or TB"),
    ("on(disk>=8)", 10, "disk needs a unit"),
    ("on(network>=100/s)", 13, "network needs a unit"),
    ("qos(latency<10)", 13, "latency needs a time unit"),
    ("qos(availability>=99)", 19, "availability needs a percentage"),
    ("on(memory>=8GB/s)", 15, "'/s' does not fit memory"),
    ("on(network>=50%/s)", 16, "'/s' does not fit network"),
    ("on(network>=1MB/x)", 17, "expected 's' after '/'"),
    ("on(gpu>=-1)", 9, "negative numbers are not allowed; got '-1'"),
    ("on(gpu>= -1)", 10, "negative"),
    ("on(gpu>=+1)", 9, "no sign"),
    ("on(gpu>=.5)", 9, "cannot start with '.'"),
    ("on(gpu>=1.)", 10, "digits after the decimal point"),
    ("on(gpu>=1e3)", 10, "exponents are not allowed"),
    ("on(gpu>=150%)", 9, "at most 100%"),
    ("qos(availability>=100.1%)", 19, "at most 100%"),
    ("on(gpu>=1" + "0" * 400 + ")", 9, "too large"),
    ("on(gpu).on(cpu)", 9, "on(...) is given twice (first at column 1)"),
    ("qos(batch).replicas(2).qos(batch)", 24, "qos(...) is given twice (first at column 1)"),
    ("replicas(1).replicas(2)", 13, "merge the two into one"),
    ("on()", 4, "on() is empty"),
    ("qos( )", 6, "qos() is empty"),
    ("label()", 7, "label() is empty"),
    ("label(zone)", 11, "expected '=' or '!=' after label key 'zone'"),
    ("label(zone==a)", 11, "expected '=' or '!='"),
    ("label(zone=)", 12, "expected a label value after '='"),
    ("label(=a)", 7, "expected a label key"),
    ("replicas(0)", 10, "at least 1"),
    ("replicas(1.5)", 10, "whole number"),
    ("replicas()", 10, "replicas() is empty"),
    ("replicas(-2)", 10, "negative"),
    ("replicas(x)", 10, "expected the number of replicas"),
    ("replicas(3", 11, "expected ')' after the number of replicas"),
    ("replicas(3 4)", 12, "expected ')'"),
    ("near()", 6, "near() is empty"),
    ("near(a, b)", 7, "takes one tool"),
    ("apart(1abc)", 7, "expected a tool name"),
    ("apart(a.)", 8, "expected ')' after the tool name"),
    ("on(gpu)\tx", 9, "unexpected text"),
]


@pytest.mark.parametrize(("text", "column", "phrase"), ERRORS, ids=[repr(e[0])[:40] for e in ERRORS])
def test_malformed_placements_point_at_the_column(text: str, column: int, phrase: str) -> None:
    """Each malformed string raises PlacementError naming the problem at its exact column."""
    with pytest.raises(PlacementError) as info:
        parse_placement(text)
    message = str(info.value)
    assert phrase in message
    assert f", column {column}: " in message.splitlines()[0]
    assert getattr(info.value, "column") == column
    assert message.splitlines()[2].startswith("  " + " " * (column - 1) + "^")
    assert message.splitlines()[3].startswith("expected ")


# --- properties ------------------------------------------------------------------------------

OPS = st.sampled_from([">=", "<=", ">", "<", "==", "!="])
AMOUNTS = st.floats(min_value=0, max_value=1e300, allow_nan=False, allow_infinity=False)
FRACTIONS = st.floats(min_value=0, max_value=1, allow_nan=False)
NAME = r"[A-Za-z_][A-Za-z0-9_]{0,5}"
TOOLS = st.from_regex(rf"{NAME}(\.{NAME}){{0,2}}", fullmatch=True)
WORDS = st.from_regex(r"[A-Za-z0-9_.-]{1,6}", fullmatch=True)


@st.composite
def requirement_asts(draw: st.DrawFn) -> Requirement:
    percent = draw(st.booleans())
    return Requirement(text="", column=0, resource=draw(st.sampled_from(RESOURCES)), op=draw(OPS),
                       value=draw(FRACTIONS if percent else AMOUNTS), percent=percent)


@st.composite
def qos_asts(draw: st.DrawFn) -> Qos:
    level = draw(st.none() | st.sampled_from(sorted(QOS_LEVELS)))
    found: list[QosBound] = []
    for _ in range(draw(st.integers(0 if level else 1, 3))):
        metric = draw(st.sampled_from(["latency", "response", "throughput", "availability"]))
        value = draw(FRACTIONS if metric == "availability" else AMOUNTS)
        found.append(QosBound(text="", column=0, metric=metric, op=draw(OPS), value=value))
    return Qos(text="", column=0, level=level, bounds=tuple(found))


@st.composite
def placement_asts(draw: st.DrawFn) -> Placement:
    replicas = draw(st.none() | st.integers(1, 10**6))
    p = Placement(
        "",
        requirements=tuple(draw(st.lists(requirement_asts(), max_size=4))),
        qos=draw(st.none() | qos_asts()),
        replicas=replicas or 1,
        replicas_clause=None if replicas is None else Constraint(text="", column=0),
        affinities=tuple(
            Affinity(text="", column=0, kind=kind, tool=tool)
            for kind, tool in draw(st.lists(st.tuples(st.sampled_from(["near", "apart"]), TOOLS), max_size=3))
        ),
        labels=tuple(
            LabelMatch(text="", column=0, key=key, op=op, value=value)
            for key, op, value in draw(st.lists(st.tuples(WORDS, st.sampled_from(["=", "!="]), WORDS), max_size=3))
        ),
    )
    if not str(p):  # a placement with no clause at all has no text
        return Placement("", replicas=2, replicas_clause=Constraint(text="", column=0))
    return p


@settings(max_examples=300, deadline=None)
@given(placement_asts())
def test_str_then_parse_gives_the_same_placement(p: Placement) -> None:
    """Rendering any placement and parsing the text back gives the same figures, exactly."""
    text = str(p)
    back = parse_placement(text)
    assert semantic(back) == semantic(p)
    assert str(back) == text


def check_error(text: str) -> None:
    """``text`` parses, or fails with a PlacementError whose column and caret lie in the string."""
    try:
        parse_placement(text)
    except PlacementError as err:
        column = getattr(err, "column")
        assert 1 <= column <= len(text) + 1
        assert getattr(err, "source") == text
        assert str(err).splitlines()[2].startswith("  " + " " * (column - 1) + "^")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | st.text(alphabet="on(gpu>=1, mem<8GB).qos%/s!=label:near 0.5", max_size=60))
def test_arbitrary_text_parses_or_raises_placement_error(text: str) -> None:
    """No string makes the parser raise anything but PlacementError, with an in-range column."""
    check_error(text)


VALID = [
    "on(gpu>=1, memory>=8GB)", "on(gpu>=1).qos(responsive)", "on(gpu, mem>=8GB)",
    "on(gpu>=1, memory>=1.5GB).qos(interactive, latency<10ms).replicas(3)",
    "qos(batch, latency<2min, throughput>=50/s, availability>=99.9%)", "replicas(3)",
    "near(examples.inference.classify).apart(classify)", "label(zone=a, tier!=spot)",
    "on(network>=100MB/s, cpu<=50%)",
]
EDITS = st.lists(
    st.tuples(st.sampled_from(["insert", "delete", "replace"]), st.integers(0, 200),
              st.sampled_from(list("on(gpu>=1,.)%GBms/-qz=!< \t0.5")) | st.characters()),
    min_size=1, max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID) | placement_asts().map(str), EDITS)
def test_mutated_placements_parse_or_raise_placement_error(text: str, edits: list[tuple[str, int, str]]) -> None:
    """Valid strings with a few characters inserted, deleted or replaced never crash the parser."""
    for kind, at, char in edits:
        at %= len(text) + 1
        text = {"insert": text[:at] + char + text[at:], "delete": text[:at] + text[at + 1:],
                "replace": text[:at] + char + text[at + 1:]}[kind]
    check_error(text)


TOKENS = [
    ["on", "(", "gpu", ">=", "1", ",", "memory", ">=", "1.5", "GB", ")", ".", "qos", "(", "interactive", ",",
     "latency", "<", "10", "ms", ")", ".", "replicas", "(", "3", ")"],
    ["on", "(", "gpu", ",", "mem", ">=", "8", "GB", ",", "network", ">=", "100", "MB", "/", "s", ",", "cpu",
     "<=", "50", "%", ")"],
    ["qos", "(", "batch", ",", "latency", "<", "2", "min", ",", "throughput", ">=", "50", "/", "s", ",",
     "availability", ">=", "99.9", "%", ")", ".", "near", "(", "examples.inference.classify", ")"],
    ["label", "(", "zone", "=", "a", ",", "tier", "!=", "spot", ")", ".", "apart", "(", "db", ")", ".",
     "label", "(", "rack", "!=", "r-1", ")"],
]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(TOKENS).flatmap(
    lambda tokens: st.tuples(st.just(tokens), st.lists(st.text(" \t\n", max_size=3), min_size=len(tokens) + 1,
                                                       max_size=len(tokens) + 1))))
def test_whitespace_between_tokens_changes_nothing(case: tuple[list[str], list[str]]) -> None:
    """Any whitespace before, between or after tokens parses to the same placement as none."""
    tokens, spaces = case
    compact = parse_placement("".join(tokens))
    spaced = "".join(space + token for space, token in zip(spaces, tokens)) + spaces[-1]
    assert semantic(parse_placement(spaced)) == semantic(compact)
    assert len(compact.constraints()) == len(parse_placement(spaced).constraints())
