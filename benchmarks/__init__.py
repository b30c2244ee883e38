"""Benchmarks of effectus against the CPython floor and other effect libraries.

Run them with ``python -m benchmarks.run`` from the repository root; the results and the
machine they were measured on are in BENCHMARKS.md.  Nothing here is a timed test: the test
suite only checks that every variant computes the right answer (tests/benchmarks/).
"""
