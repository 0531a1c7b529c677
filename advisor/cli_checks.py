"""Checks of the command line's arguments, made before any work starts.

The command line's contract: whatever a user can act on exits with status 2 and one
line on stderr, ``error: <what is wrong and what to do>``, and it is found before
anything is unpacked or trained (a validation that runs for minutes and then fails on
its ``--out`` folder breaks that contract). :func:`check_arguments` checks what
argparse cannot (paths that exist as the wrong kind, numbers that parse but are not
finite); :class:`OneLineParser` makes argparse's own refusals one line as well;
:func:`reading_result` turns a ``result.json`` of the wrong shape into that one line.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

# Parts of a result the report reads, with the JSON type each must have.
_RESULT_FIELDS: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("schema_version", str),
    ("profile", dict),
    ("intake", dict),
    ("recommendation", dict),
    ("validation", dict),
)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose refusals are one line, ``error: ...``, exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``error: <message>`` (pointing to ``--help``) and exit with status 2."""
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def check_arguments(args: argparse.Namespace) -> None:
    """Check the parsed arguments of any command; raise on the first problem.

    Raises:
        ValueError: An argument that would fail later, with what to do instead.

    """
    out = getattr(args, "out", None)
    if out is not None:
        _check_output_folder(Path(out), "--out")
    cache_dir = getattr(args, "cache_dir", None)
    if cache_dir is not None:
        _check_output_folder(Path(cache_dir), "--cache-dir")
    budget = getattr(args, "budget_seconds", None)
    if budget is not None and not (math.isfinite(budget) and budget > 0):
        raise ValueError(
            f"--budget-seconds must be a finite positive number of seconds, got {budget}."
        )
    target = getattr(args, "target_accuracy", None)
    if target is not None and not (math.isfinite(target) and 0 < target < 1):
        raise ValueError(
            f"--target-accuracy must be between 0 and 1 (or a percentage), got {target}."
        )
    data = getattr(args, "data", None)
    if data is not None and not (Path(data).is_file() or Path(data).is_dir()):
        raise ValueError(f"{data} is neither a file nor a folder: give a zip file or a folder.")
    result = getattr(args, "result", None)
    if result is not None and not Path(result).is_file():
        raise ValueError(f"{result} is not a file: give the result.json a validation wrote.")


def _check_output_folder(path: Path, option: str) -> None:
    """A folder that exists, or can be created where no file is in the way."""
    if path.exists():
        if not path.is_dir():
            raise ValueError(
                f"{option} {path} is a file, not a folder: give a folder (it is created "
                "if missing)."
            )
        if not os.access(path, os.W_OK | os.X_OK):
            raise ValueError(f"{option} {path} is not writable: give a folder you can write.")
        return
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(
            f"{option} {path} cannot be created: {parent} is a file, not a folder."
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {path} cannot be created: {parent} is not writable.")


def check_result_document(data: dict[str, Any], path: Path) -> None:
    """Check that a loaded result.json has the parts a report reads, of the right types.

    Raises:
        ValueError: A part is missing or of the wrong JSON type.

    """
    for key, kind in _RESULT_FIELDS:
        if key not in data:
            raise ValueError(f"{path} is not a result.json: it has no {key!r}.")
        if not isinstance(data[key], kind):
            raise ValueError(
                f"{path} is not a result.json this app can read: {key!r} is a JSON "
                f"{_json_type(data[key])}, not {'an object' if kind is dict else 'a string'}."
            )
    experiments = data["validation"].get("experiments", [])
    if not isinstance(experiments, list) or not all(isinstance(e, dict) for e in experiments):
        raise ValueError(
            f"{path} is not a result.json this app can read: 'validation.experiments' "
            "must be a list of objects."
        )


@contextlib.contextmanager
def reading_result(path: Path) -> Iterator[None]:
    """Turn a failure to read a wrongly shaped result.json into one ``ValueError``.

    A field of the wrong type deep in the document shows up as an ``AttributeError``,
    ``TypeError`` or ``KeyError`` while the report reads it; the user's answer is the
    same in every case: the file is not a result this version wrote.
    """
    try:
        yield
    except (AttributeError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(
            f"{path} is not a result.json this app can read (a field has the wrong type "
            f"or is missing: {type(exc).__name__}: {exc}). Re-run the validation."
        ) from exc


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            int: "number", float: "number", type(None): "null"}.get(type(value), "value")

