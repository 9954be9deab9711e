"""Flying there (paper 002 §2.1, §3.3, Table 5): quadcopter dynamics, a safe controller
synthesised on BDDs, PID baselines tuned by metaheuristics, route energy against the battery,
and ``skycell fly``.

Modules: :mod:`~skycell.flight.dynamics` (models, parameters, simulator),
:mod:`~skycell.flight.synthesis` (abstraction, fixpoint, limited-optimal tables),
:mod:`~skycell.flight.pid`, :mod:`~skycell.flight.cascade` (the six laws in cascade),
:mod:`~skycell.flight.tuning` (step responses, ACO / ABC / GWO and hybrids),
:mod:`~skycell.flight.energy` (Zeng et al. 2019 power model), :mod:`~skycell.flight.paths`
(clear paths, references, departure delays), :mod:`~skycell.flight.fly` (the job).
Heavy libraries (``dd``/``omega``, ``control``, ``niapy``, ``pygmo``) load only when used.
"""
