"""Deploys infra/template.yaml into an AWS API emulator's CloudFormation.

The SAM template is translated to CloudFormation by aws-sam-translator (as
`sam deploy` has CloudFormation do), then created in the emulator with
CreateStack, so the stack's Outputs are what a deployed stack has, and
`onboard --stack NAME` finds everything through them.

moto's CloudFormation cannot create every resource type of the template.
Those are handled one of three ways, and the report says which:

- created through their own API: before the stack, the Cognito user pool,
  its app clients, its domain and the identity pool (every reference to
  them in the template replaced by the real id or ARN); after it, the alarms (their references
  resolved from the stack's resources);
- not covered: left out, each with the reason (see NOT_COVERED). References
  to them become a placeholder `not-created:<LogicalId>`;
- not made: a resource whose condition is false with these parameters.

The functions are created with a placeholder package: the emulator runs no
Lambda code.

    python deploy_on_emulator.py --endpoint URL --stack NAME [--template T]
        [--parameter KEY=VALUE ...]

Prints one JSON document: the stack, its Outputs, and each resource of the
translated template with how it was made.
"""

import argparse
import io
import json
import os
import re
import sys
import zipfile

import boto3
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

REGION = "us-east-1"

# Types moto's CloudFormation has no model for, and what is done instead.
THROUGH_THEIR_API = {
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
    "AWS::Cognito::UserPoolDomain",
    "AWS::Cognito::IdentityPool",
}
THROUGH_THEIR_API_AFTER = {"AWS::CloudWatch::Alarm"}
NOT_COVERED = {
    "AWS::S3::BucketPolicy": (
        "it denies every request made without TLS, and the emulator enforces it: "
        "reached over plain HTTP on loopback, the archive could not be written"
    ),
    "AWS::ApiGateway::Deployment": (
        "moto's CloudFormation does not import the API's OpenAPI body, so the API "
        "has no method to deploy; `onboard serve` serves the API locally"
    ),
    "AWS::ApiGateway::Stage": "moto's CloudFormation has no model for API stages",
    "AWS::ApiGateway::Account": "moto's CloudFormation has no model for the API Gateway account",
    "AWS::Cognito::IdentityPoolRoleAttachment": (
        "moto has no SetIdentityPoolRoles: its GetCredentialsForIdentity assumes no "
        "role (the role's policy is evaluated in own_credentials_policy.rs)"
    ),
    "AWS::Cognito::IdentityPoolPrincipalTag": (
        "moto has no principal tag mapping and tags no session "
        "(the tag's use is evaluated in own_credentials_policy.rs)"
    ),
    "AWS::Lambda::EventSourceMapping": (
        "moto runs a mapping by invoking the function on each write, and runs no "
        "Lambda code here; `onboard dev` polls the stream and the queues instead"
    ),
}


class NoManagedPolicies:
    """The template names no SAM policy templates or managed policies by
    name, so the translator needs no IAM look-up."""

    def load(self):
        return {}


def translate(template_path, stack, parameters, code_bucket):
    with open(template_path, encoding="utf-8") as file:
        template = yaml_parse(file.read())
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            # `sam package` replaces the local CodeUri with an S3 location.
            resource["Properties"]["CodeUri"] = {
                "Bucket": code_bucket,
                "Key": f"{logical_id}.zip",
            }
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    values = dict(parameters)
    values.update({"AWS::Region": REGION, "AWS::StackName": stack})
    return transform(template, values, NoManagedPolicies())


def substitute(node, values):
    """Replaces Ref, GetAtt and ${...} in Sub of the resources in `values`
    (logical id -> {"Ref": ..., attribute: ...})."""
    if isinstance(node, list):
        return [substitute(item, values) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in values:
        return values[node["Ref"]]["Ref"]
    if set(node) == {"Fn::GetAtt"}:
        target = node["Fn::GetAtt"]
        name, attribute = target if isinstance(target, list) else target.split(".", 1)
        if name in values:
            return values[name].get(attribute, values[name]["Ref"])
    if set(node) == {"Fn::Sub"}:
        sub = node["Fn::Sub"]
        text, variables = (sub, {}) if isinstance(sub, str) else sub

        def replace(match):
            name, _, attribute = match.group(1).partition(".")
            if name not in values:
                return match.group(0)
            return str(values[name].get(attribute or "Ref", values[name]["Ref"]))

        text = re.sub(r"\$\{([A-Za-z0-9]+(?:\.[A-Za-z0-9.]+)?)\}", replace, text)
        variables = substitute(variables, values)
        return {"Fn::Sub": text if not variables else [text, variables]}
    return {key: substitute(value, values) for key, value in node.items()}


def resolve(value, parameters, attribute):
    """A property value with Ref, GetAtt and Sub resolved: parameters (and
    pseudo parameters) by name, resources by `attribute(logical_id, name)`
    (name "Ref" for a Ref)."""
    if isinstance(value, list):
        return [resolve(item, parameters, attribute) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        name = value["Ref"]
        return parameters[name] if name in parameters else attribute(name, "Ref")
    if set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        name, wanted = target if isinstance(target, list) else target.split(".", 1)
        return attribute(name, wanted)
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):

        def replace(match):
            name, _, wanted = match.group(1).partition(".")
            if not wanted and name in parameters:
                return str(parameters[name])
            return str(attribute(name, wanted or "Ref"))

        return re.sub(r"\$\{([^}!]+)\}", replace, value["Fn::Sub"])
    return {key: resolve(item, parameters, attribute) for key, item in value.items()}


def create_cognito(cognito, identities, template, parameters):
    """Creates the user pool, its clients and its domain, and the identity
    pool, through Cognito's APIs; returns each one's Ref and attributes by
    logical id."""
    made = {}
    resources = template["Resources"]
    by_type = lambda kind: [(k, r) for k, r in resources.items() if r["Type"] == kind]
    def properties(resource, keys):
        given = resource.get("Properties", {})
        return {
            key: resolve(given[key], parameters, lambda name, wanted: made[name][wanted])
            for key in keys
            if key in given
        }

    for logical_id, resource in by_type("AWS::Cognito::UserPool"):
        props = properties(resource, ["UserPoolName"])
        request = {"PoolName": props["UserPoolName"]}
        request.update(properties(resource, (
            "Policies",
            "Schema",
            "UsernameAttributes",
            "AutoVerifiedAttributes",
            "AccountRecoverySetting",
            "AdminCreateUserConfig",
            "VerificationMessageTemplate",
            "UserAttributeUpdateSettings",
            "MfaConfiguration",
            "DeletionProtection",
        )))
        for attribute in request.get("Schema", []):
            attribute["Required"] = bool(attribute.get("Required"))
            attribute["Mutable"] = bool(attribute.get("Mutable"))
        pool = cognito.create_user_pool(**request)["UserPool"]
        made[logical_id] = {"Ref": pool["Id"], "Arn": pool["Arn"], "ProviderName": f"cognito-idp.{REGION}.amazonaws.com/{pool['Id']}"}
    for logical_id, resource in by_type("AWS::Cognito::UserPoolClient"):
        request = properties(resource, ("UserPoolId", "ClientName"))
        request.update(properties(resource, (
            "GenerateSecret",
            "AllowedOAuthFlowsUserPoolClient",
            "AllowedOAuthFlows",
            "AllowedOAuthScopes",
            "ReadAttributes",
            "WriteAttributes",
            "SupportedIdentityProviders",
            "ExplicitAuthFlows",
            "PreventUserExistenceErrors",
            "EnableTokenRevocation",
        )))
        client = cognito.create_user_pool_client(**request)["UserPoolClient"]
        made[logical_id] = {"Ref": client["ClientId"]}
    for logical_id, resource in by_type("AWS::Cognito::UserPoolDomain"):
        props = properties(resource, ("Domain", "UserPoolId"))
        cognito.create_user_pool_domain(Domain=props["Domain"], UserPoolId=props["UserPoolId"])
        made[logical_id] = {"Ref": props["Domain"]}
    for logical_id, resource in by_type("AWS::Cognito::IdentityPool"):
        props = properties(resource, (
            "IdentityPoolName",
            "AllowUnauthenticatedIdentities",
            "AllowClassicFlow",
            "CognitoIdentityProviders",
        ))
        pool = identities.create_identity_pool(**props)
        made[logical_id] = {"Ref": pool["IdentityPoolId"]}
    return made


def create_alarms(session_client, stack, resources, parameters, physical_ids):
    """Creates the alarms through CloudWatch's API, their references resolved
    from the created stack; returns their report."""
    def attribute(name, wanted):
        physical = physical_ids[name]
        if wanted == "Ref":
            return physical
        if wanted == "QueueName":
            return physical.rsplit("/", 1)[-1]
        raise KeyError(f"{name}.{wanted}")

    report = {}
    for logical_id, resource in resources.items():
        kind = resource["Type"]
        if kind not in THROUGH_THEIR_API_AFTER:
            continue
        props = resolve(resource["Properties"], parameters, attribute)
        name = props.pop("AlarmName", f"{stack}-{logical_id}")
        session_client("cloudwatch").put_metric_alarm(AlarmName=name, **props)
        report[logical_id] = {"type": kind, "made": "through its own API", "physical_id": name}
    return report


def placeholder_package():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bootstrap", "#!/bin/sh\necho 'the emulator runs no Lambda code' >&2\nexit 1\n")
    return buffer.getvalue()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--template", default=os.path.join(os.path.dirname(__file__), "..", "..", "infra", "template.yaml"))
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    parameters = dict(item.split("=", 1) for item in args.parameter)

    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    client = lambda service: session.client(service, endpoint_url=args.endpoint)

    code_bucket = f"{args.stack}-code"
    template = translate(args.template, args.stack, parameters, code_bucket)
    resources = template["Resources"]
    defaults = {
        name: spec["Default"]
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }
    known = {**defaults, **parameters, "AWS::StackName": args.stack, "AWS::Region": REGION}

    s3 = client("s3")
    s3.create_bucket(Bucket=code_bucket)
    package = placeholder_package()
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::Function":
            s3.put_object(Bucket=code_bucket, Key=f"{logical_id}.zip", Body=package)

    values = create_cognito(client("cognito-idp"), client("cognito-identity"), template, known)
    report = {
        logical_id: {"type": resources[logical_id]["Type"], "made": "through its own API"}
        for logical_id in values
    }
    for logical_id, resource in resources.items():
        reason = NOT_COVERED.get(resource["Type"])
        if resource["Type"] in THROUGH_THEIR_API_AFTER:
            values[logical_id] = {"Ref": f"not-created:{logical_id}"}
        elif reason:
            values[logical_id] = {"Ref": f"not-created:{logical_id}"}
            report[logical_id] = {"type": resource["Type"], "made": "not covered", "why": reason}
    kept = {k: r for k, r in resources.items() if k not in values}
    template["Resources"] = substitute(kept, values)
    template["Outputs"] = substitute(template.get("Outputs", {}), values)

    cloudformation = client("cloudformation")
    cloudformation.create_stack(
        StackName=args.stack,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName=args.stack)["Stacks"][0]
    listed = {
        summary["LogicalResourceId"]: summary
        for summary in cloudformation.list_stack_resources(StackName=args.stack)[
            "StackResourceSummaries"
        ]
    }
    for logical_id, resource in kept.items():
        summary = listed.get(logical_id)
        if "Condition" in resource and summary is None:
            report[logical_id] = {
                "type": resource["Type"],
                "made": "not made",
                "why": f"its condition {resource['Condition']} is false with these parameters",
            }
        elif summary and summary.get("ResourceStatus", "").endswith("COMPLETE"):
            report[logical_id] = {
                "type": resource["Type"],
                "made": "by CloudFormation",
                "physical_id": summary["PhysicalResourceId"],
            }
        else:
            report[logical_id] = {
                "type": resource["Type"],
                "made": "not covered",
                "why": "the emulator's CloudFormation did not create it",
            }
    physical_ids = {k: v["PhysicalResourceId"] for k, v in listed.items()}
    report.update(create_alarms(client, args.stack, resources, known, physical_ids))
    json.dump(
        {
            "stack": args.stack,
            "status": stack["StackStatus"],
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
            "resources": dict(sorted(report.items())),
        },
        sys.stdout,
        indent=2,
    )
    print()
    return 0 if stack["StackStatus"] == "CREATE_COMPLETE" else 1


if __name__ == "__main__":
    sys.exit(main())
