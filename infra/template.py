"""template.yaml as data: the one definition of tables, key, functions, routes and
environment, read by the local provisioning so local and AWS cannot drift."""
from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _Loader(yaml.SafeLoader):
    pass


def _intrinsic(loader, tag_suffix, node):
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _intrinsic)


def load() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=_Loader)


class Resolver:
    """Resolves the intrinsics template.yaml uses, for a local stack."""

    def __init__(self, template: dict, stack: str, parameters: dict[str, str], physical: dict[str, str]):
        self.template = template
        self.stack = stack
        self.parameters = parameters
        self.physical = physical  # logical id -> physical id (tables by name, key by id)

    def pseudo(self, name: str) -> str:
        return {
            "AWS::StackName": self.stack,
            "AWS::Region": os.environ.get("AWS_REGION", "us-east-1"),
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }[name]

    def ref(self, name: str) -> str:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        params = self.template.get("Parameters", {})
        if name in params:
            return str(params[name].get("Default", ""))
        if name in self.physical:
            return self.physical[name]
        resource = self.template["Resources"][name]
        # A table's Ref is its name, which the template fixes.
        return self.resolve(resource["Properties"]["TableName"])

    def resolve(self, value):
        if isinstance(value, dict) and len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda m: self.ref(m.group(1)), arg)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


#: The path the REST API's greedy catch-all (`/{proxy+}` and `/`) stands for.
FALLBACK = "/{proxy+}"


def functions(template: dict) -> list[dict]:
    """Each function: its binary and its HTTP routes, `(method, path)`. The gateway takes
    any method on a path (the function answers the others with 405); the route's own
    method is the function's `Metadata.Method`. The fallback's catch-all is one route,
    `("ANY", FALLBACK)`."""
    out = []
    for logical, res in resources(template, "AWS::Serverless::Function").items():
        binary = res["Metadata"]["BuildProperties"]["Binary"]
        paths = [
            ev["Properties"]["Path"]
            for ev in res["Properties"].get("Events", {}).values()
            if ev["Type"] == "Api"
        ]
        if "/{proxy+}" in paths:
            routes = [("ANY", FALLBACK)]
        else:
            routes = [(res["Metadata"]["Method"], p) for p in paths]
        env = res["Properties"].get("Environment", {}).get("Variables", {})
        out.append({"logical": logical, "binary": binary, "routes": routes, "env": env})
    return out
