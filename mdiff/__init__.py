"""mdiff, the helper package of the course *Memorization and regularization in generative diffusion
models* (after Baptista, Dasgupta, Kovachki, Oberai and Stuart, 2025): a score is a callable
``score(x, t)``, samplers take the schedule first, everything public is re-exported here."""

from .data import (
    PAPER_WINDOW,
    digits,
    four_points,
    gaussian_data,
    long_run,
    matches_stored,
    paper_latents,
    paper_points,
    rectangles,
    ring,
    same_cpu_vendor,
    square_boundary,
    two_points,
)
from .ensemble import train_many
from .metrics import (
    closer_than_heldout,
    energy_distance,
    fraction_within,
    memorized,
    mmd,
    nearest_distance,
    nearest_k,
    nearest_ratio,
    pair_similarity,
)
from .models import MLP, FourierTimeEmbedding, UNet, score_from_model
from .regularized import empirical_bayes_score, smoothed_score, tikhonov_score
from .sampling import euler_maruyama, probability_flow
from .schedules import VE, VP, time_grid
from .scores import (
    conditional_empirical_score,
    denoiser,
    empirical_log_density,
    empirical_score,
    gaussian_log_density,
    gaussian_score,
    posterior_weights,
)
from .training import dsm_loss, train

__version__ = "0.1.0"

# fmt: off
__all__ = [
    "FourierTimeEmbedding", "MLP", "PAPER_WINDOW", "UNet", "VE", "VP", "closer_than_heldout",
    "conditional_empirical_score", "denoiser", "digits", "dsm_loss", "empirical_bayes_score",
    "empirical_log_density", "empirical_score", "energy_distance", "euler_maruyama", "four_points",
    "fraction_within", "gaussian_data", "gaussian_log_density", "gaussian_score", "long_run",
    "matches_stored", "memorized", "mmd", "nearest_distance", "nearest_k", "nearest_ratio",
    "pair_similarity", "paper_latents", "paper_points", "posterior_weights", "probability_flow",
    "rectangles", "ring", "same_cpu_vendor", "score_from_model", "smoothed_score",
    "square_boundary", "tikhonov_score", "time_grid", "train", "train_many", "two_points",
]
# fmt: on
