"""The blocked log-sum-exp engine behind every Gaussian-mixture score and neighbour search: logits
``l_n = -|x - m y_n|^2 / (2 var)`` (``m``, ``var`` one per row of ``x``), up to a per-row
constant, as one matrix product on centred, feature-major data, in row blocks of bounded size."""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import Tensor

from . import _checks as check

# Elements of one block of logits (rows x N) when d is small: 2**20 float32 numbers are 4 MB,
# enough rows for both threads, still near the caches (see block_rows).
_BLOCK_ELEMENTS = 1 << 20
# For large d the products dominate: blocks may then take up to this fraction of the data's size.
_DATA_FRACTION = 0.25

#: A per-row-block logit bias: ``bias(rows, logits)`` adds to ``logits`` ``(r, N)`` in place.
Bias = Callable[[slice, Tensor], None]


class Prepared(NamedTuple):
    """Training set stored once per score: centre ``mu``, ``table = [|y - mu|^2; (y - mu)^T]``
    ``(d + 1, N)``, its view ``centred = table[1:].T`` ``(N, d)``, the uncentred ``data``."""

    mu: Tensor
    centred: Tensor
    table: Tensor
    data: Tensor


def _tracked(*tensors: Tensor) -> bool:
    """True when autograd records operations on any of ``tensors`` (no ``out=`` then)."""
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def prepare(data: Tensor) -> Prepared:
    """Centre the data, stack squared norms over it, feature-major: logits in one fast product."""
    mu = data.mean(0)  # (d,)
    if _tracked(data):  # differentiable in the data: plain operations
        centred = (data - mu).T  # (d, N)
        table = torch.cat([(centred * centred).sum(0, keepdim=True), centred]).contiguous()
        return Prepared(mu, table[1:].T, table, data)
    table = data.new_empty(data.shape[1] + 1, data.shape[0])  # (d + 1, N)
    torch.sub(data.T, mu[:, None], out=table[1:])
    table[0] = torch.einsum("dn,dn->n", table[1:], table[1:])  # no (d, N) temporary
    return Prepared(mu, table[1:].T, table, data)


def prepared_like(cache: dict, data: Tensor, x: Tensor) -> Prepared:
    """The prepared set in ``x``'s dtype and device, cached (afresh if ``data`` requires grad)."""
    key = (x.dtype, x.device)
    if _tracked(data):
        return prepare(data.to(dtype=x.dtype, device=x.device))
    if key not in cache:
        cache[key] = prepare(data.to(dtype=x.dtype, device=x.device))
    return cache[key]


def block_rows(n_data: int, d: int) -> int:
    """Rows per block of logits, ``max(_BLOCK_ELEMENTS, _DATA_FRACTION N d)`` numbers in all."""
    elements = max(_BLOCK_ELEMENTS, int(_DATA_FRACTION * n_data * d))
    return max(1, elements // max(n_data, d + 1))


def mean_and_var(schedule, x: Tensor, t) -> tuple[Tensor, Tensor]:
    """``m(t)`` and ``sigma(t)^2`` as ``(n, 1)`` columns for the rows of ``x``."""
    tt = check.time_column(schedule, x, t)  # (n, 1)
    return schedule.m(tt), schedule.sigma(tt) ** 2


def nonsingular(var: Tensor, what: str = "the score") -> Tensor:
    """``var`` if no entry is 0; at ``t = 0`` (``sigma = 0``) ``what`` is singular: ValueError."""
    if bool((var == 0).any()):
        raise ValueError(f"t must be > 0 for {what}: sigma(t) = 0 there and it is singular")
    return var


def _safe(var: Tensor, x: Tensor) -> Tensor:
    """``var`` kept away from 0 (``eps^2`` of ``x``'s dtype), so ``t = 0`` gives finite logits."""
    return var.clamp_min(torch.finfo(x.dtype).eps ** 2)


def logit_blocks(prep: Prepared, x: Tensor, m: Tensor, var: Tensor, bias: Bias | None = None):
    """Yield ``(rows, logits)`` with ``logits = (2 m x.y - m^2 |y|^2) / (2 var)`` per block.

    These are ``-|x - m y_n|^2 / (2 var)`` up to the row constant ``|x|^2 / (2 var)``, one matrix
    product ``[-m^2/(2 var), x m/var] @ [|y|^2; y^T]`` on centred data; ``bias(rows, logits)``, if
    given, adds a term of its own. Without autograd all blocks share one buffer (fresh multi-MB
    allocations cost page faults): use each block before asking for the next.
    """
    var = _safe(var, x)  # (n, 1)
    xc = x - m * prep.mu  # (n, d)
    lhs = torch.cat([-0.5 * m * m / var, xc * (m / var)], 1)  # (n, d + 1)
    step = max(1, min(block_rows(*prep.centred.shape), x.shape[0]))
    reuse = not _tracked(lhs, prep.table)
    buf = x.new_empty(step, prep.table.shape[1]) if reuse else None  # (step, N)
    for i in range(0, x.shape[0], step):
        block, rows = lhs[i : i + step], slice(i, min(i + step, x.shape[0]))
        out = buf[: len(block)] if reuse else None  # autograd needs fresh tensors
        logits = torch.mm(block, prep.table, out=out)  # (r, N)
        if bias is not None:
            bias(rows, logits)
        yield rows, logits


def _direct_logits(prep: Prepared, x: Tensor, m: Tensor, var: Tensor, idx: Tensor) -> Tensor:
    """``-|x - m y_n|^2 / (2 var)`` for the columns ``idx`` ``(r, j)``, from float64 differences."""
    y = prep.data[idx].double()  # (r, j, d)
    diff = x.double()[:, None, :] - m.double()[:, :, None] * y  # (r, j, d)
    return (-(diff * diff).sum(-1) / (2 * _safe(var, x).double())).to(x.dtype)


def _softmax(logits: Tensor, tracked: bool) -> Tensor:
    """Row softmax, in place on the logits buffer unless autograd needs the logits."""
    return torch.softmax(logits, 1) if tracked else torch.softmax(logits, 1, out=logits)


def posterior_mean(
    prep: Prepared, x: Tensor, m: Tensor, var: Tensor, with_lse: bool = False, bias=None
):
    """Tweedie denoiser ``xbar = sum_n w_n y_n`` and, optionally, ``log sum_n exp(l_n)``.

    ``w = softmax(l)``, ``l_n = -|x - m y_n|^2 / (2 var)`` (log-sum-exp stable). With ``l_k``
    the largest logit, ``log sum_n exp(l_n) = l_k - log w_k``, where ``l_k`` is formed directly
    from ``x - m y_k`` (accurate in float32 for small ``var``); ``lse`` ignores ``bias``.
    Returns ``(xbar, lse)``, shapes ``(n, d)`` and ``(n,)`` (``lse`` is None unless asked).
    """
    tracked = _tracked(x, m, var, prep.table)
    xbar, lse = [], []
    for rows, logits in logit_blocks(prep, x, m, var, bias):
        k = logits.argmax(1, keepdim=True) if with_lse else None  # (r, 1)
        w = _softmax(logits, tracked)  # (r, N)
        xbar.append(w @ prep.centred)  # (r, d)
        if with_lse:
            top = _direct_logits(prep, x[rows], m[rows], var[rows], k)  # (r, 1)
            lse.append((top - w.gather(1, k).log())[:, 0])
    lse = torch.cat(lse) if with_lse else None  # (n,)
    return torch.cat(xbar) + prep.mu, lse


def weights(prep: Prepared, x: Tensor, m: Tensor, var: Tensor) -> Tensor:
    """Posterior weights ``w = softmax_n(l_n)``, shape ``(n, N)``; each row sums to one."""
    blocks = logit_blocks(prep, x, m, var)
    if _tracked(x, m, var, prep.table):
        return torch.cat([torch.softmax(logits, 1) for _, logits in blocks])  # (n, N)
    out = x.new_empty(x.shape[0], prep.table.shape[1])  # (n, N)
    for rows, logits in blocks:
        torch.softmax(logits, 1, out=out[rows])
    return out


def log_sum_exp(prep: Prepared, x: Tensor, m: Tensor, var: Tensor) -> Tensor:
    """``log sum_n exp(-|x - m y_n|^2 / (2 var))`` ``(n,)``, the top logit formed directly."""
    blocks = []
    for rows, logits in logit_blocks(prep, x, m, var):
        top, k = logits.max(1, keepdim=True)  # (r, 1)
        rest = torch.log(torch.exp(logits - top).sum(1, keepdim=True))  # (r, 1), >= 0
        blocks.append((_direct_logits(prep, x[rows], m[rows], var[rows], k) + rest)[:, 0])
    return torch.cat(blocks)  # (n,)


#: Extra candidates re-ranked by their exact distance in :func:`nearest`.
_RERANK = 4


def nearest(prep: Prepared, x: Tensor, k: int) -> Tensor:
    """Indices ``(n, k)`` of the ``k`` nearest training points: ``k + _RERANK`` candidates by
    the logits at ``m = 1``, ``var = 1/2``, re-ranked by ``|x - y|^2`` from differences."""
    one = x.new_ones(x.shape[0], 1)  # (n, 1)
    j = min(prep.table.shape[1], k + _RERANK)
    idx = torch.empty(x.shape[0], k, dtype=torch.long, device=x.device)  # (n, k)
    for rows, logits in logit_blocks(prep, x, one, 0.5 * one):
        cand = logits.topk(j, dim=1).indices  # (r, j)
        exact = _direct_logits(prep, x[rows], one[rows], 0.5 * one[rows], cand)  # (r, j)
        idx[rows] = cand.gather(1, exact.topk(k, dim=1).indices)
    return idx
