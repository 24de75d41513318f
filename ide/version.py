"""The version of dtrace-ide, importable without the web app."""

__version__ = "0.1.0"
