"""Queueing at one deployment: open-loop (Poisson) arrivals at ``c`` serving slots.

A deployment that serves ``batch`` = c sequences at once is taken as an M/M/c queue: requests
arrive at random (a Poisson process of rate lambda, requests a second), each holds one of the c
slots for its time in the engine, and a request that finds every slot busy waits in a queue
(first come, first served). Each slot serves mu = 1 / S requests a second, S being a request's
time in the engine with all c slots busy, which is when a queue forms.

- Utilisation rho = lambda / (c mu): 1 or more and the queue grows without end.
- Probability that an arrival waits (Erlang C), by Sakasegawa's closed form
  P_w = rho^(sqrt(2 (c + 1)) - 1) (H. Sakasegawa, "An approximation formula L_q = alpha rho^beta /
  (1 - rho)", Annals of the Institute of Statistical Mathematics 29 (1977) 67-75; in the form of
  W. Hopp and M. Spearman, Factory Physics, 3rd ed. 2008, eq. 8.10). Exact for c = 1 (P_w = rho);
  never below Erlang C on a grid of c 2-100 and rho 0.3-0.9, and close where waiting matters:
  within 6% at c <= 8 and rho >= 0.8, within 15% at c <= 100 and rho >= 0.9. At low utilisation
  and many slots it overstates a small probability (c = 16, rho = 0.5: 0.035 against 0.009), so
  the wait errs long, never short.
- The wait of those who wait is exponential with rate c mu - lambda (any M/M/c textbook: L.
  Kleinrock, Queueing Systems vol. 1, 1975, section 3.5; D. Gross and C. Harris, Fundamentals of
  Queueing Theory, section 2.3): P(W_q > t) = P_w exp(-(c mu - lambda) t), so the mean wait is
  P_w / (c mu - lambda) and the wait's p-quantile is max(0, ln(P_w / (1 - p)) / (c mu - lambda)).

Pure functions of numpy arrays with the operations the workbook can also write (see ``memory``);
``np.log`` is the spreadsheet's LN.
"""

from __future__ import annotations

import math

import numpy as np

from .arrays import where


def utilization(arrivals_per_s, served_per_s):
    """rho: arrivals over what the deployment serves with every slot busy (both requests a second)."""
    return arrivals_per_s / served_per_s


def wait_probability(rho, slots):
    """P_w, the share of arrivals that find every one of ``slots`` busy (Sakasegawa's closed form of
    Erlang C: rho^(sqrt(2 (c + 1)) - 1)); rho below 1."""
    return np.maximum(rho, 0.0) ** ((2.0 * (slots + 1.0)) ** 0.5 - 1.0)


def mean_wait_s(p_wait, arrivals_per_s, served_per_s):
    """Mean time in the queue, s: P_w / (c mu - lambda)."""
    return p_wait / (served_per_s - arrivals_per_s)


def wait_quantile_s(p_wait, arrivals_per_s, served_per_s, share):
    """The wait that ``share`` (0.9: p90) of arrivals do not exceed, s: P(W_q > t) = P_w exp(-(c mu -
    lambda) t), so t = ln(P_w / (1 - share)) / (c mu - lambda), and 0 where P_w <= 1 - share."""
    return np.log(np.maximum(p_wait / (1.0 - share), 1.0)) / (served_per_s - arrivals_per_s)


def others_quantile(others, slots, share, z):
    """The number of other requests in service that ``share`` of requests see at most, from its mean
    m: a Poisson count (arrivals at random, each in service for a while: M/G/infinity). None while
    P(0) = exp(-m) >= share, i.e. m <= -ln(share) (exact); above that the normal approximation m + z
    sqrt(m), ``z`` the standard normal quantile of the share (1.2816 for p90); at most the other
    ``slots`` - 1."""
    return where(others > -math.log(share), np.minimum(others + z * np.maximum(others, 0.0) ** 0.5, slots - 1.0),
                 0.0)
