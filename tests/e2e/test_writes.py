"""The write path through the running binaries, with the DynamoDB ledger on moto: a preview
changes nothing, one confirmation replayed in sequence and in parallel changes Stripe once,
and the audit table holds one completed record with what was sent."""
from concurrent.futures import ThreadPoolExecutor

import boto3
from conftest import ENV, mint, posts_to


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


def test_plan_change_cap_holds_under_concurrency_on_dynamodb(api):
    """The demo tenant's default bound (3 plan changes a month), claimed in DynamoDB
    transactions by the running binaries: racing confirmations, then more one by one; in all,
    exactly 3 changes reach Stripe and every other attempt is refused."""
    token = mint(ENV["DEMO_CREDIT_USER"])
    _, body = api.tool("get_subscription_status", token)
    path = f"/v1/subscriptions/{body['data']['subscriptions'][0]['id']}"
    before = posts_to(path)
    targets = [ENV["DEMO_PRICE_SCALE"], ENV["DEMO_PRICE_GROWTH"], ENV["DEMO_PRICE_STARTER"]]

    def propose(price):
        status, body = api.tool("change_plan", token, {"price_id": price})
        return body["confirmation"]["token"] if status == 200 and body["status"] == "confirmation_required" else None

    # Proposed while on Starter, so each is a real change when proposed.
    tokens = [t for t in (propose(targets[i % 2]) for i in range(8)) if t]
    assert len(tokens) == 8
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda t: api.tool("change_plan", token, {"confirm": t}), tokens))
    done = sum(1 for s, b in answers if s == 200 and b["status"] == "done")
    assert 1 <= done <= 3, answers
    # A racer that saw the plan move gets a fresh preview or "already on that plan"; none is
    # a change. Then one at a time until the bound holds.
    changes = done
    for i in range(6):
        current = api.tool("get_subscription_status", token)[1]["data"]["subscriptions"][0]["plan"]["items"][0]["price_id"]
        t = propose(next(p for p in targets if p != current))
        if t is None:
            break
        status, body = api.tool("change_plan", token, {"confirm": t})
        if status == 403:
            assert body["error"]["reason"] == "plan_change_limit" and body["error"]["escalate"] is True
            break
        assert status == 200 and body["status"] == "done", body
        changes += 1
    assert changes == 3 and posts_to(path) - before == 3
    status, body = api.tool("change_plan", token, {"price_id": targets[2]})
    assert (status, body["error"]["reason"]) == (403, "plan_change_limit"), body
