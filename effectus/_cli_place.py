"""``effectus place FILE``: solve a placement problem, print the plan or why there is none."""

from __future__ import annotations

import sys

__all__ = ["place"]


def place(path: str, *, timeout: float | None = None) -> int:
    """0 with the plan printed, 1 when no plan exists (the explanation printed), 2 on bad input."""
    from effectus.core._errors import PlacementError
    from effectus.proofs._placement import Unplaceable, place as solve, replan
    from effectus.proofs._problem import load_problem

    try:
        problem = load_problem(path)
    except PlacementError as err:
        print(f"effectus place: {err}", file=sys.stderr)
        return 2
    budget = timeout if timeout is not None else problem.timeout
    try:
        plan = solve(problem.requests, problem.cluster, timeout=budget)
        print(plan.table())
        if problem.failed:
            print(f"\nafter {', '.join(problem.failed)} failed:")
            print(replan(plan, problem.failed, timeout=budget).table())
    except Unplaceable as err:
        print(err)
        return 1
    except PlacementError as err:  # a problem that parses but is malformed (an unknown peer)
        print(f"effectus place: {err}", file=sys.stderr)
        return 2
    return 0
