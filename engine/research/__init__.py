"""Research on top of runs: sweeps and their grids, walk-forward, the look-ahead
audit, the bootstrap, overfitting odds, and comparisons of configs."""
