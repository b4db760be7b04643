"""The course's classroom: exercise checks with specific feedback, and student versions.

A check cell calls ``mdiff.classroom.check_<name>(student_fn)``: the check runs the student's
function on several inputs (including edge cases such as small ``t``), compares with the
reference and, on a wrong answer, raises :class:`CheckFailed` with a message that says what is
wrong; in a notebook the failure shows as that message, without a traceback. On success it
prints one line and returns a true value that displays nothing.

Student versions of the chapters are generated with ``python -m mdiff.classroom student
SRC_DIR OUT_DIR`` (``make student``): pure nbformat, following nbgrader's conventions, so the
same chapter notebooks also work as nbgrader ``source`` assignments.

Layout:

- ``coercion.py``: :class:`CheckFailed`, :func:`fail`, and what the student returned as numbers:
  every argument cloned before the call, :func:`as_tensor`, :func:`as_float`,
  :func:`as_booleans`, :func:`as_answer` (a tensor of any real dtype, a Python number, a list or
  a NumPy array is read; None, strings, dicts, complex, meta-device or half-precision results
  fail with a message), and :func:`float32_numbers` (does an answer carry float32 rounding?).
- ``feedback.py``: :func:`passed`, and the flow every check shares, :func:`diagnose` (call on
  cloned inputs, coerce, check shape and finiteness, compare at a tolerance no tighter than the
  answer's precision, name the known slip unless it coincides with the reference there);
  :func:`result_of` and :func:`compare` are its two halves, :func:`tolerance` and :func:`close`
  the precision-aware comparison.
- ``student.py``: the student-version generator (:func:`student_notebook`,
  :func:`exercise_notebook`, :func:`write_notebooks` with its ``mode``).
- ``portable.py``: the generated notebooks' Markdown made portable (no MyST: exercises as
  numbered headings, theorems as bold labels, roles as text, numbers and links), with the
  book's numbering and bibliography from ``book.py``.
- ``ch01.py`` ... ``ch12.py``: the checks of one chapter each, with their private helpers.
- ``__main__.py``: the command line.

Every check and the generator's public names are re-exported here.
"""

from .ch01 import check_heun_step_to_zero, check_reverse_sde_step, check_vp_m_sigma
from .ch02 import check_dsm_minimum, check_dsm_per_sample, check_ism_per_sample
from .ch03 import (
    check_score_from_weights,
    check_score_norm_exponent,
    check_stable_weights,
    check_weighted_score,
)
from .ch04 import check_energy_hessian, check_tau_sde_step
from .ch05 import (
    check_heuristic_collapsed,
    check_measured_median_collapse,
    check_nn_collapse_prediction,
    check_nn_sq_distances,
    check_points_needed,
)
from .ch06 import check_bridge, check_interval_coverage
from .ch07 import (
    check_frac_prediction,
    check_measure_frac,
    check_regularized_minimizer,
    check_terminal_offset_vp,
    check_tikhonov_score_fixed,
)
from .ch08 import check_eb_frac_prediction, check_energy_v, check_freeze_bandwidth
from .ch09 import check_displacement_budget, check_eps_tikhonov, check_fraction_table
from .ch10 import (
    check_calibrated_excess,
    check_distinct_ratio_test,
    check_false_positive_rate,
    check_scale_free_fraction,
)
from .ch11 import check_copier_energy, check_heldout_rate
from .ch12 import check_convergence_rate, check_empirical_energy, check_gaussian_denoiser
from .feedback import (
    PASSED,
    CheckFailed,
    as_answer,
    as_booleans,
    as_float,
    as_tensor,
    close,
    compare,
    diagnose,
    expect_close,
    fail,
    float32_numbers,
    passed,
    result_of,
    tolerance,
)
from .student import (
    BANNER,
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    CODE_STUB,
    CONTEXT_TAG,
    END_HIDDEN,
    END_SOLUTION,
    MODES,
    TEXT_STUB,
    chapter_notebooks,
    directive,
    exercise_notebook,
    is_check_cell,
    is_solution_cell,
    setup_cells,
    stub_source,
    student_notebook,
    write_notebooks,
)


def main(argv: list[str] | None = None) -> int:
    """The command line ``python -m mdiff.classroom {student,exercises} SRC_DIR OUT_DIR``."""
    from .__main__ import main as command_line  # on demand: `python -m` runs it as __main__

    return command_line(argv)


__all__ = [
    "BANNER",
    "BEGIN_HIDDEN",
    "BEGIN_SOLUTION",
    "CODE_STUB",
    "CONTEXT_TAG",
    "CheckFailed",
    "END_HIDDEN",
    "END_SOLUTION",
    "MODES",
    "PASSED",
    "TEXT_STUB",
    "as_answer",
    "as_booleans",
    "as_float",
    "as_tensor",
    "chapter_notebooks",
    "close",
    "check_bridge",
    "check_calibrated_excess",
    "check_convergence_rate",
    "check_copier_energy",
    "check_empirical_energy",
    "check_displacement_budget",
    "check_distinct_ratio_test",
    "check_dsm_minimum",
    "check_dsm_per_sample",
    "check_eb_frac_prediction",
    "check_energy_hessian",
    "check_energy_v",
    "check_eps_tikhonov",
    "check_false_positive_rate",
    "check_fraction_table",
    "check_frac_prediction",
    "check_freeze_bandwidth",
    "check_gaussian_denoiser",
    "check_heun_step_to_zero",
    "check_heldout_rate",
    "check_heuristic_collapsed",
    "check_interval_coverage",
    "check_measured_median_collapse",
    "check_ism_per_sample",
    "check_measure_frac",
    "check_nn_collapse_prediction",
    "check_nn_sq_distances",
    "check_points_needed",
    "check_regularized_minimizer",
    "check_reverse_sde_step",
    "check_scale_free_fraction",
    "check_score_from_weights",
    "check_score_norm_exponent",
    "check_stable_weights",
    "check_tau_sde_step",
    "check_terminal_offset_vp",
    "check_tikhonov_score_fixed",
    "check_vp_m_sigma",
    "check_weighted_score",
    "compare",
    "diagnose",
    "directive",
    "exercise_notebook",
    "expect_close",
    "fail",
    "float32_numbers",
    "is_check_cell",
    "is_solution_cell",
    "main",
    "passed",
    "result_of",
    "setup_cells",
    "student_notebook",
    "stub_source",
    "tolerance",
    "write_notebooks",
]
