"""The twin over time: moving users (mobility.py) and the time-stepped simulation of a
deployment (simulate.py), paper 000 §VI-VII and paper 001 §III."""
