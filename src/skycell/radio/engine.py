"""Channel engines: from station and user positions to LoS, path gain and received power.

:class:`ChannelEngine` is the interface the planners use; :class:`AnalyticEngine` implements it
with the analytic models of :mod:`skycell.radio.pathloss` and :mod:`skycell.radio.antenna`, and
the exact geometric line of sight of the city (segment against building prisms). A ray-traced
engine (Sionna RT) implements the same interface.

Layout: stations (transmitters) ``tx_xyz_m`` are ``(N, 3)``, users (receivers) ``rx_xyz_m`` are
``(U, 3)``, in the city's local metric frame with the flat ground at ``z = 0`` (so ``z`` is the
height above ground the models need); every link quantity is ``(N, U)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skycell.radio.antenna import antenna_gain_dbi, check_antenna_pattern
from skycell.radio.names import ENVIRONMENTS
from skycell.radio.pathloss import check_pathloss_model, path_loss_db

if TYPE_CHECKING:
    from skycell.city.buildings import City

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Station-user pairs per block of :meth:`AnalyticEngine.path_gain_db`: bounds the ``(N, U, 3)``
#: temporaries (about 250 MB at 2 million pairs) for city-scale user counts.
CHUNK_PAIRS: Final[int] = 2_000_000

#: Path gain [dB] a ray-traced engine reports where no traced path (or ray) connects a station and
#: a point; anything at or below it means "no path".
PATH_GAIN_FLOOR_DB: Final[float] = -250.0

#: Shortest link distance the models are evaluated at [m]; closer pairs are clamped to it so that
#: a user at a station's position gets a finite loss instead of ``-inf``.
MIN_DISTANCE_M: Final[float] = 1.0


def has_path(path_gain_db: ArrayLike) -> BoolArray:
    """True where a path gain [dB] is a traced path's, not the no-path floor
    ``PATH_GAIN_FLOOR_DB`` (1 dB of margin)."""
    return np.asarray(path_gain_db, dtype=np.float64) > PATH_GAIN_FLOOR_DB + 1.0


@runtime_checkable
class ChannelEngine(Protocol):
    """What every channel engine offers (analytic, ray-traced)."""

    def line_of_sight(self, tx_xyz_m: ArrayLike, rx_xyz_m: ArrayLike) -> BoolArray:
        """``(N, U)`` True where the station-user segment crosses no building."""
        ...

    def path_gain_db(
        self,
        tx_xyz_m: ArrayLike,
        rx_xyz_m: ArrayLike,
        *,
        azimuth_deg: ArrayLike | None = None,
        tilt_deg: ArrayLike | None = None,
        los: ArrayLike | None = None,
    ) -> FloatArray:
        """``(N, U)`` path gain [dB] including both antennas' gains (negative of the loss)."""
        ...

    def received_power_dbm(
        self,
        tx_xyz_m: ArrayLike,
        rx_xyz_m: ArrayLike,
        *,
        tx_power_dbm: ArrayLike,
        azimuth_deg: ArrayLike | None = None,
        tilt_deg: ArrayLike | None = None,
    ) -> FloatArray:
        """``(N, U)`` received power [dBm] = transmit power + path gain."""
        ...


def _as_points(x: ArrayLike, name: str) -> FloatArray:
    p = np.asarray(x, dtype=np.float64)
    if p.ndim == 1 and p.shape == (3,):
        p = p.reshape(1, 3)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"{name} must have shape (K, 3) [m], got {np.shape(x)}")
    return p


def _per_station(x: ArrayLike | None, n: int, name: str, default: float) -> FloatArray:
    """A scalar or ``(N,)`` per-station value as an ``(N, 1)`` column."""
    if x is None:
        return np.full((n, 1), default)
    v = np.asarray(x, dtype=np.float64)
    if v.ndim == 0:
        return np.full((n, 1), float(v))
    v = v.reshape(-1)
    if v.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got {np.shape(x)}")
    return v.reshape(n, 1)


class AnalyticEngine:
    """Analytic channel: geometric LoS from the city, model path loss, antenna patterns.

    For each station-user link the engine decides LoS exactly (the 3-D segment clears every
    building prism, :meth:`skycell.city.buildings.City.line_of_sight`), evaluates the named
    path-loss model for that state (:func:`skycell.radio.pathloss.path_loss_db`) and adds the
    station's and user's antenna gains toward each other
    (:func:`skycell.radio.antenna.antenna_gain_dbi`). No shadow fading, no fast fading.

    Args:
        city: the city geometry.
        frequency_hz: carrier frequency [Hz].
        pathloss_model: one of ``PATHLOSS_MODELS`` (default ``"tr36777_uma_av"``).
        environment: Al-Hourani environment, one of ``ENVIRONMENTS`` (used by ``al_hourani``
            and ``al_hourani_mean``; the latter averages over the LoS probability and ignores
            the geometric LoS and any ``los`` override).
        station_antenna: station pattern, one of ``ANTENNA_PATTERNS`` (oriented by
            ``azimuth_deg``/``tilt_deg``; default ``"tr38901"``, paper 000).
        user_antenna: user pattern (fixed orientation: azimuth 0, tilt 0, i.e. a dipole stands
            vertical; default ``"isotropic"``).

    Raises:
        ValueError: unknown model, environment or pattern name (the message lists the allowed
            names), or a non-positive frequency.
    """

    def __init__(
        self,
        city: City,
        *,
        frequency_hz: float,
        pathloss_model: str = "tr36777_uma_av",
        environment: str = "urban",
        station_antenna: str = "tr38901",
        user_antenna: str = "isotropic",
    ) -> None:
        check_pathloss_model(pathloss_model)
        if environment not in ENVIRONMENTS:
            allowed = ", ".join(repr(e) for e in ENVIRONMENTS)
            raise ValueError(f"unknown environment {environment!r}; choose one of: {allowed}")
        check_antenna_pattern(station_antenna)
        check_antenna_pattern(user_antenna)
        if not (np.isfinite(frequency_hz) and frequency_hz > 0):
            raise ValueError(f"frequency_hz must be a positive number [Hz], got {frequency_hz}")
        self.city = city
        self.frequency_hz = float(frequency_hz)
        self.pathloss_model = pathloss_model
        self.environment = environment
        self.station_antenna = station_antenna
        self.user_antenna = user_antenna

    def __repr__(self) -> str:
        return (
            f"AnalyticEngine(frequency_hz={self.frequency_hz:g}, "
            f"pathloss_model={self.pathloss_model!r}, environment={self.environment!r}, "
            f"station_antenna={self.station_antenna!r}, user_antenna={self.user_antenna!r})"
        )

    def line_of_sight(self, tx_xyz_m: ArrayLike, rx_xyz_m: ArrayLike) -> BoolArray:
        """``(N, U)`` True where the segment from station n to user u crosses no building.

        One vectorised :meth:`City.line_of_sight` call over all ``N * U`` segments.
        """
        tx = _as_points(tx_xyz_m, "tx_xyz_m")
        rx = _as_points(rx_xyz_m, "rx_xyz_m")
        return self.city.line_of_sight_matrix(tx, rx)

    def path_gain_db(
        self,
        tx_xyz_m: ArrayLike,
        rx_xyz_m: ArrayLike,
        *,
        azimuth_deg: ArrayLike | None = None,
        tilt_deg: ArrayLike | None = None,
        los: ArrayLike | None = None,
    ) -> FloatArray:
        """``(N, U)`` path gain [dB]: ``G_station + G_user - PL``.

        Args:
            tx_xyz_m: ``(N, 3)`` station positions [m].
            rx_xyz_m: ``(U, 3)`` user positions [m].
            azimuth_deg: station boresight headings [deg], scalar or ``(N,)``; default 0.
            tilt_deg: station boresight downtilts [deg], scalar or ``(N,)``; default 90
                (straight down, paper 000's starting orientation).
            los: optional ``(N, U)`` LoS override; computed from the city when ``None``.
        """
        tx = _as_points(tx_xyz_m, "tx_xyz_m")
        rx = _as_points(rx_xyz_m, "rx_xyz_m")
        n, u = tx.shape[0], rx.shape[0]
        az = _per_station(azimuth_deg, n, "azimuth_deg", 0.0)
        tilt = _per_station(tilt_deg, n, "tilt_deg", 90.0)
        los_all = None if los is None else np.broadcast_to(np.asarray(los, dtype=bool), (n, u))
        step = max(1, CHUNK_PAIRS // max(n, 1))
        if u <= step:
            return self._path_gain_block(tx, rx, az, tilt, los_all)
        # Chunked over users: the (N, U, 3) temporaries stay bounded (city-scale user counts).
        out = np.empty((n, u), dtype=np.float64)
        for lo in range(0, u, step):
            hi = min(lo + step, u)
            block = None if los_all is None else los_all[:, lo:hi]
            out[:, lo:hi] = self._path_gain_block(tx, rx[lo:hi], az, tilt, block)
        return out

    def _path_gain_block(
        self,
        tx: FloatArray,
        rx: FloatArray,
        az: FloatArray,
        tilt: FloatArray,
        los: BoolArray | None,
    ) -> FloatArray:
        """:meth:`path_gain_db` for one block of users (arguments already checked)."""
        n, u = tx.shape[0], rx.shape[0]
        if self.pathloss_model == "al_hourani_mean":
            # paper 004: a mean over the LoS probability, no geometric LoS decision needed
            los_nu = np.ones((n, u), dtype=bool)
        elif los is None:
            los_nu = self.line_of_sight(tx, rx)
        else:
            los_nu = np.broadcast_to(np.asarray(los, dtype=bool), (n, u))

        delta = rx[None, :, :] - tx[:, None, :]  # (N, U, 3), station -> user
        d3 = np.maximum(np.linalg.norm(delta, axis=-1), MIN_DISTANCE_M)
        d2 = np.hypot(delta[..., 0], delta[..., 1])
        station_h = np.broadcast_to(tx[:, None, 2], (n, u))
        user_h = np.broadcast_to(rx[None, :, 2], (n, u))

        loss_db = path_loss_db(
            self.pathloss_model,
            d3,
            frequency_hz=self.frequency_hz,
            los=los_nu,
            station_height_m=station_h,
            user_height_m=user_h,
            horizontal_distance_m=d2,
            environment=self.environment,
        )
        g_station = antenna_gain_dbi(self.station_antenna, delta, azimuth_deg=az, tilt_deg=tilt)
        g_user = antenna_gain_dbi(self.user_antenna, -delta)
        return np.asarray(g_station + g_user - loss_db, dtype=np.float64).reshape(n, u)

    def received_power_dbm(
        self,
        tx_xyz_m: ArrayLike,
        rx_xyz_m: ArrayLike,
        *,
        tx_power_dbm: ArrayLike,
        azimuth_deg: ArrayLike | None = None,
        tilt_deg: ArrayLike | None = None,
    ) -> FloatArray:
        """``(N, U)`` received power [dBm] = ``tx_power_dbm`` (scalar or ``(N,)``) + path gain."""
        tx = _as_points(tx_xyz_m, "tx_xyz_m")
        p_tx = _per_station(tx_power_dbm, tx.shape[0], "tx_power_dbm", 0.0)
        gain = self.path_gain_db(tx, rx_xyz_m, azimuth_deg=azimuth_deg, tilt_deg=tilt_deg)
        return np.asarray(p_tx + gain, dtype=np.float64)
