"""Prints a SAM template as JSON, parsed by cfn-lint's decoder (short-form
intrinsics become their long form, e.g. {"Fn::GetAtt": [...]}) with the SAM
Globals merged into each resource, as the SAM transform would."""
import json
import sys

from cfnlint.decode import decode
from cfnlint.template.transforms._sam_globals import merge_globals

template, errors = decode(sys.argv[1])
if errors:
    for error in errors:
        print(error, file=sys.stderr)
    sys.exit(1)
merge_globals(template)
json.dump(template, sys.stdout, indent=1)
