"""Reinforcement-learning environments (gymnasium) for the learning planners.

:mod:`skycell.rl.topa_env` holds paper 003's RLTOPA environment; it imports gymnasium, so import
it directly (``from skycell.rl.topa_env import TopaEnv``) rather than through this package.
"""
