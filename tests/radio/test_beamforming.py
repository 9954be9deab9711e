"""Multi-antenna links (paper 001 eqs. 1-5): closed forms of zero forcing, the matched filter,
greedy selection, the DFT codebook, steering vectors and the channel from paths; the torch twin
against numpy; Sionna RT's own array against skycell's steering vectors (skipped without rt)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from skycell.city.buildings import Buildings, City
from skycell.errors import SkycellError
from skycell.radio.beamforming import (
    PlanarArray,
    analytic_paths,
    carrier_phase_coefficients,
    channel_from_paths,
    dft_beam_transmission,
    dft_codebook,
    greedy_user_order,
    rank_adaptive_zf,
    rank_average_sum_rate_torch,
    sinr,
    steering_vectors,
    sum_rate_bps_hz,
    wavelength_m,
    zf_precoder,
)
from skycell.radio.engine import AnalyticEngine
from skycell.radio.sionna_engine import rt_available

RNG = np.random.default_rng(20240601)


def _gauss(*shape: int) -> np.ndarray:
    return (RNG.normal(size=shape) + 1j * RNG.normal(size=shape)) / math.sqrt(2.0)


# --------------------------------------------------------------------------- zero forcing


@pytest.mark.parametrize("n", [1, 3, 8, 16])
def test_zf_nulls_interference_and_meets_the_power_constraint(n: int) -> None:
    h = _gauss(6, n, 16)
    f = zf_precoder(h)
    g = h @ f
    diag = np.abs(np.diagonal(g, axis1=-2, axis2=-1))
    off = np.abs(g - np.einsum("bk,kl->bkl", np.diagonal(g, axis1=-2, axis2=-1), np.eye(n)))
    assert off.max() <= 1e-12 * diag.min()
    # eq. 1: Tr(f_k f_k^H) = M_T / K for every user (with equality), so Tr(F F^H) = M_T
    np.testing.assert_allclose(np.linalg.norm(f, axis=-2) ** 2, 16 / n, rtol=1e-12)
    s = sinr(h, f, tx_power_w=2.0, noise_power_w=1e-3)
    gram_inv = np.linalg.inv(h @ h.conj().transpose(0, 2, 1))
    closed = 2.0 / (n * 1e-3 * np.real(np.diagonal(gram_inv, axis1=-2, axis2=-1)))
    np.testing.assert_allclose(s, closed, rtol=1e-10)


def test_one_user_is_the_matched_filter() -> None:
    h = _gauss(5, 1, 16)
    f = zf_precoder(h)
    mrt = np.sqrt(16) * h.conj().transpose(0, 2, 1) / np.linalg.norm(h, axis=-1)[:, :, None]
    # the same beam up to a common phase: |f^H mrt| = ||f|| ||mrt||
    inner = np.abs(np.einsum("bmk,bmk->b", f.conj(), mrt))
    np.testing.assert_allclose(inner, 16.0, rtol=1e-12)
    s = sinr(h, f, tx_power_w=0.5, noise_power_w=1e-4)[:, 0]
    np.testing.assert_allclose(s, 0.5 * np.linalg.norm(h[:, 0], axis=-1) ** 2 / 1e-4, rtol=1e-12)


def test_rank_one_channel_gives_the_matched_filter_rate() -> None:
    v = _gauss(16)
    c = _gauss(9) * np.linspace(0.2, 2.0, 9)
    h = c[:, None] * v[None, :]  # every user on the same ray: rank 1
    res = rank_adaptive_zf(h, tx_power_w=1.0, noise_power_w=1e-2)
    strongest = int(np.argmax(np.abs(c)))
    mf = math.log2(1.0 + np.abs(c[strongest]) ** 2 * np.linalg.norm(v) ** 2 / 1e-2)
    assert res.order[0] == strongest
    assert res.sum_rate_bps_hz[0] == pytest.approx(mf, rel=1e-12)
    assert res.best_rank == 1
    assert res.best_sum_rate_bps_hz == pytest.approx(mf, rel=1e-12)
    # higher ranks cannot be zero-forced: the pseudo-inverse leaves interference, and eq. 2 sees it
    assert np.all(res.sum_rate_bps_hz[1:] < 0.5 * mf)


def test_orthogonal_users_get_their_interference_free_rates() -> None:
    arr = PlanarArray(4, 4)
    beams = dft_codebook(arr)  # orthonormal
    gains = np.array([3.0, 1.0, 0.5, 2.0])
    h = gains[:, None] * beams[[0, 5, 10, 15]].conj() * 4.0  # h_k = g_k * 4 * b_k^H
    res = rank_adaptive_zf(h, tx_power_w=1.0, noise_power_w=0.1)
    assert list(res.order) == [0, 3, 1, 2]  # strongest first; all orthogonal
    for n in range(1, 5):
        served = res.order[:n]
        expect = np.log2(1.0 + (gains[served] * 4.0) ** 2 / (n * 0.1)).sum()
        assert res.sum_rate_bps_hz[n - 1] == pytest.approx(expect, rel=1e-12)
    # one method against another: on orthogonal DFT-beam channels the codebook is optimal
    dft = dft_beam_transmission(h, beams, tx_power_w=1.0, noise_power_w=0.1)
    np.testing.assert_allclose(dft.sum_rate_bps_hz, res.sum_rate_bps_hz, rtol=1e-12)
    assert res.average_sum_rate_bps_hz == pytest.approx(res.sum_rate_bps_hz.mean())


def test_greedy_picks_the_largest_zf_gain_at_every_step() -> None:
    h = _gauss(12, 8) * RNG.uniform(0.1, 3.0, (12, 1))
    order = greedy_user_order(h, 8)
    assert order[0] == int(np.argmax(np.linalg.norm(h, axis=1)))
    for n in range(1, 8):
        chosen = h[order[:n]]
        q, _ = np.linalg.qr(chosen.T)  # orthonormal basis of the chosen channels' span
        rest = [j for j in range(12) if j not in order[:n]]
        resid = [np.linalg.norm(h[j] - (q @ (q.conj().T @ h[j]))) for j in rest]
        assert order[n] == rest[int(np.argmax(resid))]
    assert len(set(order.tolist())) == 8


def test_eq5_averages_the_rank_sum_rates() -> None:
    h = _gauss(3, 20, 8)
    res = rank_adaptive_zf(h, tx_power_w=1.0, noise_power_w=0.05, max_rank=6)
    assert res.sum_rate_bps_hz.shape == (3, 6)
    for b in range(3):
        for n in range(1, 7):
            hs = h[b, res.order[b, :n]]
            rates = sum_rate_bps_hz(sinr(hs, zf_precoder(hs), tx_power_w=1.0, noise_power_w=0.05))
            assert res.sum_rate_bps_hz[b, n - 1] == pytest.approx(float(rates), rel=1e-12)
    np.testing.assert_allclose(res.average_sum_rate_bps_hz, res.sum_rate_bps_hz.mean(axis=-1))
    with pytest.raises(SkycellError, match="max_rank"):
        rank_adaptive_zf(h, tx_power_w=1.0, noise_power_w=0.05, max_rank=9)


def test_torch_twin_equals_numpy_and_its_gradient_is_right() -> None:
    h = _gauss(4, 30, 16) * 1e-4
    res = rank_adaptive_zf(h, tx_power_w=1.0, noise_power_w=1e-9)
    ht = torch.tensor(h, requires_grad=True)
    r = rank_average_sum_rate_torch(
        ht, torch.from_numpy(res.order), tx_power_w=1.0, noise_power_w=1e-9
    )
    np.testing.assert_allclose(r.detach().numpy(), res.average_sum_rate_bps_hz, rtol=1e-9)
    r.sum().backward()
    assert ht.grad is not None and torch.isfinite(ht.grad).all()
    # directional derivative against central differences (order held)
    d = _gauss(4, 30, 16) * 1e-7
    num = (
        rank_adaptive_zf(
            h + d, tx_power_w=1.0, noise_power_w=1e-9, order=res.order
        ).average_sum_rate_bps_hz.sum()
        - rank_adaptive_zf(
            h - d, tx_power_w=1.0, noise_power_w=1e-9, order=res.order
        ).average_sum_rate_bps_hz.sum()
    ) / 2.0
    grad = ht.grad.numpy()
    # torch's gradient of a real function of complex z is conj(dL/dz*)-style: d = Re(<g, dz>)
    analytic = float(np.real(np.sum(np.conj(grad) * d)))
    assert analytic == pytest.approx(num, rel=1e-4)


def test_users_without_a_path_get_nothing() -> None:
    h = _gauss(10, 16)
    h[[2, 7]] = 0.0  # no path at all
    res = rank_adaptive_zf(h, tx_power_w=1.0, noise_power_w=0.1)  # N_R = 10: everyone
    assert set(res.order[-2:].tolist()) == {2, 7}  # scheduled last
    assert np.all(res.sinr[-1, -2:] < 1e-20)
    t = rank_average_sum_rate_torch(
        torch.tensor(h[None]),
        torch.from_numpy(res.order[None]),
        tx_power_w=1.0,
        noise_power_w=0.1,
    )
    assert float(t[0]) == pytest.approx(float(res.average_sum_rate_bps_hz), rel=1e-9)


# --------------------------------------------------------------------------- DFT codebook


def test_dft_codebook_is_orthonormal_and_oversampled() -> None:
    arr = PlanarArray(4, 4)
    cb = dft_codebook(arr)
    np.testing.assert_allclose(cb @ cb.conj().T, np.eye(16), atol=1e-12)
    cb2 = dft_codebook(arr, oversampling=2)
    assert cb2.shape == (64, 16)
    np.testing.assert_allclose(np.linalg.norm(cb2, axis=1), 1.0)
    with pytest.raises(SkycellError, match="oversampling"):
        dft_codebook(arr, oversampling=0)


def test_dft_transmission_interferes_where_zf_does_not() -> None:
    h = _gauss(20, 16)
    cb = dft_codebook(PlanarArray(4, 4), oversampling=2)
    dft = dft_beam_transmission(h, cb, tx_power_w=1.0, noise_power_w=1e-3, max_rank=8)
    zf = rank_adaptive_zf(h, tx_power_w=1.0, noise_power_w=1e-3, max_rank=8)
    # served users have distinct best beams, strongest report first
    gains = np.abs(h @ cb.T) ** 2
    best = np.argmax(gains, axis=1)
    assert len(set(best[dft.order].tolist())) == 8
    assert gains.max(axis=1)[dft.order[0]] == gains.max()
    # rank 1: the best beam of the strongest report, no interference
    k = dft.order[0]
    assert dft.sinr[0, 0] == pytest.approx(gains[k, best[k]] * 16 * (1.0 / 16) / 1e-3, rel=1e-12)
    # at high SNR with many users, interference makes codebook beams far worse than ZF
    assert dft.average_sum_rate_bps_hz < 0.7 * zf.average_sum_rate_bps_hz


# --------------------------------------------------------------------------- arrays, paths


def test_planar_array_layout_is_sionnas() -> None:
    # Sionna RT's PlanarArray(num_rows=2, num_cols=3, spacing 0.5): element e = col * rows + row
    expect = np.array(
        [
            [0.0, -0.5, 0.25],
            [0.0, -0.5, -0.25],
            [0.0, 0.0, 0.25],
            [0.0, 0.0, -0.25],
            [0.0, 0.5, 0.25],
            [0.0, 0.5, -0.25],
        ]
    )
    arr = PlanarArray(2, 3, 0.5)
    np.testing.assert_allclose(arr.local_offsets_wavelengths(), expect)
    lam = wavelength_m(28e9)
    down = arr.element_offsets_m(28e9)  # tilt 90: local z -> global +x, y stays, array flat
    np.testing.assert_allclose(
        down, np.column_stack([expect[:, 2], expect[:, 1], 0 * expect[:, 0]]) * lam, atol=1e-15
    )
    with pytest.raises(SkycellError, match="rows"):
        PlanarArray(0, 4)


def test_steering_vector_closed_forms() -> None:
    arr = PlanarArray(1, 8, 0.5)
    r = arr.element_offsets_m(3e9, tilt_deg=0.0)  # a horizontal line along global y
    broadside = steering_vectors(np.array([1.0, 0.0, 0.0]), r, 3e9)
    np.testing.assert_allclose(broadside, np.ones(8), atol=1e-12)
    endfire = steering_vectors(np.array([0.0, 1.0, 0.0]), r, 3e9)
    ratio = endfire[1:] / endfire[:-1]  # half a wavelength along the wave: a phase of pi
    np.testing.assert_allclose(ratio, -np.ones(7), atol=1e-12)


def test_channel_from_paths_is_linear_in_paths() -> None:
    r = PlanarArray(4, 4).element_offsets_m(28e9)
    d = RNG.normal(size=(2, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    a = _gauss(2)
    both = channel_from_paths(a, d, r, 28e9)
    each = a[0] * steering_vectors(d[0], r, 28e9) + a[1] * steering_vectors(d[1], r, 28e9)
    np.testing.assert_allclose(both, each, rtol=1e-13)
    c = carrier_phase_coefficients(1.0, 1e-6, 28e9)
    assert c == pytest.approx(np.exp(-2j * np.pi * 28e3))


def test_analytic_paths_carry_the_engine_gain_and_the_geometry() -> None:
    fp = np.array([[10.0, -5.0], [20.0, -5.0], [20.0, 5.0], [10.0, 5.0]])
    city = City(bounds_m=(-50, -50, 50, 50), buildings=Buildings((fp,), np.array([30.0])))
    eng = AnalyticEngine(
        city, frequency_hz=28e9, pathloss_model="al_hourani", station_antenna="tr38901"
    )
    st = np.array([[0.0, 0.0, 20.0], [5.0, 30.0, 60.0]])
    us = np.array([[40.0, 0.0, 1.5], [-30.0, 10.0, 1.5], [0.0, -40.0, 1.5]])
    ps = analytic_paths(eng, st, us)
    np.testing.assert_allclose(
        ps.path_gain_db, eng.path_gain_db(st, us, azimuth_deg=0.0, tilt_deg=90.0), atol=1e-9
    )
    assert not ps.any_los[0, 0] and ps.any_los[0, 1]  # the building hides user 0 from st 0
    r = PlanarArray(4, 4).element_offsets_m(28e9)
    h = ps.channel(r)
    d = np.linalg.norm(us[None] - st[:, None], axis=-1)
    k = (us[None] - st[:, None]) / d[..., None]
    lam = wavelength_m(28e9)
    expect = (
        np.sqrt(10 ** (ps.path_gain_db / 10))[..., None]
        * np.exp(-2j * np.pi * d / lam)[..., None]
        * steering_vectors(k, r, 28e9)
    )
    np.testing.assert_allclose(h, expect, rtol=1e-9)


# --------------------------------------------------------------------------- Sionna RT

_OK, _WHY = rt_available()
needs_rt = pytest.mark.skipif(not _OK, reason=f"Sionna RT engine unavailable: {_WHY}")


@pytest.fixture(scope="module")
def street() -> City:
    """Two buildings along a street: LoS, reflections and refraction."""
    fps = (
        np.array([[-40.0, 12.0], [40.0, 12.0], [40.0, 30.0], [-40.0, 30.0]]),
        np.array([[-40.0, -30.0], [40.0, -30.0], [40.0, -12.0], [-40.0, -12.0]]),
    )
    return City(
        bounds_m=(-60, -60, 60, 60),
        buildings=Buildings(fps, np.array([25.0, 15.0]), materials=("concrete", "glass")),
    )


@needs_rt
def test_sionna_paths_with_steering_vectors_equal_sionnas_own_array(street: City) -> None:
    from skycell.radio.beamforming import sionna_array_channel, sionna_paths
    from skycell.radio.sionna_engine import SionnaEngine

    eng = SionnaEngine(
        street,
        frequency_hz=28e9,
        station_antenna="tr38901",
        samples=20_000,
        ground_material="concrete",
    )
    arr = PlanarArray(4, 4)
    st = np.array([[0.0, 0.0, 40.0], [-10.0, 5.0, 22.0]])
    us = np.array([[30.0, 4.0, 1.5], [-25.0, -6.0, 1.5], [5.0, 45.0, 1.5], [0.0, 0.0, 1.5]])
    ps = sionna_paths(eng, st, us)
    assert ps.valid.sum() > ps.any_los.sum()  # reflections too, not only the direct paths
    h = ps.channel(arr.element_offsets_m(28e9))
    ref = sionna_array_channel(eng, st, us, arr)
    assert np.abs(h - ref).max() <= 1e-5 * np.abs(ref).max()


@needs_rt
def test_sionna_los_channel_equals_the_analytic_free_space_channel() -> None:
    from skycell.radio.beamforming import sionna_paths
    from skycell.radio.sionna_engine import SionnaEngine

    city = City(bounds_m=(-100, -100, 100, 100), buildings=Buildings.empty())
    # array facing +x (tilt 0): V-polarised station and user are matched on every direct path
    # (theta_hat of d and of -d coincide), so free space is the exact reference
    sio = SionnaEngine(
        city,
        frequency_hz=28e9,
        station_antenna="isotropic",
        max_depth=0,
        ground_material="concrete",
    )
    ana = AnalyticEngine(
        city, frequency_hz=28e9, pathloss_model="free_space", station_antenna="isotropic"
    )
    st = np.array([[-20.0, 5.0, 30.0], [10.0, -15.0, 55.0]])
    us = np.array([[40.0, 30.0, 1.5], [35.0, -50.0, 1.5], [60.0, 0.0, 10.0]])
    r = PlanarArray(4, 4).element_offsets_m(28e9, tilt_deg=0.0)
    hs = sionna_paths(sio, st, us, tilt_deg=0.0).channel(r)
    ha = analytic_paths(ana, st, us, tilt_deg=0.0).channel(r)
    ratio = hs / ha  # one constant per link: the same channel up to a common phase
    np.testing.assert_allclose(np.abs(ratio), 1.0, atol=2e-4)
    np.testing.assert_allclose(ratio, ratio[..., :1] * np.ones(16), atol=5e-4)
    za = rank_adaptive_zf(ha, tx_power_w=1.0, noise_power_w=1e-12)
    zs = rank_adaptive_zf(hs, tx_power_w=1.0, noise_power_w=1e-12)
    np.testing.assert_allclose(zs.sum_rate_bps_hz, za.sum_rate_bps_hz, rtol=1e-3)


@needs_rt
def test_dual_polarised_users_recover_the_polarisation_free_los_power() -> None:
    from skycell.radio.beamforming import sionna_paths
    from skycell.radio.sionna_engine import SionnaEngine

    city = City(bounds_m=(-100, -100, 100, 100), buildings=Buildings.empty())
    st = np.array([[-20.0, 5.0, 30.0], [10.0, -15.0, 55.0]])
    us = np.array([[40.0, 30.0, 1.5], [35.0, -50.0, 1.5], [3.0, 2.0, 1.5]])
    r = PlanarArray(4, 4).element_offsets_m(28e9)  # facing the ground
    ana = AnalyticEngine(
        city, frequency_hz=28e9, pathloss_model="free_space", station_antenna="isotropic"
    )
    ha = analytic_paths(ana, st, us).channel(r)
    common = {"frequency_hz": 28e9, "station_antenna": "isotropic", "max_depth": 0}
    v = SionnaEngine(city, **common, ground_material="concrete")
    x = SionnaEngine(city, **common, ground_material="concrete", user_polarization="cross")
    hv = sionna_paths(v, st, us).channel(r)
    hx = sionna_paths(x, st, us).channel(r)
    # a downward V-polarised array and a V user lose power to polarisation mismatch ...
    assert np.all(np.abs(hv[..., 0]) < np.abs(ha[..., 0]) * (1 + 1e-4))
    assert np.any(np.abs(hv[..., 0]) < 0.7 * np.abs(ha[..., 0]))
    # ... the co-phased dual-polarised user recovers all of it: free space exactly
    ratio = hx / ha
    np.testing.assert_allclose(np.abs(ratio), 1.0, atol=2e-4)
    np.testing.assert_allclose(ratio, ratio[..., :1] * np.ones(16), atol=5e-4)
