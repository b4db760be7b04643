"""Performance benchmarks of the course package: measurements, not tests.

``python -m benchmarks`` (``make bench``) runs figures 1-5 and 7-10 and prints one table per
figure with its target and a computed verdict; every figure is a ratio of two times (or sizes)
measured in the same run on the same machine, so the table stays meaningful on a slow or busy
machine. ``python -m benchmarks.chapters`` (figure 6, slow) times the execution of every chapter.
``--quick`` runs tiny sizes: the smoke test of ``make test``. See ``benchmarks/README.md``.
"""
