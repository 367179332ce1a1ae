"""Errors of the hardware model: each carries a one-line, human message."""

from __future__ import annotations


class SimError(Exception):
    """Base class of every error the hardware model reports."""


class LoadError(SimError):
    """The program does not fit the chip or names something out of range."""


class InputError(SimError):
    """The caller's inputs do not match the program's input table."""


class DeadlockError(SimError):
    """Engines wait on semaphores that no remaining instruction will signal."""


class ExecutionError(SimError):
    """An instruction's functional effect could not be computed."""


class RaceError(SimError):
    """(Race-checking mode.) Two engines access overlapping SBUF/PSUM bytes at the
    same time and at least one of them writes."""
