"""Creates the local AWS side (moto) exactly as template.yaml declares it: the DynamoDB
tables with their keys and indexes, the KMS key with its alias, and the notices' EventBridge
bus. Prints nothing secret.
Returns the environment each function gets, resolved as CloudFormation would."""
from __future__ import annotations

import boto3

import template as tpl


def clients():
    kw = {"region_name": "us-east-1"}
    return boto3.client("dynamodb", **kw), boto3.client("kms", **kw)


def create_tables(dynamo, resolver: tpl.Resolver, template: dict) -> None:
    existing = set(dynamo.list_tables()["TableNames"])
    for res in tpl.resources(template, "AWS::DynamoDB::Table").values():
        props = resolver.resolve(res["Properties"])
        name = props["TableName"]
        if name in existing:
            continue
        args = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if "GlobalSecondaryIndexes" in props:
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        dynamo.create_table(**args)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamo.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )


def create_keys(kms, resolver: tpl.Resolver, template: dict) -> dict[str, str]:
    """KMS keys by logical id, found again through their alias on a second run."""
    physical = {}
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    alias_of = {
        res["Properties"]["TargetKeyId"]["Ref"]: resolver.resolve(res["Properties"]["AliasName"])
        for res in tpl.resources(template, "AWS::KMS::Alias").values()
    }
    for logical, res in tpl.resources(template, "AWS::KMS::Key").items():
        alias = alias_of.get(logical)
        if alias and aliases.get(alias):
            physical[logical] = aliases[alias]
            continue
        key = kms.create_key(Description=resolver.resolve(res["Properties"].get("Description", "")))
        key_id = key["KeyMetadata"]["KeyId"]
        if alias:
            kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        physical[logical] = key_id
    return physical


def create_buses(events, resolver: tpl.Resolver, template: dict) -> dict[str, str]:
    """EventBridge buses by logical id (a bus's Ref is its name)."""
    existing = {b["Name"] for b in events.list_event_buses()["EventBuses"]}
    physical = {}
    for logical, res in tpl.resources(template, "AWS::Events::EventBus").items():
        name = resolver.resolve(res["Properties"]["Name"])
        if name not in existing:
            events.create_event_bus(Name=name)
        physical[logical] = name
    return physical


def provision(stack: str, parameters: dict[str, str]) -> dict:
    template = tpl.load()
    dynamo, kms = clients()
    resolver = tpl.Resolver(template, stack, parameters, {})
    create_tables(dynamo, resolver, template)
    resolver.physical.update(create_keys(kms, resolver, template))
    resolver.physical.update(
        create_buses(boto3.client("events", region_name="us-east-1"), resolver, template))
    glob = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    functions = []
    for fn in tpl.functions(template):
        env = {k: str(v) for k, v in resolver.resolve({**glob, **fn["env"]}).items()}
        functions.append({**fn, "env": env})
    return {
        "functions": functions,
        "secrets_prefix": resolver.resolve(glob["SECRETS_PREFIX"]),
        "tables": {
            logical: resolver.ref(logical)
            for logical in tpl.resources(template, "AWS::DynamoDB::Table")
        },
        "buses": {
            logical: resolver.ref(logical)
            for logical in tpl.resources(template, "AWS::Events::EventBus")
        },
        "key_alias": next(
            resolver.resolve(r["Properties"]["AliasName"])
            for r in tpl.resources(template, "AWS::KMS::Alias").values()
        ),
    }
