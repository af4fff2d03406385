"""Model health: a baseline per model version, per-version per-hour counters kept as reports are
scored, the monitoring read over a window of them, and a challenger scored in shadow."""
