"""The console: the web page at ``/app`` that people use, built only on the public API."""
