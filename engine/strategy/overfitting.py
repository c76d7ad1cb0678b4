"""How likely is the search's winner a fluke? Deflated Sharpe ratio and PBO (CSCV).

Deflated Sharpe ratio (Bailey & López de Prado, 2014): the probability that
the winner's true Sharpe is above the best Sharpe that N trials of zero true
skill would show by luck,

    SR₀ = √V · ((1-γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N·e)))
    DSR = Φ( (SR - SR₀) √(n-1) / √(1 - γ₃·SR + (γ₄-1)/4 · SR²) )

with SR the winner's per-bar Sharpe, V the variance of the per-bar Sharpes
of all N trials, γ the Euler-Mascheroni constant, n the number of returns,
γ₃/γ₄ their skewness and (non-excess) kurtosis. N counts every completed
trial, an upper bound on the number of independent ones (conservative).

Probability of backtest overfitting (Bailey, Borwein, López de Prado & Zhu,
2017) by combinatorially symmetric cross-validation: the trials' per-bar
out-of-sample returns are cut into B time blocks; for each way of choosing
B/2 blocks as "in-sample", the trial with the best in-sample Sharpe is
ranked among all trials on the other half. PBO is the share of splits where
it lands at or below the median (logit λ ≤ 0). Block sums (n, Σr, Σr²) are
enough to get any combination's Sharpe, so nothing is re-run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np

EULER_GAMMA = 0.5772156649015329


def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _norm_ppf(p: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(p))


def expected_max_sharpe(n_trials: int, var_sharpe: float) -> float:
    """SR₀: the expected best Sharpe among `n_trials` skill-less trials with this Sharpe variance."""
    if n_trials < 2 or var_sharpe <= 0:
        return 0.0
    n = float(n_trials)
    return math.sqrt(var_sharpe) * ((1 - EULER_GAMMA) * _norm_ppf(1 - 1 / n)
                                    + EULER_GAMMA * _norm_ppf(1 - 1 / (n * math.e)))


def probabilistic_sharpe(sr: float, sr0: float, n_obs: int, skew: float, kurt: float) -> float:
    """P(true Sharpe > sr0) given an observed per-period Sharpe `sr` over `n_obs` returns."""
    if n_obs < 2:
        return float("nan")
    denom = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    if denom <= 0:
        return float("nan")
    return _norm_cdf((sr - sr0) * math.sqrt(n_obs - 1) / math.sqrt(denom))


def deflated_sharpe(sr: float, n_obs: int, skew: float, kurt: float, *, n_trials: int, var_sharpe: float) -> float:
    """The deflated Sharpe ratio: a probability in [0, 1] (NaN if undefined)."""
    return probabilistic_sharpe(sr, expected_max_sharpe(n_trials, var_sharpe), n_obs, skew, kurt)


@dataclass(frozen=True, slots=True)
class PboResult:
    pbo: float  # share of splits whose in-sample winner is at or below the out-of-sample median
    splits: int  # combinations evaluated
    trials: int
    median_logit: float  # median λ: > 0 means the IS winner usually stays above the OOS median


def _block_sharpe(n: np.ndarray, s: np.ndarray, ss: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s / n
        var = ss / n - mean * mean
        out = mean / np.sqrt(var)
    return np.where((n > 1) & (var > 1e-30), out, 0.0)


def pbo_cscv(blocks: np.ndarray, *, max_splits: int = 2000, seed: int = 0) -> PboResult | None:
    """PBO from (trials, B, 3) block sums (n, Σr, Σr²); None with fewer than 2 trials or 2 blocks.

    All C(B, B/2) splits are used when there are at most `max_splits`,
    otherwise a seeded random subset of that size.
    """
    blocks = np.asarray(blocks, dtype=np.float64)
    if blocks.ndim != 3 or blocks.shape[0] < 2 or blocks.shape[1] < 2:
        return None
    n_trials, n_blocks, _ = blocks.shape
    n_blocks -= n_blocks % 2
    blocks = blocks[:, :n_blocks]
    half = n_blocks // 2
    combos = list(combinations(range(n_blocks), half))
    if len(combos) > max_splits:
        rng = np.random.default_rng(seed)
        combos = [combos[i] for i in sorted(rng.choice(len(combos), size=max_splits, replace=False))]
    member = np.zeros((len(combos), n_blocks))
    for i, c in enumerate(combos):
        member[i, list(c)] = 1.0
    totals = blocks.sum(axis=1)  # (trials, 3)
    logits = []
    for start in range(0, len(combos), 256):
        m = member[start:start + 256]  # (C, B)
        ins = np.einsum("cb,tbk->ctk", m, blocks)  # (C, trials, 3)
        outs = totals[None, :, :] - ins
        sr_in = _block_sharpe(ins[..., 0], ins[..., 1], ins[..., 2])
        sr_out = _block_sharpe(outs[..., 0], outs[..., 1], outs[..., 2])
        best = np.argmax(sr_in, axis=1)
        best_out = sr_out[np.arange(len(m)), best]
        # relative rank of the IS winner out of sample (ties share the middle), in (0, 1)
        below = (sr_out < best_out[:, None]).sum(axis=1)
        equal = (sr_out == best_out[:, None]).sum(axis=1)
        omega = (below + 0.5 * equal) / n_trials
        omega = np.clip(omega, 0.5 / n_trials, 1 - 0.5 / n_trials)
        logits.append(np.log(omega / (1 - omega)))
    lam = np.concatenate(logits)
    return PboResult(pbo=float((lam <= 0).mean()), splits=int(lam.size), trials=n_trials,
                     median_logit=float(np.median(lam)))
