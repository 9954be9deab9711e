"""Differentiable (torch) antenna patterns: gain and polarised far field of an oriented antenna.

The torch twins of :mod:`skycell.radio.antenna`, used by the tuning of azimuth, tilt and power
(:mod:`skycell.plan.tune`), which differentiates coverage maps with respect to the orientation.
Same frame as the numpy functions and as Sionna RT: a direction ``d`` (global) is seen by the
antenna as ``d' = R^T d`` with ``R = R_z(azimuth) R_y(tilt)`` (TR 38.901 §7.1.3); azimuth is
counter-clockwise from ``+x``, tilt is measured downward from the horizon (90 deg = straight down),
angles are in radians here.

* :func:`pattern_gain_dbi_torch`: the power gain [dBi] (TR 38.901 Table 7.3-1, half-wave dipole,
  isotropic).
* :func:`pattern_field_torch`: the far field of the vertically polarised element, rotated to the
  global frame and split on the global spherical unit vectors ``theta_hat(d)`` and
  ``phi_hat(d)`` (TR 38.901 eq. 7.1-11 by construction rather than by the angle psi): what a
  ray-traced map needs to re-weight rays traced with the two polarisations of an isotropic
  source (:class:`skycell.radio.sionna_engine.RayMap`).
"""

from __future__ import annotations

import math
from typing import Final

import torch

from skycell.radio.antenna import (
    DIPOLE_PEAK_GAIN_DBI,
    GAIN_FLOOR_DBI,
    TR38901_BEAMWIDTH_DEG,
    TR38901_MAX_GAIN_DBI,
    TR38901_SLA_DB,
    check_antenna_pattern,
)

_TINY: Final[float] = 1e-300


def _to_local(
    direction_xyz: torch.Tensor, azimuth_rad: torch.Tensor, tilt_rad: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``R^T d`` component by component (``R = R_z(azimuth) R_y(tilt)``)."""
    dx, dy, dz = direction_xyz[..., 0], direction_xyz[..., 1], direction_xyz[..., 2]
    ca, sa = torch.cos(azimuth_rad), torch.sin(azimuth_rad)
    ct, st = torch.cos(tilt_rad), torch.sin(tilt_rad)
    xl = ca * ct * dx + sa * ct * dy - st * dz
    yl = -sa * dx + ca * dy
    zl = ca * st * dx + sa * st * dy + ct * dz
    return xl, yl, zl


def _gain_dbi_local(
    pattern: str, xl: torch.Tensor, yl: torch.Tensor, zl: torch.Tensor
) -> torch.Tensor:
    """Gain [dBi] of the element toward a local direction (any length)."""
    rho = torch.sqrt(xl * xl + yl * yl + _TINY)
    if pattern == "isotropic":
        return torch.zeros_like(rho)
    if pattern == "dipole":
        norm = torch.sqrt(xl * xl + yl * yl + zl * zl + _TINY)
        sin_t = rho / norm
        cos_t = zl / norm
        field_ = torch.abs(torch.cos(0.5 * math.pi * cos_t)) / torch.clamp(sin_t, min=_TINY)
        gain = DIPOLE_PEAK_GAIN_DBI + 20.0 * torch.log10(torch.clamp(field_, min=_TINY))
        gain = torch.clamp(gain, min=GAIN_FLOOR_DBI)
        return torch.where(sin_t < 1e-12, torch.full_like(gain, GAIN_FLOOR_DBI), gain)
    zenith_deg = torch.rad2deg(torch.atan2(rho, zl))
    origin = (xl == 0.0) & (yl == 0.0)
    xs = torch.where(origin, torch.full_like(xl, _TINY), xl)
    azimuth_deg = torch.rad2deg(torch.atan2(yl, xs))
    bw = TR38901_BEAMWIDTH_DEG
    a_ev = -torch.clamp(12.0 * ((zenith_deg - 90.0) / bw) ** 2, max=TR38901_SLA_DB)
    a_eh = -torch.clamp(12.0 * (azimuth_deg / bw) ** 2, max=TR38901_SLA_DB)
    return TR38901_MAX_GAIN_DBI - torch.clamp(-(a_ev + a_eh), max=TR38901_SLA_DB)


def pattern_gain_dbi_torch(
    pattern: str,
    direction_xyz: torch.Tensor,
    azimuth_rad: torch.Tensor,
    tilt_rad: torch.Tensor,
) -> torch.Tensor:
    """Differentiable gain [dBi] of a mechanically oriented antenna toward global directions.

    The torch twin of :func:`skycell.radio.antenna.antenna_gain_dbi` (same frame, angles in
    radians). ``tr38901`` is TR 38.901 Table 7.3-1: ``A_EV = -min(12 ((theta'' - 90)/65)^2, 30)``,
    ``A_EH = -min(12 (phi''/65)^2, 30)``, ``G = 8 + (-min(-(A_EV + A_EH), 30))`` dBi.

    The local zenith is ``atan2(sqrt(x'^2 + y'^2 + 1e-300), z')`` rather than ``arccos``, so the
    gradient stays finite along the local z axis (the value differs by < 1e-150 rad).

    Args:
        pattern: one of ``isotropic``, ``dipole``, ``tr38901``.
        direction_xyz: ``(..., 3)`` vectors from the antenna toward the other end (any length).
        azimuth_rad: boresight heading(s) [rad], broadcast against ``direction_xyz.shape[:-1]``.
        tilt_rad: boresight downtilt(s) [rad], broadcast likewise.

    Returns:
        Gain [dBi], the broadcast shape.
    """
    check_antenna_pattern(pattern)
    return _gain_dbi_local(pattern, *_to_local(direction_xyz, azimuth_rad, tilt_rad))


def pattern_field_torch(
    pattern: str,
    direction_xyz: torch.Tensor,
    azimuth_rad: torch.Tensor,
    tilt_rad: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Far field of the oriented, vertically polarised element on the global spherical basis.

    The element radiates ``sqrt(G) theta_hat'`` in its local frame (vertical polarisation, as
    Sionna RT's ``polarization="V"`` patterns and paper 000's 3GPP antenna). Rotated to the global
    frame that vector is ``R theta_hat'(d')``; its components on the global ``theta_hat(d)`` and
    ``phi_hat(d)`` are returned. ``alpha^2 + beta^2 = G`` (linear); a tilted or turned element
    puts part of its power in ``phi_hat`` (TR 38.901 eq. 7.1-11, polarisation angle psi).

    On the poles, where the spherical basis is undefined, the azimuth is taken as 0 (as
    ``atan2(0, 0)`` in Sionna RT), i.e. ``theta_hat = (cos theta, 0, -sin theta)`` and
    ``phi_hat = (0, 1, 0)``.

    Args:
        pattern: one of ``isotropic``, ``dipole``, ``tr38901``.
        direction_xyz: ``(..., 3)`` UNIT vectors from the antenna (global frame).
        azimuth_rad, tilt_rad: orientation [rad], broadcast against ``direction_xyz.shape[:-1]``.

    Returns:
        ``(alpha, beta)``: field components [sqrt of linear gain] on ``theta_hat(d)`` and
        ``phi_hat(d)``, the broadcast shape.
    """
    check_antenna_pattern(pattern)
    xl, yl, zl = _to_local(direction_xyz, azimuth_rad, tilt_rad)
    amplitude = torch.pow(10.0, _gain_dbi_local(pattern, xl, yl, zl) / 20.0)
    # local theta_hat(d') = (cos th cos ph, cos th sin ph, -sin th) with cos ph = x'/rho ...
    rho_l = torch.sqrt(xl * xl + yl * yl + _TINY)  # finite gradient on the local pole
    pole_l = rho_l < 1e-12
    safe_l = torch.where(pole_l, torch.ones_like(rho_l), rho_l)
    cph_l = torch.where(pole_l, torch.ones_like(rho_l), xl / safe_l)
    sph_l = torch.where(pole_l, torch.zeros_like(rho_l), yl / safe_l)
    tx, ty, tz = zl * cph_l, zl * sph_l, -rho_l
    # rotate it to the global frame: R v with R = R_z(a) R_y(t)
    ca, sa = torch.cos(azimuth_rad), torch.sin(azimuth_rad)
    ct, st = torch.cos(tilt_rad), torch.sin(tilt_rad)
    u = ct * tx + st * tz
    gx, gy, gz = ca * u - sa * ty, sa * u + ca * ty, -st * tx + ct * tz
    # global spherical basis at d
    dx, dy, dz = direction_xyz[..., 0], direction_xyz[..., 1], direction_xyz[..., 2]
    rho = torch.sqrt(dx * dx + dy * dy)
    pole = rho < 1e-12
    safe = torch.where(pole, torch.ones_like(rho), rho)
    cph = torch.where(pole, torch.ones_like(rho), dx / safe)
    sph = torch.where(pole, torch.zeros_like(rho), dy / safe)
    alpha = gx * dz * cph + gy * dz * sph - gz * rho
    beta = -gx * sph + gy * cph
    return amplitude * alpha, amplitude * beta
