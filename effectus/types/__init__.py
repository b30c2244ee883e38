"""Types of effectus: linear resources, session types, refinement and tensor types.

Filled in by the issues on channels/linear resources, specs and kernels.
"""

__all__: list[str] = []
