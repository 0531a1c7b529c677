"""Checks of the command line's arguments, made before any work starts.

The command line's contract: whatever a user can act on exits with status 2 and one
line on stderr, ``error: <what is wrong and what to do>``, and it is found before
anything is unpacked or trained (a validation that runs for minutes and then fails on
its ``--out`` folder breaks that contract). :func:`check_arguments` checks what
argparse cannot (paths that exist as the wrong kind, numbers that parse but are not
finite); :class:`OneLineParser` makes argparse's own refusals one line as well. A
``result.json`` of the wrong shape is refused by its typed model
(:func:`engines.results.parse_result`) with the same one line.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import NoReturn


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
    # 1.0 (100 %) is an answer the advice explains (no sample can show it), not an error.
    if target is not None and not (math.isfinite(target) and 0 < target <= 1):
        raise ValueError(
            f"--target-accuracy must be between 0 and 1 (or a percentage), got {target}."
        )
    data = getattr(args, "data", None)
    if data is not None and not (Path(data).is_file() or Path(data).is_dir()):
        raise ValueError(f"{data} is neither a file nor a folder: give a zip file or a folder.")
    reference = getattr(args, "reference_images", None)
    if reference is not None and not Path(reference).is_dir():
        raise ValueError(
            f"--reference-images {reference} is not a folder: give a folder of images from "
            "the deployment site."
        )
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
        raise ValueError(f"{option} {path} cannot be created: {parent} is a file, not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {path} cannot be created: {parent} is not writable.")
