"""Simulators fed by the pipeline: vectorbt for a run (portfolio.py, the only module
importing vectorbt), the numba kernel for grids (fastsim.py), and when to trade
(schedule.py)."""
