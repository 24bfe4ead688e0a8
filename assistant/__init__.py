"""Sori: a local voice assistant. The headless core; never imports Qt."""

__version__ = "0.1.0"
