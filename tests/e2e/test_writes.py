"""The write path through the running binaries, with the DynamoDB ledger on moto: a preview
changes nothing, one confirmation replayed in sequence and in parallel changes Stripe once,
and the audit table holds one completed record with what was sent."""
from concurrent.futures import ThreadPoolExecutor

import boto3
import requests
from conftest import ENV, mint


def posts_to(path: str) -> int:
    r = requests.get(f"{ENV['STRIPE_API_BASE']}/_emulator/requests", params={"key": ENV["STRIPE_API_KEY"]}, timeout=5)
    return sum(1 for q in r.json()["requests"] if q["method"] == "POST" and q["path"] == path)


def test_cancel_then_resume_once_each_with_a_completed_audit(api):
    token = mint(ENV["DEMO_TRIALING_USER"])
    status, body = api.tool("get_subscription_status", token)
    sub = body["data"]["subscriptions"][0]["id"]
    path = f"/v1/subscriptions/{sub}"
    before = posts_to(path)

    status, body = api.tool("cancel_subscription", token, {"reason": "unused"})
    assert status == 200 and body["status"] == "confirmation_required", body
    confirm = {"confirm": body["confirmation"]["token"]}
    assert posts_to(path) == before, "a preview changes nothing"

    with ThreadPoolExecutor(max_workers=10) as pool:
        raced = list(pool.map(lambda _: api.tool("cancel_subscription", token, confirm), range(20)))
    raced += [api.tool("cancel_subscription", token, confirm) for _ in range(10)]
    statuses = {s for s, _ in raced}
    assert statuses == {200}, raced[:3]
    summaries = {b["summary"] for _, b in raced}
    assert len(summaries) == 1 and next(iter(summaries)).startswith("Done:"), summaries
    assert posts_to(path) == before + 1, "30 confirmations, one Stripe write"
    _, body = api.tool("get_subscription_status", token)
    assert body["data"]["subscriptions"][0]["cancels_at"], body

    dynamo = boto3.client("dynamodb", region_name=ENV["AWS_REGION"])
    items = dynamo.query(TableName=ENV["AUDIT_TABLE"], KeyConditionExpression="pk = :pk",
                         ExpressionAttributeValues={":pk": {"S": f"{ENV['TENANT']}#{ENV['DEMO_TRIALING_CUSTOMER']}"}})["Items"]
    written = [i for i in items if i["tool"]["S"] == "cancel_subscription" and "sends" in i]
    assert len(written) == 1, written
    assert written[0]["outcome"]["S"] == "ok" and written[0]["sends"]["M"]["path"]["S"] == path
    assert confirm["confirm"] not in str(items), "the token is never recorded"

    _, body = api.tool("resume_subscription", token)
    status, body = api.tool("resume_subscription", token, {"confirm": body["confirmation"]["token"]})
    assert status == 200 and body["status"] == "done", body
    _, body = api.tool("get_subscription_status", token)
    assert body["data"]["subscriptions"][0]["cancels_at"] is None
