"""Quadrature rules on [0, 1] for integrated gradients, every one with weights summing to 1.

Gauss-Legendre converges fastest for the smooth path integrals IG needs. The Riemann
rules are offered for comparison with other tools; unlike Captum's trapezoid rule
(whose weights sum to (n-1)/n), ours are exact for a constant integrand.
"""

from __future__ import annotations

import numpy as np

#: The rules in the order offered: the default first, then the Riemann rules by accuracy.
RULES = ("gausslegendre", "riemann_trapezoid", "riemann_middle", "riemann_left", "riemann_right")


def integration_points(n: int, rule: str = "gausslegendre") -> tuple[np.ndarray, np.ndarray]:
    """Nodes alpha in [0, 1] and weights (float64, summing to 1) of an n-point rule."""
    if rule not in RULES:
        raise ValueError(f"integration must be one of {RULES}, got {rule!r}")
    least = 2 if rule == "riemann_trapezoid" else 1
    if n < least:
        raise ValueError(f"the {rule} rule needs at least {least} steps, got {n}")
    if rule == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n)
        return 0.5 * (nodes + 1.0), weights / weights.sum()  # sums to 1 to the last bit
    k = np.arange(n, dtype=np.float64)
    if rule == "riemann_trapezoid":
        weights = np.full(n, 1.0 / (n - 1))
        weights[[0, -1]] *= 0.5
        return k / (n - 1), weights
    offset = {"riemann_left": 0.0, "riemann_middle": 0.5, "riemann_right": 1.0}[rule]
    return (k + offset) / n, np.full(n, 1.0 / n)
