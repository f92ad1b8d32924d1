"""rotation: backtest rotation strategies from YAML configs."""

__version__ = "0.1.0"
