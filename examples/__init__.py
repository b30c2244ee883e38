"""Realistic effectus programs, each runnable and exercised by the tests (``effectus.examples``)."""
