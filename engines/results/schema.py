"""The JSON Schema of result.json, generated from the models.

``python -m engines.results.schema`` prints it; ``--write`` updates the committed copy
(``schema/result.schema.json``), which a test keeps equal to the generated one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from engines.results.document import SCHEMA_VERSION, Result

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schema" / "result.schema.json"


def result_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every result.json validates against."""
    schema = Result.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "result.schema.json",
        "x-schema-version": SCHEMA_VERSION,
        "title": "Feasibility Advisor result.json",
        "description": (
            f"Schema {SCHEMA_VERSION}. A reader accepts any 1.x document; 1.x only adds "
            "fields, so unknown fields are allowed everywhere."
        ),
        **{k: v for k, v in schema.items() if k != "title"},
    }


def schema_text() -> str:
    """The schema as the committed file holds it."""
    return json.dumps(result_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the generated schema, or write it to the committed path."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {SCHEMA_PATH.name}")
    args = parser.parse_args(argv)
    if args.write:
        SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
        SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
        print(SCHEMA_PATH)
    else:
        print(schema_text(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
