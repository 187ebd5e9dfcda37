"""Unit tests for conformance.py (the checker of emulator answers against stripe-python's
types). Pure Python: no stack, no emulator, no environment needed; conftest.py's
fixtures are not autouse, so this file runs alone:

    .venv/bin/python -m pytest tests/e2e/test_conformance_unit.py -q -p no:cacheprovider
"""

import json
import sys
from pathlib import Path

import pytest
from stripe._object_classes import OBJECT_CLASSES

sys.path.insert(0, str(Path(__file__).resolve().parent))

import conformance  # noqa: E402
from conformance import check, count_checks, includable_fields, skeleton, summarize  # noqa: E402


def kinds(findings):
    return [(f.path, f.kind) for f in findings]


def one(findings):
    assert len(findings) == 1, [str(f) for f in findings]
    return findings[0]


# --- conforming objects


def test_minimal_customer_conforms():
    cus = skeleton("customer")
    assert cus["object"] == "customer" and "email" in cus and cus["email"] is None
    checks, findings = count_checks(cus)
    assert findings == []
    assert checks >= len(cus) > 20


@pytest.mark.parametrize("name", sorted(set(OBJECT_CLASSES) - {"list", "search_result"}))
def test_every_skeleton_conforms(name):
    # Self-consistency: what the checker builds from a class's declared fields passes it,
    # so every annotation shape in stripe-python 16.1.0 is understood.
    assert check(skeleton(name)) == []


def test_filled_in_customer_conforms():
    cus = skeleton("customer") | {
        "id": "cus_1", "email": "ada@example.com", "balance": 0, "delinquent": False,
        "metadata": {"plan": "growth"}, "preferred_locales": ["en"], "tax_exempt": "none",
        "invoice_settings": {"custom_fields": None, "default_payment_method": "pm_1",
                             "footer": None, "rendering_options": None},
    }
    assert check(cus) == []


# --- the finding kinds


def test_made_up_property_is_flagged():
    cus = skeleton("customer") | {"favourite_colour": "teal"}
    checks, findings = count_checks(cus)
    f = one(findings)
    assert (f.path, f.kind, f.object_type) == ("customer.favourite_colour", "made_up", "customer")
    assert checks == count_checks(skeleton("customer"))[0] + 1  # one check per made-up property


def test_missing_property_is_flagged():
    cus = skeleton("customer")
    del cus["email"]
    assert kinds(check(cus)) == [("customer.email", "missing")]


def test_wrong_enum_value_is_flagged():
    # tax_exempt is an open enum (`Union[Literal[...], str]`): the Literal still rules.
    cus = skeleton("customer") | {"tax_exempt": "sometimes"}
    f = one(check(cus))
    assert (f.path, f.kind) == ("customer.tax_exempt", "enum")
    assert "'exempt'" in f.detail


def test_enum_deep_in_an_expanded_subscription():
    price = skeleton("price") | {"recurring": {"interval": "fortnight", "interval_count": 1,
                                                "meter": None, "usage_type": "licensed",
                                                "trial_period_days": None}}
    item = skeleton("subscription_item") | {"price": price}
    sub = skeleton("subscription") | {
        "items": {"object": "list", "data": [item], "has_more": False, "total_count": 1,
                  "url": "/v1/subscription_items?subscription=sub_1"}}
    f = one(check(sub))
    assert (f.path, f.kind, f.object_type) == (
        "subscription.items.data[0].price.recurring.interval", "enum", "price")


def test_null_and_type_are_flagged():
    cus = skeleton("customer") | {"created": None, "livemode": "false"}
    assert kinds(check(cus)) == [("customer.created", "null"), ("customer.livemode", "type")]


def test_int_field_rejects_a_float_and_bool_is_not_an_int():
    item = skeleton("subscription_item") | {"quantity": 1.0, "created": True}
    assert sorted(kinds(check(item))) == [("subscription_item.created", "type"),
                                          ("subscription_item.quantity", "type")]


def test_metadata_values_must_be_strings_one_finding_per_field_check():
    cus = skeleton("customer") | {"metadata": {"a": 1, "b": 2, "c": "ok"}}
    checks, findings = count_checks(cus)
    f = one(findings)
    assert (f.path, f.kind, f.more) == ("customer.metadata.a", "type", 1)
    assert checks == count_checks(skeleton("customer"))[0]


def test_decimal_string_fields():
    assert check(skeleton("price") | {"unit_amount_decimal": "4900"}) == []
    assert kinds(check(skeleton("price") | {"unit_amount_decimal": 4900})) == [
        ("price.unit_amount_decimal", "type")]


# --- expandable fields


def test_expandable_as_id_passes():
    assert check(skeleton("customer") | {"test_clock": "clock_123"}) == []


def test_expandable_as_expanded_object_passes():
    clock = skeleton("test_helpers.test_clock") | {"id": "clock_123"}
    assert check(skeleton("customer") | {"test_clock": clock}) == []


def test_expanded_object_is_checked_recursively():
    clock = skeleton("test_helpers.test_clock") | {"status": "melting"}
    f = one(check(skeleton("customer") | {"test_clock": clock}))
    assert (f.path, f.kind, f.object_type) == ("customer.test_clock.status", "enum",
                                               "test_helpers.test_clock")


def test_expandable_of_the_wrong_kind_is_flagged():
    f = one(check(skeleton("customer") | {"test_clock": skeleton("product")}))
    assert (f.path, f.kind) == ("customer.test_clock", "expandable")
    f = one(check(skeleton("customer") | {"test_clock": 42}))
    assert (f.path, f.kind) == ("customer.test_clock", "expandable")


def test_union_expandable_accepts_any_branch():
    # default_source: ExpandableField[Union["Account", "BankAccount", "Card", "Source"]]
    assert check(skeleton("customer") | {"default_source": skeleton("card")}) == []
    assert kinds(check(skeleton("customer") | {"default_source": skeleton("price")})) == [
        ("customer.default_source", "expandable")]


def test_deleted_object_as_expanded_value():
    inv = skeleton("invoice") | {"customer": {"id": "cus_1", "object": "customer", "deleted": True}}
    assert check(inv) == []


# --- deleted objects, lists, unknown objects


def test_deleted_object():
    assert check({"id": "cus_1", "object": "customer", "deleted": True}) == []
    assert kinds(check({"id": "cus_1", "object": "customer", "deleted": True, "email": None,
                        "gone": 1})) == [("customer.gone", "made_up")]
    assert kinds(check({"object": "customer", "deleted": True})) == [("customer.id", "missing")]


def test_list_and_search_result():
    page = {"object": "list", "data": [skeleton("customer")], "has_more": False, "url": "/v1/customers"}
    assert check(page) == []
    search = page | {"object": "search_result", "url": "/v1/customers/search", "next_page": None}
    assert check(search) == []
    bad = page | {"data": [skeleton("customer"), {"object": "wormhole"}], "page": 2}
    del bad["url"]
    assert sorted(kinds(check(bad))) == [("list.data[1]", "unknown_object"), ("list.page", "made_up"),
                                         ("list.url", "missing")]


def test_unknown_object():
    assert kinds(check({"object": "wormhole", "id": "wh_1"})) == [("wormhole", "unknown_object")]
    assert kinds(check({"id": "x"})) == [("$", "unknown_object")]


def test_event_payload_is_checked_as_its_object():
    event = skeleton("event") | {"data": {"object": skeleton("customer") | {"email": 5}}}
    f = one(check(event))
    assert (f.path, f.kind, f.object_type) == ("event.data.object.email", "type", "customer")


def test_payment_method_sends_only_its_type_sub_hash():
    # stripe-python declares every per-type sub-hash (`card`, `sepa_debit`, ...) Optional;
    # Stripe sends only the one named by `type`.
    cls = conformance._class_for("payment_method")
    per_type = conformance._variant_fields(cls)
    assert {"card", "sepa_debit", "us_bank_account"} <= per_type
    pm = {k: v for k, v in skeleton("payment_method").items() if k not in per_type}
    card = conformance._skeleton_object(cls.Card, ("payment_method", "card."), 0)
    assert check(pm | {"type": "card", "card": card}) == []
    assert kinds(check(pm | {"type": "card"})) == [("payment_method.card", "missing")]


# --- includable fields


def test_includable_fields_are_not_missing_when_absent():
    cus = skeleton("customer")
    assert {"subscriptions", "sources", "tax_ids"} <= includable_fields("customer")
    assert not includable_fields("customer") & set(cus)
    assert check(cus) == []
    included = cus | {"subscriptions": {"object": "list", "data": [], "has_more": False,
                                        "total_count": 0, "url": "/v1/customers/cus_1/subscriptions"}}
    assert check(included) == []


def test_includable_fields_from_docstrings():
    assert {"number", "cvc"} <= includable_fields("issuing.card")
    assert "payments" in includable_fields("invoice")


def test_unrequested_include_is_reported_only_without_expand():
    cus = skeleton("customer") | {"subscriptions": {"object": "list", "data": [], "has_more": False,
                                                     "url": "/v1/customers/cus_1/subscriptions"}}
    assert [f.path for f in conformance.unrequested_includes(cus, set())] == ["customer.subscriptions"]
    assert conformance.unrequested_includes(cus, {"subscriptions"}) == []
    assert conformance.unrequested_includes(cus, {"subscriptions.data.latest_invoice"}) == []


# --- error bodies


def test_error_with_unknown_code_is_flagged():
    body = {"error": {"type": "invalid_request_error", "code": "parameter_invalid",
                      "message": "Invalid integer: abc", "param": "amount"}}
    f = one(check(body))
    assert (f.path, f.kind) == ("error.code", "error_code")


def test_error_with_known_code_passes():
    body = {"error": {"type": "invalid_request_error", "code": "resource_missing",
                      "message": "No such customer: 'cus_x'", "param": "id",
                      "doc_url": "https://stripe.com/docs/error-codes/resource-missing"}}
    assert check(body) == []


def test_error_fields_must_be_stripes():
    body = {"error": {"type": "invalid_request_error", "request_id": "req_1"}, "status": 400}
    assert sorted(kinds(check(body))) == [("error.request_id", "made_up"), ("status", "made_up")]
    assert kinds(check({"error": {"message": "no type"}})) == [("error.type", "missing")]
    assert kinds(check({"error": {"type": "teapot_error"}})) == [("error.type", "enum")]


# --- records and the CLI


def test_summarize_and_cli(tmp_path, capsys):
    bad = skeleton("customer") | {"favourite_colour": "teal"}
    records = [
        {"method": "GET", "path": "/v1/customers/cus_1", "status": 200, "body": skeleton("customer")},
        {"method": "POST", "path": "/v1/customers", "status": 200, "body": bad},
        {"method": "GET", "path": "/v1/customers", "status": 200,
         "body": {"object": "list", "data": [bad, bad], "has_more": False, "url": "/v1/customers"}},
        {"method": "GET", "path": "/v1/customers/cus_x", "status": 404,
         "body": {"error": {"type": "invalid_request_error", "code": "parameter_invalid"}}},
        {"method": "GET", "path": "/v1/customers/cus_1?expand[]=tax_ids", "status": 200,
         "body": skeleton("customer") | {"subscriptions": {
             "object": "list", "data": [], "has_more": False, "url": "/v1/customers/cus_1/subscriptions"}}},
        {"method": "GET", "path": "/_emulator/requests", "status": 200, "body": {"requests": []}},
    ]
    summary = summarize(records)
    assert summary["bodies"] == 5
    assert summary["findings"] == 4
    assert summary["conforming"] == summary["checks"] - 4
    groups = {(g["object"], g["path"], g["kind"]): g["count"] for g in summary["groups"]}
    assert groups == {("customer", "customer.favourite_colour", "made_up"): 1,
                      ("customer", "list.data.favourite_colour", "made_up"): 2,
                      ("error", "error.code", "error_code"): 1}
    # Only tax_ids was asked for; subscriptions came anyway.
    assert [(u["object"], u["path"]) for u in summary["unrequested_includes"]] == [
        ("customer", "customer.subscriptions")]

    path = tmp_path / "record.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\nnot json\n")
    assert conformance.main([str(path)]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith(f"conformance: {summary['conforming']} of {summary['checks']} field checks conform (")
    assert first.endswith("%); 4 findings")
    assert "list.data.favourite_colour" in out
