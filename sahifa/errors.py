"""Errors that name the file (and line) where a problem is."""

from __future__ import annotations


class SahifaError(Exception):
    """Base error: shown to the user without a traceback."""


class ContentError(SahifaError):
    """A problem in one input file, with its path and (when known) its line."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class TemplateError(SahifaError):
    """A problem in a template, with the template's file and line."""


class ConfigError(SahifaError):
    """A problem in site.toml or the command line."""
