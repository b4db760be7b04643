"""Performance benchmarks of the course package: measurements, not tests.

``python -m benchmarks`` (``make bench``) runs figures 1-5 and prints one table; every figure
is a ratio of two times (or sizes) measured in the same run on the same machine, so the table
stays meaningful on a slow or busy machine. ``python -m benchmarks.chapters`` (slow) times the
execution of every chapter. ``--quick`` runs tiny sizes: the smoke test of ``make test``.
"""
