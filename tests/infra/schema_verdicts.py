"""Checks JSON documents against a JSON Schema (draft 4) with Python's
`jsonschema`, a second implementation beside the account function's, and
prints one verdict a line: `valid` or `invalid`.

    python schema_verdicts.py SCHEMA < documents (one JSON document a line)
"""

import json
import sys

from jsonschema import Draft4Validator


def main():
    with open(sys.argv[1], encoding="utf-8") as file:
        schema = json.load(file)
    Draft4Validator.check_schema(schema)
    validator = Draft4Validator(schema)
    for line in sys.stdin:
        document = json.loads(line)
        print("valid" if validator.is_valid(document) else "invalid")


if __name__ == "__main__":
    main()
