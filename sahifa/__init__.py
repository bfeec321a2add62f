"""Sahifa: a static-site generator for Arabic, right-to-left news."""

__version__ = "0.1.0"
