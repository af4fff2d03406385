"""MaiaScore: multi-tenant XGBoost scoring API.

The web app is built by ``maiascore.app.create_app``; workers start from
``maiascore.workers``. Importing this package imports neither.
"""
