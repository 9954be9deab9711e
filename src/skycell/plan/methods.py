"""Placement methods by name: ``placement.method`` and ``skycell plan --method``.

The gradient method of paper 000 places a given fleet over areas of interest; the others size and
place a fleet for users and their demands. Modules are imported only when their method runs, so
``skycell plan`` never loads torch unless the DQN agent is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.plan.assignment import UserPlacement
    from skycell.scenario import Scenario, User

UserMethod = Callable[..., "UserPlacement"]


@dataclass(frozen=True)
class MethodInfo:
    """Where a user-driven method lives and what it is."""

    module: str
    function: str
    summary: str
    paper: str


#: User-driven methods: name -> implementation.
USER_METHODS: dict[str, MethodInfo] = {
    "exact": MethodInfo(
        "skycell.plan.size_exact", "place_exact", "fewest UAVs, MILP (HiGHS), proven", "skycell"
    ),
    "emtad": MethodInfo(
        "skycell.plan.size_emtad",
        "place_emtad",
        "fewest UAVs: sphere intersections, set cover, PSO",
        "004",
    ),
    "fixed-altitude": MethodInfo(
        "skycell.plan.size_baselines",
        "place_fixed_altitude",
        "baseline: every UAV at fleet.altitude_m",
        "004",
    ),
    "fixed-users": MethodInfo(
        "skycell.plan.size_baselines",
        "place_fixed_users",
        "baseline: k-means, a fixed number of users per UAV",
        "004",
    ),
    "demand": MethodInfo(
        "skycell.plan.size_demand",
        "place_demand",
        "ceil(D / C) per area, proportional allocation, cost-map scan",
        "002",
    ),
    "los-search": MethodInfo(
        "skycell.plan.place_los_search",
        "place_los_search",
        "one UAV: exact grid search for the most users in LoS",
        "003",
    ),
    "rltopa": MethodInfo(
        "skycell.plan.place_rltopa", "place_rltopa", "one UAV: DQN agent (RLTOPA)", "003"
    ),
    "rooftop": MethodInfo(
        "skycell.plan.place_rooftop",
        "place_rooftop",
        "baseline: access point on the central roof",
        "003",
    ),
    "gradient-sumrate": MethodInfo(
        "skycell.plan.place_sumrate",
        "place_gradient_sumrate",
        "one multi-antenna UAV: ascent on the differentiable ZF sum rate (eq. 5)",
        "001 + skycell",
    ),
    "exhaustive": MethodInfo(
        "skycell.plan.place_sumrate",
        "place_exhaustive",
        "one multi-antenna UAV: every grid position, top 1/10/30 % (reference)",
        "001",
    ),
    "ddpg": MethodInfo(
        "skycell.plan.place_sumrate_rl",
        "place_ddpg",
        "one multi-antenna UAV: DDPG agent, OU noise (stable-baselines3)",
        "001",
    ),
    "dqn": MethodInfo(
        "skycell.plan.place_sumrate_rl",
        "place_dqn",
        "one multi-antenna UAV: DQN agent on discretised moves",
        "001",
    ),
    "fixed-dft": MethodInfo(
        "skycell.plan.place_sumrate",
        "place_fixed_dft",
        "baseline (non-twin): fixed position, DFT-codebook beams",
        "001",
    ),
}


def user_method(name: str) -> UserMethod:
    """The function implementing a user-driven method.

    Raises:
        ValueError: for an unknown name (listing the known ones).
    """
    info = USER_METHODS.get(name)
    if info is None:
        raise ValueError(
            f"unknown user-driven method {name!r}; choose one of {', '.join(USER_METHODS)}"
        )
    try:
        module = importlib.import_module(info.module)
    except ImportError as exc:  # an optional extra is missing (rltopa needs torch and SB3)
        from skycell.errors import SkycellError

        raise SkycellError(
            f"method {name!r} needs a package that is not installed ({exc.name}); install the "
            "extra with: pip install 'skycell[rl]'"
        ) from None
    fn: UserMethod = getattr(module, info.function)
    return fn


def run_user_method(
    name: str,
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    *,
    seed: int = 0,
    progress: Callable[[str, float], None] | None = None,
) -> UserPlacement:
    """Run a user-driven method by name."""
    return user_method(name)(scenario, city, users, seed=seed, progress=progress)
