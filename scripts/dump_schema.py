"""Write the served schema to schema.graphql: `python -m scripts.dump_schema`."""

from __future__ import annotations

from pathlib import Path

from graphql import print_schema

from api.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def served_schema() -> str:
    return print_schema(schema.graphql_schema) + "\n"


def main() -> None:
    SCHEMA_FILE.write_text(served_schema(), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")


if __name__ == "__main__":
    main()
