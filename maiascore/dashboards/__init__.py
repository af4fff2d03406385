"""Reports (dashboards) of the ThousandEyes v6 API: widgets, their data and snapshots."""
