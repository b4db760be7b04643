"""Maintenance tools of the course (not tests, not benchmarks), run from the repository root.

- ``python -m tools.execute [NOTEBOOK ...]``: re-execute chapters in place (``make execute``);
- ``python -m tools.colab_cell [--check] NOTEBOOK ...``: insert or fix the Colab install cell;
- ``python -m tools.chapter_table [--measure]``: the generated tables of the instructors' page.
"""
