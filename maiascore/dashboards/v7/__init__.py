"""ThousandEyes API v7 dashboards over the v6 report store, for the official ``thousandeyes-sdk-dashboards``."""
