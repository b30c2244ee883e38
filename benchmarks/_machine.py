"""The machine line every benchmark report starts with."""

from __future__ import annotations

import os
import platform

__all__ = ["machine", "progress"]


def machine() -> str:
    """``Python 3.11.7 (CPython), Linux x86_64, 2 CPUs``: what the figures were measured on."""
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    )


def progress(msg: str) -> None:
    """A progress line on stderr, as an HTML comment (invisible when the report is pasted)."""
    import sys

    print(f"<!-- {msg} -->", file=sys.stderr, flush=True)
