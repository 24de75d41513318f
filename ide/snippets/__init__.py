"""Saved snippets: the SQLite store (``store``) and the HTTP API (``routes``)."""
