"""Linear values and resources: used exactly once, released on failure, leaks reported."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest

import effectus as fx
from effectus.types import Linear

HERE = Path(__file__).name


def test_a_linear_value_is_consumed_once() -> None:
    """consume gives the value; a second consume raises LinearityError naming both sites."""
    token = Linear(42)
    assert token.consume() == 42
    with pytest.raises(fx.LinearityError) as info:
        token.consume()
    text = str(info.value)
    assert text.startswith(f"linear int was already used at tests/types/{HERE}:")
    assert "acquired at" in text and "Fix:" in text
    assert traceback.extract_tb(info.value.__traceback__)[0].name == "test_a_linear_value_is_consumed_once"


def test_copying_a_reference_does_not_escape_linearity() -> None:
    """Linearity belongs to the value: consuming through an alias uses it up for both names."""
    token = Linear("t")
    alias = token
    alias.consume()
    with pytest.raises(fx.LinearityError):
        token.consume()


def test_peek_borrows_until_consumed() -> None:
    """peek reads the value without consuming; after consumption it raises too."""
    token = Linear([1])
    assert token.peek() == [1] and not token.used
    token.consume()
    with pytest.raises(fx.LinearityError):
        token.peek()


async def opener(log: list[str], name: str) -> str:
    await fx.Log(f"open {name}")
    log.append(f"open {name}")
    return name


def closer(log: list[str]) -> object:
    async def close(name: str) -> None:
        await fx.Log(f"close {name}")
        log.append(f"close {name}")

    return close


def test_a_task_that_fails_releases_its_resources_newest_first() -> None:
    """On failure, live resources are released in reverse order, then the error propagates."""
    log: list[str] = []

    async def main() -> None:
        await fx.Acquire(opener(log, "a"), closer(log))  # type: ignore[arg-type]
        await fx.Acquire(opener(log, "b"), closer(log))  # type: ignore[arg-type]
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fx.run(main(), fx.testing())
    assert log == ["open a", "open b", "close b", "close a"]


def test_a_cancelled_task_releases_its_resources() -> None:
    """Cancelling a task holding resources releases them (newest first)."""
    log: list[str] = []

    async def holder() -> None:
        await fx.Acquire(opener(log, "x"), closer(log))  # type: ignore[arg-type]
        await fx.Acquire(opener(log, "y"), closer(log))  # type: ignore[arg-type]
        await fx.Sleep(100)

    async def main() -> str:
        t = await fx.Spawn(holder())
        await fx.Sleep(1)
        await fx.Cancel(t)
        try:
            await fx.Join(t)
        except fx.Cancelled:
            return "cancelled"
        return "joined"

    assert fx.run(main(), fx.testing()) == "cancelled"
    assert log == ["open x", "open y", "close y", "close x"]


def test_a_resource_never_released_is_reported_with_where_it_was_acquired() -> None:
    """A task that returns holding a resource fails with LinearityError; it is released too."""
    log: list[str] = []

    async def main() -> str:
        await fx.Acquire(opener(log, "kept"), closer(log), "connection")  # type: ignore[arg-type]
        return "done"

    with pytest.raises(fx.LinearityError) as info:
        fx.run(main(), fx.testing())
    text = str(info.value)
    assert "task #0 'main' ended without consuming linear connection acquired at" in text
    assert f"{HERE}:" in text and "in main" in text
    assert log == ["open kept", "close kept"]


def test_release_and_async_with_release_exactly_once() -> None:
    """Release gives a resource back; releasing it again fails on the user's line."""
    log: list[str] = []

    async def main() -> str:
        conn = await fx.Acquire(opener(log, "c"), closer(log))  # type: ignore[arg-type]
        await fx.Release(conn)
        try:
            fx.Release(conn)
        except fx.LinearityError as err:
            assert HERE in "".join(traceback.format_tb(err.__traceback__))
            return "refused"
        return "released twice"

    assert fx.run(main(), fx.testing()) == "refused"
    assert log == ["open c", "close c"]

    log.clear()

    async def scoped() -> str:
        async with fx.acquire(opener(log, "s"), closer(log)) as name:  # type: ignore[arg-type]
            log.append(f"use {name}")
        return "ok"

    assert fx.run(scoped(), fx.testing()) == "ok"
    assert log == ["open s", "use s", "close s"]


def test_async_with_releases_when_the_block_raises() -> None:
    """An error inside the block still releases the resource, once."""
    log: list[str] = []

    async def scoped() -> None:
        async with fx.acquire(opener(log, "s"), closer(log)):  # type: ignore[arg-type]
            raise KeyError("inside")

    with pytest.raises(KeyError):
        fx.run(scoped(), fx.testing())
    assert log == ["open s", "close s"]


def test_resources_record_and_replay(tmp_path: Path) -> None:
    """Acquire and Release are made of their programs' effects: recorded and replayed."""
    path = tmp_path / "res.jsonl"
    log: list[str] = []

    async def main() -> str:
        async with fx.acquire(opener(log, "r"), closer(log)) as name:  # type: ignore[arg-type]
            await fx.Log(f"using {name}")
        return name

    assert fx.record(fx.testing(), path).run(main()) == "r"
    messages = [r.fields.get("message") for r in fx.read_trace(path).records]
    assert messages == ["open r", "using r", "close r"]
    assert fx.replay(main(), path) == "r"
