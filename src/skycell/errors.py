"""The project's own exception types.

Every error a user can cause by bad input is a :class:`SkycellError`; the CLI turns it into a clear
message and exit code 2, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input.

    Attributes:
        location: where in the input, e.g. ``areas_of_interest[2].radius_m``.
        message: what is wrong and how to fix it.
        line: 1-based line in the source file, when known.
    """

    location: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.location or "<file>"
        if self.line is not None:
            where = f"line {self.line}: {where}"
        return f"{where}: {self.message}"


class SkycellError(Exception):
    """Base class for errors caused by the user's input or environment."""


class ScenarioError(SkycellError):
    """A scenario (or deployment) file is invalid; carries every problem found at once."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = [f"{source}: {len(self.problems)} problem(s) found"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class InfeasibleError(SkycellError):
    """A planning problem has no solution: which users (or what) and why.

    Attributes:
        reasons: ``{user_id_or_item: why}``, every offending item at once.
    """

    def __init__(self, summary: str, reasons: dict[str, str]) -> None:
        self.summary = summary
        self.reasons = dict(reasons)
        lines = [summary]
        shown = list(self.reasons.items())
        lines += [f"  - {k}: {v}" for k, v in shown[:25]]
        if len(shown) > 25:
            lines.append(f"  ... and {len(shown) - 25} more")
        super().__init__("\n".join(lines))
