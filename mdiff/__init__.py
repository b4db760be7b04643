"""mdiff: the helper package of the course *Memorization and regularization in generative
diffusion models* (after Baptista, Dasgupta, Kovachki, Oberai and Stuart, 2025).

A score is a callable ``score(x, t)``; samplers take the schedule first. Everything public is
re-exported here, so chapters call ``mdiff.empirical_score(...)`` and never a submodule.
"""

from .data import (
    PAPER_WINDOW,
    four_points,
    gaussian_data,
    paper_points,
    rectangles,
    ring,
    square_boundary,
    two_points,
)
from .metrics import fraction_within, memorized, nearest_distance, nearest_k
from .regularized import empirical_bayes_score, smoothed_score, tikhonov_score
from .sampling import euler_maruyama, probability_flow
from .schedules import VE, VP, time_grid
from .scores import (
    denoiser,
    empirical_score,
    gaussian_log_density,
    gaussian_score,
    posterior_weights,
)

__version__ = "0.1.0"

__all__ = [
    "PAPER_WINDOW",
    "VE",
    "VP",
    "denoiser",
    "empirical_bayes_score",
    "empirical_score",
    "euler_maruyama",
    "four_points",
    "fraction_within",
    "gaussian_data",
    "gaussian_log_density",
    "gaussian_score",
    "memorized",
    "nearest_distance",
    "nearest_k",
    "paper_points",
    "posterior_weights",
    "probability_flow",
    "rectangles",
    "ring",
    "smoothed_score",
    "square_boundary",
    "tikhonov_score",
    "time_grid",
    "two_points",
]
