"""Command line: ``python -m mdiff.classroom {student,exercises} SRC_DIR OUT_DIR``.

``student`` writes one student notebook per chapter (``--exercises-only``: of the exercises
alone); ``exercises`` writes the exercises alone with their solutions (an instructor's nbgrader
``source``). ``make student`` runs ``python -m mdiff.classroom student chapters _build/student``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .student import write_notebooks


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mdiff.classroom",
        description="Generate student versions of the course's chapter notebooks.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    student = sub.add_parser(
        "student", help="one student notebook per chapter: solutions replaced by stubs"
    )
    exercises = sub.add_parser(
        "exercises",
        help="the exercises alone WITH their solutions (an instructor's nbgrader source)",
    )
    student.add_argument(
        "--exercises-only",
        action="store_true",
        help="keep only the set-up cells, cells tagged exercise-context and the exercises",
    )
    for command in (student, exercises):
        command.add_argument("src_dir", type=Path, help="directory of the chapter notebooks")
        command.add_argument("out_dir", type=Path, help="output directory (created)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), write the notebooks, print a summary."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.src_dir.is_dir():
        parser.error(f"SRC_DIR {args.src_dir} is not a directory")
    if args.out_dir.resolve() == args.src_dir.resolve():
        parser.error("OUT_DIR must differ from SRC_DIR (the chapters would be overwritten)")
    if args.command == "exercises":
        mode = "exercises"
    else:
        mode = "student-exercises" if args.exercises_only else "student"
    written = write_notebooks(args.src_dir, args.out_dir, mode=mode)
    n = sum(k for _, k in written)
    kind = "student" if args.command == "student" else "exercise source"
    print(f"wrote {len(written)} {kind} notebook(s) with {n} exercise cell(s) to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
