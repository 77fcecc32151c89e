"""Benchmarks of hajatek-mcp: what a user feels, each measured against a baseline taken in the same run.

``python -m benchmarks`` runs them all (``--quick`` for the short CI run, ``--only NAME[,NAME]`` to select); the
method of each is in its module docstring and in docs/benchmarks.md. Nothing here is imported by the package.
"""
