"""Checks JSON answers of the Stripe emulator against the resource types that the pinned
stripe-python (16.1.0) declares.

stripe-python's resource classes are generated from Stripe's OpenAPI spec and carry the
spec as class-level annotations:

    Optional[X]                       nullable
    Literal[...]                      closed enum
    Union[Literal[...], str]          open enum (the `str` only keeps old clients working
                                      when Stripe adds a value; the Literal is the spec)
    ExpandableField["Customer"]       = Union[str, "Customer"]: an id unless expanded
    ListObject["InvoiceLineItem"]     a list object whose `data` holds that type
    List[X], UntypedStripeObject[X]   arrays, and maps of str -> X (metadata is [str])
    nested StripeObject subclasses    embedded hashes (`Customer.InvoiceSettings`)
    Decimal                           a "decimal_string": a JSON string such as "49.5"

Forward references are strings whose names are only imported under `TYPE_CHECKING`
(sometimes aliased: `from stripe._card import Card as CardResource`), so they are
resolved by reading each module's imports with `ast`; the same parse pairs every
annotation with the docstring that follows it.

Usage:
    check(obj)            -> [Finding]            one Stripe object, list or error body
    count_checks(obj)     -> (checks, [Finding])  checks - len(findings) conform
    summarize(records)    -> dict                 what the CLI prints
    includable_fields(name), conditional_fields(name), skeleton(name)

    python tests/e2e/conformance.py RECORD.jsonl [--json]

Each RECORD.jsonl line: {"method": "GET", "path": "/v1/customers/cus_1", "status": 200,
"body": {...}} (optionally "expand": [...] or "form": {...}/"query" for the request's
parameters).

A declared property may be absent (not `missing`) when it is:
  - includable: sent only on `expand[]` (Stripe's docs list; see includable_fields);
  - conditional: its docstring says Stripe leaves it out of some answers;
  - `deleted`, or anything but id/object/deleted on a deleted object;
  - a per-type sub-hash other than the one named by `type` (`payment_method.card` when
    `type` is "card"), or a per-method entry of `payment_method_options`.
Error bodies: Stripe omits null fields there, so only present fields and `type` count.

Counting: one field check per declared property of every object visited plus one per
made-up property. A check fails at most once: further failures inside the same check
(the 2nd bad element of a list of enums) are folded into its Finding's `more`, so
`checks - len(findings)` is the number of conforming checks. Properties of nested and
expanded objects are checks of their own.
"""

from __future__ import annotations

import argparse
import ast
import collections
import contextlib
import dataclasses
import decimal
import functools
import importlib
import inspect
import json
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import parse_qsl, urlsplit

import stripe
from stripe._list_object import ListObject
from stripe._object_classes import OBJECT_CLASSES
from stripe._search_result_object import SearchResultObject
from stripe._stripe_object import StripeObject, UntypedStripeObject

KINDS = ("missing", "made_up", "type", "null", "enum", "expandable", "unknown_object", "error_code")

# Stripe's error object. stripe-python has no top-level class for it; every
# `last_*_error` hash (invoice, payment intent, setup intent) is the same generated
# schema, and its `code` Literal is Stripe's list of error codes.
ERROR_CLASS = stripe.Invoice.LastFinalizationError

# Fields Stripe's API reference marks "This field is not included by default. To include
# it in the response, expand the `<field>` field." stripe-python 16.1.0's docstrings
# do NOT carry that sentence (only issuing.card's number/cvc say so), so the
# documented list is kept here, keyed by object name; dotted entries are nested fields.
_DOCUMENTED_INCLUDABLE: dict[str, frozenset[str]] = {
    "customer": frozenset({"cash_balance", "invoice_credit_balance", "sources",
                           "subscriptions", "tax", "tax_ids"}),
    "charge": frozenset({"refunds"}),
    "invoice": frozenset({"payments", "confirmation_secret"}),
    "coupon": frozenset({"applies_to", "currency_options"}),
    "price": frozenset({"currency_options", "tiers"}),
    "plan": frozenset({"tiers"}),
    "checkout.session": frozenset({"line_items", "total_details.breakdown"}),
    "payment_link": frozenset({"line_items"}),
    "quote": frozenset({"line_items", "computed.upfront.line_items"}),
    "issuing.card": frozenset({"number", "cvc"}),
    "identity.verification_session": frozenset({"verified_outputs"}),
    "identity.verification_report": frozenset({"document.dob", "document.expiration_date",
                                               "document.number", "id_number.dob",
                                               "id_number.id_number"}),
    "tax.calculation": frozenset({"line_items"}),
    "tax.transaction": frozenset({"line_items"}),
    "treasury.transaction": frozenset({"entries"}),
}

# Docstring phrases that mark a field as sent only on request ...
_INCLUDABLE_DOC = re.compile(
    r"not included by default|\bincludable\b|omitted unless you explicitly request", re.I)
# ... or only in some answers, so its absence says nothing about conformance.
_CONDITIONAL_DOC = re.compile(
    r"omitted in API responses|only returned at creation|only returned (?:when|for)"
    r"|only included in events", re.I)

NoneType = type(None)


@dataclasses.dataclass
class Finding:
    path: str          # e.g. subscription.items.data[0].price.recurring.interval
    kind: str          # one of KINDS
    detail: str
    object_type: str = ""  # `object` of the nearest enclosing Stripe object ("price")
    more: int = 0      # further failures folded into the same field check

    def __str__(self) -> str:
        extra = f" (+{self.more} more)" if self.more else ""
        return f"{self.path}: {self.kind}: {self.detail}{extra}"


# --------------------------------------------------------------------------------------
# Reading stripe-python's classes


@dataclasses.dataclass(frozen=True)
class _Field:
    key: str        # the JSON key (after `_field_remappings`: `in_` -> `in`)
    tp: Any         # the evaluated annotation
    owner: type     # the class that declares it; forward refs resolve from there
    doc: str
    absent_ok: bool  # includable / conditional / `deleted`: absence is not `missing`


@dataclasses.dataclass
class _ModuleInfo:
    docs: dict[str, dict[str, str]]       # class qualname -> {attribute: docstring}
    imports: dict[str, tuple[str, str]]   # local name -> (module, name), incl. TYPE_CHECKING


@functools.cache
def _module_info(modname: str) -> _ModuleInfo:
    path = inspect.getsourcefile(sys.modules[modname])
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    imports: dict[str, tuple[str, str]] = {}
    for node in ast.walk(tree):  # ast.walk also reaches `if TYPE_CHECKING:` blocks
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                imports[alias.asname or alias.name] = (node.module, alias.name)
    docs: dict[str, dict[str, str]] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if not isinstance(node, ast.ClassDef):
                continue
            qualname = prefix + node.name
            fields = docs.setdefault(qualname, {})
            # The docstring of an annotation is the string statement right after it.
            for stmt, nxt in zip(node.body, node.body[1:] + [None]):
                if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                        and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                        and isinstance(nxt.value.value, str)):
                    fields[stmt.target.id] = inspect.cleandoc(nxt.value.value)
            visit(node.body, qualname + ".")

    visit(tree.body, "")
    return _ModuleInfo(docs, imports)


def _docstrings(cls: type) -> dict[str, str]:
    return _module_info(cls.__module__).docs.get(cls.__qualname__, {})


@functools.cache
def _fields(cls: type) -> dict[str, _Field]:
    """The properties `cls` declares, by JSON key."""
    out: dict[str, _Field] = {}
    # Generated classes declare their own fields; walking the MRO (base first) only
    # matters should one ever extend another. StripeObject's own annotations are private.
    for klass in reversed(cls.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, StripeObject)) or klass in (
                StripeObject, UntypedStripeObject, ListObject, SearchResultObject):
            continue
        remap = getattr(klass, "_field_remappings", {})  # `in_` -> "in" on the wire
        docs = _docstrings(klass)
        for attr, tp in klass.__dict__.get("__annotations__", {}).items():
            if attr.startswith("_") or typing.get_origin(tp) is typing.ClassVar:
                continue
            doc = docs.get(attr, "")
            absent_ok = (attr == "deleted"  # only on deleted objects
                         or bool(_INCLUDABLE_DOC.search(doc) or _CONDITIONAL_DOC.search(doc)))
            key = remap.get(attr, attr)
            out[key] = _Field(key, tp, klass, doc, absent_ok)
    return out


@functools.cache
def _class_for(object_name: str) -> type | None:
    """The class stripe-python builds for an `object` value, as its registry says."""
    if object_name not in OBJECT_CLASSES or object_name in ("list", "search_result"):
        return None
    module, name = OBJECT_CLASSES[object_name]
    return getattr(importlib.import_module(module), name)


def _object_names(cls: type) -> tuple[str, ...]:
    """The `object` values a resource class declares (`object: Literal["customer"]`);
    empty for embedded hashes, which carry no `object`."""
    f = _fields(cls).get("object")
    if f is None:
        return ()
    return tuple(v for v in _literals(f.tp) if isinstance(v, str))


def _literals(tp: Any) -> list[Any]:
    if typing.get_origin(tp) is typing.Literal:
        return list(typing.get_args(tp))
    if _is_union(tp):
        return [v for a in typing.get_args(tp) for v in _literals(a)]
    return []


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _resolve(tp: Any, owner: type) -> Any:
    """Turns a forward reference ("Customer", ForwardRef('Customer')) into its class."""
    if isinstance(tp, typing.ForwardRef):
        tp = tp.__forward_arg__
    if not isinstance(tp, str):
        return tp
    return _resolve_name(tp, owner)


@functools.cache
def _resolve_name(name: str, owner: type) -> type:
    # Innermost class scope first, as a type checker reads a string annotation: that is
    # why generated code aliases `Discount as DiscountResource` next to a nested
    # `Discount` class.
    module = sys.modules[owner.__module__]
    scopes: list[Any] = []
    node: Any = module
    for part in owner.__qualname__.split("."):
        node = getattr(node, part)
        scopes.append(node)
    for scope in reversed(scopes):
        if isinstance(scope.__dict__.get(name), type):
            return scope.__dict__[name]
    if isinstance(getattr(module, name, None), type):
        return getattr(module, name)
    imported = _module_info(owner.__module__).imports.get(name)
    if imported:
        return getattr(importlib.import_module(imported[0]), imported[1])
    raise LookupError(f"cannot resolve {name!r} from {owner.__module__}.{owner.__qualname__}")


def _describe(tp: Any) -> str:
    """A short human form of an annotation for finding details."""
    if isinstance(tp, typing.ForwardRef):
        return tp.__forward_arg__
    if isinstance(tp, str):
        return tp
    if tp is NoneType:
        return "null"
    if _is_union(tp):
        args = typing.get_args(tp)
        open_enum = any(typing.get_origin(a) is typing.Literal for a in args)
        # `Union[Literal[...], str]`: the `str` is the open-enum escape hatch, not a type.
        parts = [_describe(a) for a in args if a is not NoneType and not (open_enum and a is str)]
        return " | ".join(parts + (["null"] if NoneType in args else []))
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        vals = typing.get_args(tp)
        shown = ", ".join(map(repr, vals[:6])) + (", ..." if len(vals) > 6 else "")
        return f"one of [{shown}]"
    if origin is not None:
        args = ", ".join(_describe(a) for a in typing.get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(tp, "__qualname__", repr(tp))


def includable_fields(object_name: str) -> set[str]:
    """Fields of `object_name` Stripe sends only when asked for with `expand[]`
    (dotted for nested ones): present without being requested, they are a deviation
    that only the caller, who knows the request, can flag."""
    out = set(_DOCUMENTED_INCLUDABLE.get(object_name, ()))
    cls = _class_for(object_name)
    if cls is not None:
        out |= _doc_fields(cls, _INCLUDABLE_DOC)
    return out


def conditional_fields(object_name: str) -> set[str]:
    """Fields that Stripe leaves out of some answers by design (`webhook_endpoint.secret`
    after creation, `customer.next_invoice_sequence` under account-level sequencing)."""
    cls = _class_for(object_name)
    return _doc_fields(cls, _CONDITIONAL_DOC) if cls is not None else set()


def _doc_fields(cls: type, pattern: re.Pattern[str], prefix: str = "", seen=None) -> set[str]:
    """Dotted paths of fields under `cls` (through embedded hashes, not other resources)
    whose docstring matches `pattern`."""
    seen = seen or set()
    if cls in seen:
        return set()
    seen = seen | {cls}
    out = set()
    for key, f in _fields(cls).items():
        if pattern.search(f.doc):
            out.add(prefix + key)
        for nested in _embedded_classes(f.tp, f.owner):
            out |= _doc_fields(nested, pattern, f"{prefix}{key}.", seen)
    return out


def _embedded_classes(tp: Any, owner: type) -> list[type]:
    """Embedded (object-less) StripeObject classes mentioned by an annotation."""
    tp = _resolve(tp, owner)
    if isinstance(tp, type):
        ok = issubclass(tp, StripeObject) and tp is not StripeObject and not _object_names(tp)
        return [tp] if ok else []
    if typing.get_origin(tp) in (list, typing.Union, types.UnionType):
        return [c for a in typing.get_args(tp) for c in _embedded_classes(a, owner)]
    return []


@functools.cache
def _payment_method_types() -> frozenset[str]:
    return frozenset(v for v in _literals(_fields(stripe.PaymentMethod)["type"].tp) if isinstance(v, str))


@functools.cache
def _variant_fields(cls: type) -> frozenset[str]:
    """Per-type sub-hashes Stripe sends only for the type in use.

    `charge.payment_method_details`, `payment_method` and `refund.destination_details`
    carry a `type` and one sub-hash named after it (`{"type": "card", "card": {...}}`);
    `payment_intent.payment_method_options` carries one per configured method. The spec
    marks the others as not required, but stripe-python renders "not required" and
    "nullable" alike as Optional, so they are recognised by shape: an Optional embedded
    class named after its key (`card: Optional[Card]`), in a class with a `type` field,
    or (without `type`) keyed by at least three payment method types."""
    fields = _fields(cls)
    named = set()
    for key, f in fields.items():
        if key == "type" or not _nullable(f.tp):
            continue
        inner = [_resolve(a, f.owner) for a in typing.get_args(f.tp) if a is not NoneType]
        camel = "".join(part.capitalize() for part in key.split("_"))
        if (len(inner) == 1 and isinstance(inner[0], type) and issubclass(inner[0], StripeObject)
                and not _object_names(inner[0]) and inner[0].__name__ == camel):
            named.add(key)
    if "type" in fields:
        return frozenset(named)
    keyed = named & _payment_method_types()
    return frozenset(keyed) if len(keyed) >= 3 else frozenset()


def _absent_ok(field: _Field, ctx: tuple[str, str]) -> bool:
    """Whether a declared field may be left out; `ctx` is (nearest object type, dotted
    path from it to the hash being checked)."""
    object_type, prefix = ctx
    return field.absent_ok or (prefix + field.key) in _DOCUMENTED_INCLUDABLE.get(object_type, ())


# --------------------------------------------------------------------------------------
# Checking


class _Run:
    """One run over a body: the field-check count and the findings."""

    def __init__(self) -> None:
        self.checks = 0
        self.findings: list[Finding] = []
        self._slot: list[Finding | None] | None = None  # the current check's finding

    @contextlib.contextmanager
    def check(self):
        """One field check; a nested `with` is a separate check (a nested object's
        properties), so a deep failure does not also fail the property holding it."""
        self.checks += 1
        saved, self._slot = self._slot, [None]
        try:
            yield
        finally:
            self._slot = saved

    def fail(self, path: str, kind: str, detail: str, object_type: str) -> None:
        slot = self._slot
        if slot is not None and slot[0] is not None:
            slot[0].more += 1  # one finding per check keeps `checks - findings` meaningful
            return
        finding = Finding(path, kind, detail, object_type)
        self.findings.append(finding)
        if slot is not None:
            slot[0] = finding

    # ---- objects

    def top(self, obj: Any, where: str) -> None:
        if not isinstance(obj, dict):
            with self.check():
                self.fail(where or "$", "type", f"expected a JSON object, got {_json_type(obj)}", "")
            return
        if "error" in obj and "object" not in obj:
            self.error(obj, where or "error")
            return
        name = obj.get("object")
        root = where or (name if isinstance(name, str) else "$")
        if name in ("list", "search_result"):
            self.container(obj, None, root, StripeObject, (str(name), ""), search=name == "search_result")
        else:
            self.dispatch(obj, root)

    def dispatch(self, obj: dict, path: str) -> None:
        """Validates a dict by its own `object` value."""
        name = obj.get("object")
        cls = _class_for(name) if isinstance(name, str) else None
        if cls is None:
            with self.check():
                shown = repr(name) if "object" in obj else "no `object` field"
                self.fail(path, "unknown_object", f"{shown}: stripe-python has no class for it",
                          str(name or ""))
            return
        self.object(obj, cls, path, (name, ""))

    def object(self, obj: dict, cls: type, path: str, ctx: tuple[str, str]) -> None:
        fields = _fields(cls)
        names = _object_names(cls)
        if names:  # a resource: included fields are named relative to it
            ctx = (obj["object"] if obj.get("object") in names else names[0], "")
        deleted_only = False
        if obj.get("deleted") is True and names:
            # Deleted objects are `{id, object, deleted: true}` (+ a few for some types).
            # stripe-python 16 has no Deleted* classes any more (it folds `deleted` into
            # the resource), but use one if a future version brings them back.
            deleted_cls = getattr(stripe, "Deleted" + cls.__name__, None)
            if isinstance(deleted_cls, type) and issubclass(deleted_cls, StripeObject):
                fields = _fields(deleted_cls)
            else:
                deleted_only = True
        for key, field in fields.items():
            with self.check():
                sub = f"{path}.{key}"
                if key not in obj:
                    if _absent_ok(field, ctx):
                        continue
                    if deleted_only and key not in ("id", "object", "deleted"):
                        continue
                    if key in _variant_fields(cls) and obj.get("type") != key:
                        continue
                    self.fail(sub, "missing", f"declared as {_describe(field.tp)}", ctx[0])
                else:
                    self.value(obj[key], field.tp, sub, field.owner, (ctx[0], f"{ctx[1]}{key}."), ctx[0])
        for key in obj:
            if key not in fields:
                with self.check():
                    self.fail(f"{path}.{key}", "made_up",
                              f"{_describe(cls)} declares no {key!r} (value {_short(obj[key])})", ctx[0])

    def container(self, obj: dict, item_tp: Any, path: str, owner: type, ctx: tuple[str, str],
                  search: bool = False) -> None:
        """A `list` or `search_result`. stripe-python's ListObject/SearchResultObject
        annotations are incomplete (no `object`/`url` on either, and `next_page` not
        nullable though Stripe sends null), so their shape is spelled out here."""
        kind = "search_result" if search else "list"
        declared: dict[str, Any] = {"object": typing.Literal[kind], "data": list,
                                    "has_more": bool, "url": str}
        optional = {"total_count": int}  # sent on embedded lists / on request
        if search:
            declared["next_page"] = typing.Optional[str]
        for key, tp in declared.items():
            with self.check():
                sub = f"{path}.{key}"
                if key not in obj:
                    self.fail(sub, "missing", f"declared as {_describe(tp)}", kind)
                elif key == "data":
                    self.items(obj[key], item_tp, sub, owner, ctx)
                else:
                    self.value(obj[key], tp, sub, owner, ctx, kind)
        for key in obj:
            if key in optional:
                with self.check():
                    self.value(obj[key], optional[key], f"{path}.{key}", owner, ctx, kind)
            elif key not in declared:
                with self.check():
                    self.fail(f"{path}.{key}", "made_up", f"a {kind} has no {key!r}", kind)

    def items(self, data: Any, item_tp: Any, path: str, owner: type, ctx: tuple[str, str]) -> None:
        if not isinstance(data, list):
            self.fail(path, "type", f"expected an array, got {_json_type(data)}", "list")
            return
        for i, item in enumerate(data):
            sub = f"{path}[{i}]"
            if item_tp is None or isinstance(item_tp, typing.TypeVar):
                if isinstance(item, dict):
                    self.dispatch(item, sub)
                else:
                    self.fail(sub, "type", f"expected an object, got {_json_type(item)}", "list")
            else:
                self.value(item, item_tp, sub, owner, ctx, ctx[0])

    def error(self, body: dict, root: str) -> None:
        """`{"error": {...}}`. Stripe leaves null fields out of error bodies, so only
        present fields and the non-nullable `type` are checked."""
        for key in body:
            if key != "error":
                with self.check():
                    self.fail(key, "made_up", "an error body holds only `error`", "error")
        err = body["error"]
        if not isinstance(err, dict):
            with self.check():
                self.fail(root, "type", f"expected an object, got {_json_type(err)}", "error")
            return
        fields = _fields(ERROR_CLASS)
        codes = set(_literals(fields["code"].tp))
        for key, value in err.items():
            with self.check():
                sub = f"{root}.{key}"
                field = fields.get(key)
                if field is None:
                    self.fail(sub, "made_up", f"Stripe's error object has no {key!r}", "error")
                elif key == "code" and isinstance(value, str) and value not in codes:
                    self.fail(sub, "error_code", f"{value!r} is not one of Stripe's error codes", "error")
                else:
                    self.value(value, field.tp, sub, field.owner, ("error", f"{key}."), "error")
        for key, field in fields.items():
            if key not in err and not _nullable(field.tp):
                with self.check():
                    self.fail(f"{root}.{key}", "missing", f"declared as {_describe(field.tp)}", "error")

    # ---- values

    def value(self, v: Any, tp: Any, path: str, owner: type, ctx: tuple[str, str], obj_type: str) -> None:
        """Checks `v` against annotation `tp`. `ctx` is what an embedded hash at this
        spot would have as context; `obj_type` names the object for findings."""
        tp = _resolve(tp, owner)
        if tp is Any or isinstance(tp, typing.TypeVar):
            return
        if _is_union(tp):
            self.union(v, typing.get_args(tp), path, owner, ctx, obj_type)
            return
        if v is None:
            self.fail(path, "null", f"null, but declared as {_describe(tp)} (not Optional)", obj_type)
            return
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is typing.Literal:
            if not _in_literals(v, args):
                self.fail(path, "enum", f"{_short(v)} is not {_describe(tp)}", obj_type)
        elif origin is list or tp is list:
            if not isinstance(v, list):
                self.fail(path, "type", f"expected an array, got {_json_type(v)}", obj_type)
            elif args:
                for i, item in enumerate(v):
                    self.value(item, args[0], f"{path}[{i}]", owner, ctx, obj_type)
        elif origin in (dict, UntypedStripeObject) or tp is dict:
            self.mapping(v, args[-1] if args else Any, path, owner, ctx, obj_type)
        elif origin in (ListObject, SearchResultObject):
            if not isinstance(v, dict):
                self.fail(path, "type", f"expected a list object, got {_json_type(v)}", obj_type)
            else:
                self.container(v, args[0] if args else None, path, owner, ctx,
                               search=origin is SearchResultObject)
        elif isinstance(tp, type) and issubclass(tp, StripeObject):
            if tp is StripeObject:  # an untyped hash
                if not isinstance(v, dict):
                    self.fail(path, "type", f"expected an object, got {_json_type(v)}", obj_type)
            else:
                self.slot(v, [tp], path, owner, ctx, obj_type, expandable=False)
        else:
            self.scalar(v, tp, path, obj_type)

    def scalar(self, v: Any, tp: Any, path: str, obj_type: str) -> None:
        ok = {
            bool: lambda: isinstance(v, bool),
            int: lambda: isinstance(v, int) and not isinstance(v, bool),
            float: lambda: isinstance(v, (int, float)) and not isinstance(v, bool),
            str: lambda: isinstance(v, str),
            # `_field_encodings = {...: "decimal_string"}`: a string on the wire.
            decimal.Decimal: lambda: isinstance(v, str) and _is_decimal(v),
        }.get(tp)
        if ok is None:
            return  # an annotation this checker does not know: no opinion
        if not ok():
            want = "a decimal string" if tp is decimal.Decimal else _describe(tp)
            self.fail(path, "type", f"expected {want}, got {_json_type(v)} {_short(v)}", obj_type)

    def mapping(self, v: Any, value_tp: Any, path: str, owner: type, ctx: tuple[str, str], obj_type: str) -> None:
        if not isinstance(v, dict):
            self.fail(path, "type", f"expected an object (map), got {_json_type(v)}", obj_type)
            return
        if value_tp is Any:
            # `Event.data.object` is typed as an untyped map but holds a whole resource:
            # check it as the object it says it is.
            if isinstance(v.get("object"), str) and _class_for(v["object"]):
                self.dispatch(v, path)
            return
        for key, item in v.items():
            self.value(item, value_tp, f"{path}.{key}", owner, ctx, obj_type)

    def union(self, v: Any, args: tuple, path: str, owner: type, ctx: tuple[str, str], obj_type: str) -> None:
        nullable = NoneType in args
        rest = [_resolve(a, owner) for a in args if a is not NoneType]
        if v is None:
            if not nullable:
                self.fail(path, "null", f"null, but declared as {_describe(typing.Union[tuple(rest)])}", obj_type)
            return
        literal_args = [a for a in rest if typing.get_origin(a) is typing.Literal]
        others = [a for a in rest if a not in literal_args]
        if literal_args:
            values = [x for a in literal_args for x in typing.get_args(a)]
            if _in_literals(v, values):
                return
            if others in ([], [str]) and (not others or isinstance(v, str)):
                # `Union[Literal[...], str]` is an open enum: the `str` is only there so
                # old clients survive new values; the spec's values are the Literal.
                self.fail(path, "enum", f"{_short(v)} is not {_describe(typing.Literal[tuple(values)])}", obj_type)
                return
            rest = others
        objects = [a for a in rest if isinstance(a, type) and issubclass(a, StripeObject)
                   or typing.get_origin(a) in (ListObject, SearchResultObject)]
        if str in rest and objects and len(rest) == len(objects) + 1:
            # ExpandableField[...]: an id, or the object once expanded.
            if isinstance(v, str):
                return
            if isinstance(v, dict):
                self.slot(v, objects, path, owner, ctx, obj_type, expandable=True)
            else:
                self.fail(path, "expandable", f"neither an id string nor an object: {_json_type(v)} {_short(v)}",
                          obj_type)
            return
        if len(rest) == 1:
            self.value(v, rest[0], path, owner, ctx, obj_type)
            return
        if objects and len(objects) == len(rest):  # a polymorphic object (charge.source)
            if isinstance(v, dict):
                self.slot(v, objects, path, owner, ctx, obj_type, expandable=False)
            else:
                self.fail(path, "type", f"expected an object, got {_json_type(v)}", obj_type)
            return
        # Any other union (none in 16.1.0): take the first branch of the right JSON kind.
        for branch in rest:
            if _json_kind_fits(v, branch):
                self.value(v, branch, path, owner, ctx, obj_type)
                return
        self.fail(path, "type", f"{_json_type(v)} fits none of {_describe(typing.Union[tuple(rest)])}", obj_type)

    def slot(self, v: Any, classes: list, path: str, owner: type, ctx: tuple[str, str], obj_type: str,
             expandable: bool) -> None:
        """An object where the declared type is one of `classes` (`owner` resolves the
        forward refs still inside a `ListObject[...]`)."""
        kind = "expandable" if expandable else "type"
        if not isinstance(v, dict):
            self.fail(path, kind, f"expected an object, got {_json_type(v)} {_short(v)}", obj_type)
            return
        lists = [c for c in classes if typing.get_origin(c) in (ListObject, SearchResultObject)]
        if lists and v.get("object") in ("list", "search_result"):
            self.value(v, lists[0], path, owner, ctx, obj_type)
            return
        classes = [c for c in classes if c not in lists]
        embedded = [c for c in classes if not _object_names(c)]
        if embedded and len(classes) == 1:
            # An embedded hash (or an expandable one such as charge.outcome.rule).
            self.object(v, embedded[0], path, ctx)
            return
        name = v.get("object")
        if not isinstance(name, str):
            if len(classes) == 1:
                self.object(v, classes[0], path, ctx)  # its missing `object` gets flagged
            else:
                self.fail(path, kind, "an object without `object`: cannot tell which of "
                          + ", ".join(_describe(c) for c in classes), obj_type)
            return
        cls = _class_for(name)
        if cls is None:
            self.fail(path, "unknown_object", f"{name!r}: stripe-python has no class for it", obj_type)
        elif cls in classes:
            self.object(v, cls, path, (name, ""))
        else:
            want = " or ".join(n for c in classes for n in _object_names(c)) or _describe(classes[0])
            self.fail(path, kind, f"expected {want}, got a {name!r} object", obj_type)


def _nullable(tp: Any) -> bool:
    return _is_union(tp) and NoneType in typing.get_args(tp)


def _in_literals(v: Any, values: Iterable[Any]) -> bool:
    # Type-aware: `1 == True` must not make 1 a valid `Literal[True]`.
    return any(type(v) is type(x) and v == x for x in values)


def _is_decimal(s: str) -> bool:
    try:
        return decimal.Decimal(s).is_finite()
    except decimal.InvalidOperation:
        return False


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string",
            list: "array", dict: "object"}.get(type(v), type(v).__name__)


def _json_kind_fits(v: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp) or tp
    if origin in (list,):
        return isinstance(v, list)
    if origin in (dict, UntypedStripeObject, ListObject, SearchResultObject) or (
            isinstance(origin, type) and issubclass(origin, StripeObject)):
        return isinstance(v, dict)
    if tp in (int, float):
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(tp, type) and isinstance(v, tp)


def _short(v: Any) -> str:
    text = json.dumps(v, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------------------
# Public API


def count_checks(obj: Any, where: str = "") -> tuple[int, list[Finding]]:
    """(field checks performed, findings); `checks - len(findings)` conform."""
    run = _Run()
    run.top(obj, where)
    return run.checks, run.findings


def check(obj: Any, where: str = "") -> list[Finding]:
    """Findings for one Stripe object, list/search result or error body. Paths start
    with `where`, by default the object's type (`subscription.items.data[0]...`)."""
    return count_checks(obj, where)[1]


def skeleton(object_name: str) -> dict:
    """A minimal answer that conforms: every declared field present (except includable
    and conditional ones), nullable ones null, enums at their first value, expandable
    ones as ids. For tests."""
    cls = _class_for(object_name)
    if cls is None:
        raise KeyError(object_name)
    return _skeleton_object(cls, (object_name, ""), depth=0)


def _skeleton_object(cls: type, ctx: tuple[str, str], depth: int) -> dict:
    names = _object_names(cls)
    if names:
        ctx = (names[0], "")
    out = {}
    for key, f in _fields(cls).items():
        if _absent_ok(f, ctx):
            continue
        out[key] = _skeleton_value(f.tp, f.owner, (ctx[0], f"{ctx[1]}{key}."), depth, key)
    return out


def _skeleton_value(tp: Any, owner: type, ctx: tuple[str, str], depth: int, key: str) -> Any:
    tp = _resolve(tp, owner)
    if _is_union(tp):
        args = typing.get_args(tp)
        if NoneType in args:
            return None
        literals = _literals(tp)
        if literals:
            return literals[0]
        if str in args:  # expandable: an id
            return f"{key}_skeleton"
        return _skeleton_value(args[0], owner, ctx, depth, key)
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return typing.get_args(tp)[0]
    if origin is list:
        return []
    if origin in (dict, UntypedStripeObject):
        return {}
    if origin in (ListObject, SearchResultObject):
        return {"object": "list", "data": [], "has_more": False, "url": f"/v1/{key}"}
    if isinstance(tp, type) and issubclass(tp, StripeObject):
        if tp is StripeObject or depth > 6:
            return {}
        return _skeleton_object(tp, ctx, depth + 1)
    return {bool: False, int: 0, float: 0.0, str: f"{key}_skeleton", decimal.Decimal: "0"}.get(tp)


# --------------------------------------------------------------------------------------
# Records (the CLI)


def _requested_expands(record: dict) -> set[str] | None:
    """The `expand[]` paths of a recorded request, or None when its parameters are
    unknown (a POST's form is not in the record unless the recorder added it)."""
    paths: set[str] = set(record.get("expand") or [])
    known = "expand" in record
    pairs = parse_qsl(urlsplit(record.get("path", "")).query)
    if str(record.get("method", "GET")).upper() in ("GET", "DELETE"):
        known = True
    for extra in (record.get("query"), record.get("form"), record.get("params")):
        if isinstance(extra, str):
            pairs += parse_qsl(extra)
            known = True
        elif isinstance(extra, dict):
            pairs += [(k, x) for k, v in extra.items() for x in (v if isinstance(v, list) else [v])]
            known = True
    for k, v in pairs:
        if re.fullmatch(r"expand(\[\d*\])?", k):
            paths.add(str(v))
    return paths if known else None


def unrequested_includes(body: Any, expands: set[str], where: str = "") -> list[Finding]:
    """Includable fields present in `body` though no `expand[]` asked for them.
    An expand path such as `subscriptions.data.default_payment_method` implies its
    prefix `subscriptions`."""
    requested = {".".join(p.split(".")[:i]) for p in expands for i in range(1, p.count(".") + 2)}
    out: list[Finding] = []

    def walk(node: Any, path: str, rel: str) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]", rel)
            return
        if not isinstance(node, dict):
            return
        name = node.get("object")
        if isinstance(name, str) and name not in ("list", "search_result"):
            for field in sorted(includable_fields(name)):
                cur: Any = node
                for part in field.split("."):
                    cur = cur.get(part) if isinstance(cur, dict) else None
                if cur is not None and rel + field not in requested:
                    out.append(Finding(f"{path}.{field}", "unrequested_include",
                                       f"sent without expand[]={rel + field}", name))
        for key, value in node.items():
            walk(value, f"{path}.{key}", f"{rel}{key}.")

    if isinstance(body, dict):
        walk(body, where or str(body.get("object") or "$"), "")
    return out


def summarize(records: Iterable[dict]) -> dict:
    """Checks every recorded body. Returns counts, findings grouped by (object type,
    path without indexes, kind), and includable fields sent without being requested."""
    checks = 0
    findings: list[tuple[Finding, str]] = []
    unrequested: list[tuple[Finding, str]] = []
    bodies = 0
    for rec in records:
        body = rec.get("body")
        path = str(rec.get("path", ""))
        if not isinstance(body, dict) or path.startswith("/_emulator"):
            continue  # the emulator's control API is not Stripe's
        bodies += 1
        request = f"{rec.get('method', '?')} {path}"
        n, found = count_checks(body)
        checks += n
        findings += [(f, request) for f in found]
        expands = _requested_expands(rec)
        if expands is not None and "error" not in body:
            unrequested += [(f, request) for f in unrequested_includes(body, expands)]
    groups: dict[tuple[str, str, str], dict] = {}
    for f, request in findings:
        key = (f.object_type, re.sub(r"\[\d+\]", "", f.path), f.kind)
        g = groups.setdefault(key, {"object": key[0], "path": key[1], "kind": key[2], "count": 0,
                                    "example": f.detail, "request": request})
        g["count"] += 1
    conforming = checks - len(findings)
    return {
        "bodies": bodies,
        "checks": checks,
        "conforming": conforming,
        "percent": round(100.0 * conforming / checks, 2) if checks else 100.0,
        "findings": len(findings),
        "groups": sorted(groups.values(), key=lambda g: (-g["count"], g["object"], g["path"], g["kind"])),
        "unrequested_includes": [
            {"object": f.object_type, "path": f.path, "detail": f.detail, "request": r}
            for f, r in unrequested],
    }


def _read_records(path: Path) -> list[dict]:
    records = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            print(f"{path}:{n}: skipped, not JSON ({e})", file=sys.stderr)
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("records", type=Path, help="JSONL: {method, path, status, body} per line")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    summary = summarize(_read_records(args.records))
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"conformance: {summary['conforming']} of {summary['checks']} field checks conform "
          f"({summary['percent']:.1f}%); {summary['findings']} findings")
    if summary["groups"]:
        rows = [("count", "kind", "object", "path", "example")] + [
            (str(g["count"]), g["kind"], g["object"], g["path"], f"{g['example']}  [{g['request']}]")
            for g in summary["groups"]]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[4])
    if summary["unrequested_includes"]:
        print(f"\nincludable fields sent without expand[] ({len(summary['unrequested_includes'])}):")
        counts = collections.Counter((u["object"], re.sub(r"\[\d+\]", "", u["path"]))
                                     for u in summary["unrequested_includes"])
        for (obj, p), n in counts.most_common():
            print(f"  {n}  {obj}  {p}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `conformance.py RECORD.jsonl | head`: not an error
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
