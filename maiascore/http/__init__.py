"""The HTTP layer every blueprint shares: bodies, formats, errors, access, request logs (``api`` holds the
flask-smorest classes; importing this package alone loads no web framework)."""
