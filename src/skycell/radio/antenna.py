"""Antenna gain patterns: pure, vectorised functions, chosen by checked names.

Patterns (``ANTENNA_PATTERNS``):

``isotropic``
    0 dBi in every direction.
``dipole``
    Half-wave dipole along the local z axis (vertical when unrotated):
    ``G(theta) = 2.15 dBi + 20 log10(|cos(pi/2 cos theta) / sin theta|)`` (Balanis, *Antenna
    Theory*, 4th ed., section 4.6: directivity 1.643 = 2.15 dBi at broadside, null along
    the axis); as Sionna RT's ``hw_dipole`` and paper 000's UE antenna.
``tr38901``
    3GPP TR 38.901 v16.1.0 Table 7.3-1 single-element pattern, boresight along the local x axis:
    ``A_EV = -min(12 ((theta'' - 90)/65)^2, 30)``, ``A_EH = -min(12 (phi''/65)^2, 30)``,
    ``A = -min(-(A_EV + A_EH), 30)``, ``G = 8 dBi + A`` (theta'' zenith angle, phi'' azimuth in the
    element's local frame, degrees); paper 000's ABS antenna.

Orientation convention (mechanical, per antenna):

- ``azimuth_deg``: heading of the boresight in the horizontal plane, counter-clockwise from the
  global +x axis (bearing angle alpha of TR 38.901 section 7.1.3);
- ``tilt_deg``: downward tilt of the boresight below the horizon (downtilt beta of TR 38.901
  7.1.3): 0 = horizontal, 90 = straight down (-z), as paper 000's "tilt 90 deg = panel facing the
  ground"; negative values tilt up.

The antenna's local frame is the global frame rotated by ``R = R_z(alpha) R_y(beta)`` (TR 38.901
section 7.1.3, slant 0); a global direction ``d`` has local coordinates ``R^T d``, from which the
local zenith ``theta'' = arccos(z')`` and azimuth ``phi'' = atan2(y', x')`` follow. The same
rotation applies to every pattern: a dipole with tilt 90 deg lies horizontal along its azimuth.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skycell.radio.names import ANTENNA_PATTERNS

FloatArray = NDArray[np.float64]

#: Peak gain of a half-wave dipole [dBi] (directivity 1.643; Balanis section 4.6).
DIPOLE_PEAK_GAIN_DBI: Final[float] = 2.15
#: Gain reported in a pattern's exact nulls [dBi] (instead of -inf).
GAIN_FLOOR_DBI: Final[float] = -200.0

#: TR 38.901 Table 7.3-1: maximum directional gain of an element [dBi].
TR38901_MAX_GAIN_DBI: Final[float] = 8.0
#: TR 38.901 Table 7.3-1: 3 dB beamwidth, vertical and horizontal [deg].
TR38901_BEAMWIDTH_DEG: Final[float] = 65.0
#: TR 38.901 Table 7.3-1: side-lobe level SLA_V and front-back ratio A_max [dB].
TR38901_SLA_DB: Final[float] = 30.0


def _f64(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def isotropic_gain_dbi(zenith_deg: ArrayLike, azimuth_deg: ArrayLike) -> FloatArray:
    """Isotropic antenna: 0 dBi, broadcast shape of the (local) angles."""
    shape = np.broadcast_shapes(np.shape(zenith_deg), np.shape(azimuth_deg))
    return np.zeros(shape, dtype=np.float64)


def dipole_gain_dbi(zenith_deg: ArrayLike, azimuth_deg: ArrayLike) -> FloatArray:
    """Half-wave dipole along the local z axis [dBi].

    ``G(theta) = 2.15 + 20 log10(|cos(pi/2 cos theta) / sin theta|)`` (Balanis section 4.6),
    independent of the azimuth; ``GAIN_FLOOR_DBI`` along the axis (theta = 0 or 180 deg).

    Args:
        zenith_deg: local zenith angle theta [deg] (0 = along the dipole axis).
        azimuth_deg: local azimuth [deg] (ignored, broadcast into the result's shape).
    """
    theta = np.radians(_f64(zenith_deg))
    shape = np.broadcast_shapes(theta.shape, np.shape(azimuth_deg))
    sin_t = np.sin(theta)
    with np.errstate(divide="ignore", invalid="ignore"):
        field = np.abs(np.cos(0.5 * np.pi * np.cos(theta)) / sin_t)
        gain = DIPOLE_PEAK_GAIN_DBI + 20.0 * np.log10(field)
    gain = np.where(np.abs(sin_t) < 1e-12, GAIN_FLOOR_DBI, gain)
    return np.broadcast_to(np.maximum(gain, GAIN_FLOOR_DBI), shape).astype(np.float64)


def tr38901_gain_dbi(zenith_deg: ArrayLike, azimuth_deg: ArrayLike) -> FloatArray:
    """3GPP TR 38.901 single antenna element [dBi] (Table 7.3-1).

    ``A_EV = -min(12 ((theta'' - 90)/65)^2, SLA_V = 30)``, ``A_EH = -min(12 (phi''/65)^2, 30)``,
    ``A = -min(-(A_EV + A_EH), A_max = 30)``, gain ``8 dBi + A``: 8 dBi at boresight, 5 dBi at
    32.5 deg off it (3 dB beamwidth 65 deg), -22 dBi floor.

    Args:
        zenith_deg: local zenith angle theta'' [deg] (90 = in the boresight's horizontal plane).
        azimuth_deg: local azimuth phi'' [deg] (0 = boresight), wrapped to [-180, 180).
    """
    theta = _f64(zenith_deg)
    phi = (_f64(azimuth_deg) + 180.0) % 360.0 - 180.0
    a_ev = -np.minimum(12.0 * ((theta - 90.0) / TR38901_BEAMWIDTH_DEG) ** 2, TR38901_SLA_DB)
    a_eh = -np.minimum(12.0 * (phi / TR38901_BEAMWIDTH_DEG) ** 2, TR38901_SLA_DB)
    a = -np.minimum(-(a_ev + a_eh), TR38901_SLA_DB)
    return _f64(TR38901_MAX_GAIN_DBI + a)


def rotation_matrix(azimuth_deg: ArrayLike, tilt_deg: ArrayLike) -> FloatArray:
    """Rotation matrices ``R = R_z(azimuth) R_y(tilt)``, antenna-local to global, ``(..., 3, 3)``.

    Columns are the local axes in global coordinates; column 0 is the boresight
    ``(cos t cos a, cos t sin a, -sin t)`` (TR 38.901 section 7.1.3, bearing ``a``, downtilt ``t``
    and no slant). See the module docstring for the convention.
    """
    az = np.radians(_f64(azimuth_deg))
    tilt = np.radians(_f64(tilt_deg))
    az, tilt = np.broadcast_arrays(az, tilt)
    ca, sa = np.cos(az), np.sin(az)
    ct, st = np.cos(tilt), np.sin(tilt)
    zero = np.zeros_like(az)
    rot = np.stack(
        [
            np.stack([ca * ct, -sa, ca * st], axis=-1),
            np.stack([sa * ct, ca, sa * st], axis=-1),
            np.stack([-st, zero, ct], axis=-1),
        ],
        axis=-2,
    )
    return _f64(rot)


def local_angles_deg(
    direction_xyz: ArrayLike, *, azimuth_deg: ArrayLike = 0.0, tilt_deg: ArrayLike = 0.0
) -> tuple[FloatArray, FloatArray]:
    """Zenith and azimuth [deg] of global directions in the antenna's local frame.

    Args:
        direction_xyz: ``(..., 3)`` directions from the antenna toward the other end (need not be
            normalised; zero vectors give zenith 90 deg, azimuth 0).
        azimuth_deg: boresight heading(s), broadcast against ``direction_xyz.shape[:-1]``.
        tilt_deg: boresight downtilt(s), broadcast likewise.

    Returns:
        ``(zenith_deg, azimuth_deg)`` local angles, each of the broadcast shape.
    """
    d = _f64(direction_xyz)
    if d.shape[-1:] != (3,):
        raise ValueError(f"direction_xyz must have shape (..., 3), got {d.shape}")
    rot = rotation_matrix(azimuth_deg, tilt_deg)
    local = np.einsum("...ji,...j->...i", rot, d)  # R^T d
    norm = np.linalg.norm(local, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos_zenith = np.where(norm > 0.0, local[..., 2] / norm, 0.0)
    zenith = np.degrees(np.arccos(np.clip(cos_zenith, -1.0, 1.0)))
    azimuth = np.degrees(np.arctan2(local[..., 1], local[..., 0]))
    return _f64(zenith), _f64(azimuth)


def check_antenna_pattern(pattern: str) -> None:
    """Raise ``ValueError`` listing ``ANTENNA_PATTERNS`` unless ``pattern`` is one of them."""
    if pattern not in ANTENNA_PATTERNS:
        allowed = ", ".join(repr(a) for a in ANTENNA_PATTERNS)
        raise ValueError(f"unknown antenna pattern {pattern!r}; choose one of: {allowed}")


def antenna_gain_dbi(
    pattern: str,
    direction_xyz: ArrayLike,
    *,
    azimuth_deg: ArrayLike = 0.0,
    tilt_deg: ArrayLike = 0.0,
) -> FloatArray:
    """Gain [dBi] of a mechanically oriented antenna toward global directions.

    Args:
        pattern: one of ``ANTENNA_PATTERNS`` (``isotropic``, ``dipole``, ``tr38901``).
        direction_xyz: ``(..., 3)`` vectors from the antenna toward the other end of the link.
        azimuth_deg: boresight heading, counter-clockwise from +x [deg]; scalar or broadcast
            against ``direction_xyz.shape[:-1]`` (e.g. ``(N, 1)`` for N stations and U users).
        tilt_deg: boresight downtilt below the horizon [deg]; 90 = straight down.

    Returns:
        Gain [dBi] of shape ``direction_xyz.shape[:-1]`` (broadcast with the angles).

    Raises:
        ValueError: unknown pattern name (the message lists the allowed names) or a last axis
            other than 3.
    """
    check_antenna_pattern(pattern)
    if pattern == "isotropic":  # 0 dBi everywhere: no need for the local angles
        shape = np.shape(direction_xyz)
        if shape[-1:] != (3,):
            raise ValueError(f"direction_xyz must have shape (..., 3), got {shape}")
        out = np.broadcast_shapes(shape[:-1], np.shape(azimuth_deg), np.shape(tilt_deg))
        return np.zeros(out, dtype=np.float64)
    zenith, azimuth = local_angles_deg(direction_xyz, azimuth_deg=azimuth_deg, tilt_deg=tilt_deg)
    if pattern == "dipole":
        return dipole_gain_dbi(zenith, azimuth)
    if pattern == "tr38901":
        return tr38901_gain_dbi(zenith, azimuth)
    raise AssertionError(f"antenna pattern {pattern!r} is listed in ANTENNA_PATTERNS but not wired")
