"""Operator command for tenants, until the operator API exists: create a tenant, connect
its Stripe key (KMS-encrypted under the encryption context {"tenant": id}, inside one
Secrets Manager secret per tenant), and map user ids to Stripe customers.

    python infra/tenants.py create TENANT --stripe-key-env VAR
    python infra/tenants.py map TENANT USER_ID CUSTOMER_ID

Secrets are read from the environment or generated; they are never printed."""
from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets as rnd

import boto3

TENANT_RE = re.compile(r"^[a-z0-9-]{3,40}$")
KEY_RE = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9]{10,}$")


def _clients():
    kw = {"region_name": os.environ.get("AWS_REGION", "us-east-1")}
    return boto3.client("dynamodb", **kw), boto3.client("kms", **kw), boto3.client("secretsmanager", **kw)


def new_secret(prefix: str = "") -> str:
    return prefix + rnd.token_urlsafe(32)


MIN_SECRET_BYTES = 32


def check_secrets(kind: str, values: list[str]) -> list[str]:
    """Secrets under 32 bytes are refused when set (the functions never verify with them)."""
    for v in values:
        if len(v.encode()) < MIN_SECRET_BYTES:
            raise SystemExit(f"{kind}: a secret must be at least {MIN_SECRET_BYTES} bytes")
    return values


def create_tenant(layout: dict, tenant: str, stripe_key: str, config: dict | None = None,
                  identity_secrets=None, agent_secrets=None, webhook_secrets=None,
                  user_hash_secrets=None) -> dict:
    if not TENANT_RE.match(tenant):
        raise SystemExit(f"tenant id must match [a-z0-9-]{{3,40}}: {tenant!r}")
    if not KEY_RE.match(stripe_key):
        raise SystemExit("the Stripe key must be a secret (sk_) or restricted (rk_) key")
    dynamo, kms, sm = _clients()
    blob = kms.encrypt(
        KeyId=layout["key_alias"],
        Plaintext=stripe_key.encode(),
        EncryptionContext={"tenant": tenant},
    )["CiphertextBlob"]
    stored = {
        "stripe_key_ciphertext": base64.b64encode(blob).decode(),
        "identity_secrets": check_secrets("identity", identity_secrets or [new_secret()]),
        # The legacy X-User-Hash has its own secret: never one that also signs tokens.
        "user_hash_secrets": check_secrets("user_hash", user_hash_secrets or [new_secret()]),
        "agent_secrets": check_secrets("agent", agent_secrets or [new_secret()]),
        "webhook_secrets": check_secrets("webhook", webhook_secrets or [new_secret("whsec_")]),
    }
    name = layout["secrets_prefix"] + tenant
    try:
        sm.create_secret(Name=name, SecretString=json.dumps(stored))
    except sm.exceptions.ResourceExistsException:
        sm.put_secret_value(SecretId=name, SecretString=json.dumps(stored))
    item = {"tenant": {"S": tenant}, **{k: attribute(v) for k, v in (config or {}).items()}}
    dynamo.put_item(TableName=layout["tables"]["TenantsTable"], Item=item)
    return stored


def attribute(v) -> dict:
    """A config value as a DynamoDB attribute (nested maps for bounds like `policy`)."""
    if isinstance(v, bool):
        return {"BOOL": v}
    if isinstance(v, (int, float)):
        return {"N": str(v)}
    if isinstance(v, dict):
        return {"M": {k: attribute(x) for k, x in v.items()}}
    if isinstance(v, list):
        return {"L": [attribute(x) for x in v]}
    return {"S": str(v)}


def map_contact(layout: dict, tenant: str, user_id: str, customer_id: str) -> None:
    dynamo, _, _ = _clients()
    dynamo.put_item(
        TableName=layout["tables"]["ContactsTable"],
        Item={"tenant": {"S": tenant}, "user_id": {"S": user_id}, "customer_id": {"S": customer_id}},
    )


def main() -> None:
    import provision

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stack", default=os.environ.get("STACK_NAME", "stripe-bot-local"))
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create")
    c.add_argument("tenant")
    c.add_argument("--stripe-key-env", required=True, help="environment variable holding the key")
    m = sub.add_parser("map")
    m.add_argument("tenant")
    m.add_argument("user_id")
    m.add_argument("customer_id")
    args = ap.parse_args()
    layout = provision.provision(args.stack, {})
    if args.cmd == "create":
        create_tenant(layout, args.tenant, os.environ[args.stripe_key_env])
        print(f"tenant {args.tenant} created")
    else:
        map_contact(layout, args.tenant, args.user_id, args.customer_id)
        print("mapped")


if __name__ == "__main__":
    main()
