"""Every integration rule's weights sum to exactly 1; Gauss-Legendre is exact where it should be."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from thulium_desktop.xai.quadrature import RULES, integration_points


@given(rule=st.sampled_from(RULES), n=st.integers(min_value=2, max_value=300))
def test_weights_sum_to_one_and_nodes_lie_in_the_unit_interval(rule, n):
    alphas, weights = integration_points(n, rule)
    assert alphas.shape == weights.shape == (n,)
    assert abs(weights.sum() - 1.0) < 1e-12
    assert (alphas >= 0).all() and (alphas <= 1).all() and (weights > 0).all()


@given(n=st.integers(min_value=1, max_value=40), data=st.data())
def test_gauss_legendre_integrates_polynomials_up_to_degree_2n_minus_1_exactly(n, data):
    degree = data.draw(st.integers(min_value=0, max_value=2 * n - 1))
    alphas, weights = integration_points(n, "gausslegendre")
    assert abs((weights * alphas**degree).sum() - 1.0 / (degree + 1)) < 1e-10


def test_trapezoid_is_exact_for_lines_and_bad_arguments_are_named():
    alphas, weights = integration_points(5, "riemann_trapezoid")
    assert (weights * (3 * alphas + 1)).sum() == pytest.approx(2.5)
    np.testing.assert_allclose(alphas, np.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="integration must be one of"):
        integration_points(4, "simpson")
    with pytest.raises(ValueError, match="at least 2 steps"):
        integration_points(1, "riemann_trapezoid")
