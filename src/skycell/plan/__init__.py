"""Planner stages: size, place, tune, route."""
