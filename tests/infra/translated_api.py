"""Prints the OpenAPI body of each REST API of the template as SAM
translates it (the functions' events merged into the DefinitionBody), for
the tests that check what API Gateway is given: the request Model, its
validator, the integrations and the authorizer.

    python translated_api.py TEMPLATE
"""

import json
import sys

from deploy_on_emulator import translate


def main():
    translated = translate(sys.argv[1], "onboard", {}, "code")
    apis = {
        name: resource["Properties"]["Body"]
        for name, resource in translated["Resources"].items()
        if resource["Type"] == "AWS::ApiGateway::RestApi"
    }
    json.dump(apis, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
