"""Metrics: S_AOI (paper 000 eq. 21), Jain's fairness against Table V, effective SIR (eqs. 9-11)."""

from __future__ import annotations

import numpy as np
import pytest

from skycell.metrics import (
    aoi_satisfaction,
    aoi_served,
    effective_sir_db,
    jain_fairness,
    min_pairwise_distance_m,
    route_lengths_m,
    sir_maps,
)


def test_aoi_satisfaction_eq21() -> None:
    centers = np.array([[0.0, 0.0], [1000.0, 0.0], [0.0, 1000.0]])
    radii = np.array([300.0, 300.0, 300.0])
    # AOI 0 twice (counts once), AOI 1 just inside 2r/3 = 200 m, AOI 2 at 201 m: not served
    st = np.array([[0.0, 0.0], [10.0, 0.0], [1199.9, 0.0], [0.0, 1201.0]])
    assert aoi_served(st, centers, radii).tolist() == [True, True, False]
    assert aoi_satisfaction(st, centers, radii) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("sir_db", "expected"),
    [
        # paper 000 Table V columns: Initial, After L_o, After L_avgSIR, Random
        ([-9.595, -0.189, -1.537, -4.213, 4.625, -1.165, 19.760, 25.527, 5.666, 3.248], 0.157),
        ([-1.352, 1.421, 1.214, -0.542, 0.471, -0.439, 11.057, 12.728, 0.454, 0.192], 0.306),
        ([-12.963, 7.941, -3.302, -10.621, 8.950, 4.660, 19.729, 32.018, 6.422, 4.793], 0.115),
        ([-12.773, -3.246, -3.636, -10.530, -2.795, -7.507, 14.660, 18.893, 0.981, -0.519], 0.178),
    ],
)
def test_jain_fairness_reproduces_paper000_table_v(sir_db: list[float], expected: float) -> None:
    x = 10 ** (np.array(sir_db) / 10)
    assert jain_fairness(x) == pytest.approx(expected, abs=5e-4)


def test_jain_bounds() -> None:
    assert jain_fairness(np.ones(7)) == pytest.approx(1.0)
    assert jain_fairness(np.array([5.0, 0, 0, 0])) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        jain_fairness(np.array([-1.0, 1.0]))


def test_sir_maps_and_effective_sir() -> None:
    gain = np.array([[1e-9, 1e-10, 0.0], [1e-10, 1e-9, 1e-12]])
    power = np.array([10.0, 10.0])
    r = sir_maps(gain, power)
    assert r[0, 0] == pytest.approx(10.0)
    assert r[1, 1] == pytest.approx(10.0)
    # station 0 does not cover cell 2 (mask eq. 10): its mean is over cells 0 and 1 only
    eff = effective_sir_db(gain, power)
    assert eff[0] == pytest.approx((10.0 - 10.0) / 2, abs=1e-9)
    # station 1: -10 dB, +10 dB and, alone in cell 2, 10 log10(10 * 1e-12 / 1e-20) = 90 dB
    assert eff[1] == pytest.approx((-10.0 + 10.0 + 90.0) / 3, abs=1e-9)


def test_route_and_separation() -> None:
    routes = [np.array([[0, 0, 70], [3, 4, 70], [3, 4, 70.0]]), np.array([[1, 1, 70.0]])]
    assert route_lengths_m(routes).tolist() == pytest.approx([5.0, 0.0])
    assert min_pairwise_distance_m(np.array([[0, 0], [3, 4], [100, 0.0]])) == pytest.approx(5.0)
