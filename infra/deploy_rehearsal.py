"""`make deploy-rehearsal`: the deploy of template.yaml, rehearsed on moto's CloudFormation.

No machine here reaches AWS, so this does what `sam package`, `sam deploy` and `sam delete`
do, against a moto server, and reads every resource back through boto3:

1. template.yaml through aws-sam-translator (the version the pinned SAM CLI ships, pinned
   in infra/requirements.txt), each function's CodeUri first pointed at a placeholder zip in
   moto's S3 as `sam package` points it at the built one: this rehearses the resources, not
   the binaries (`make test` runs those on the local stack and one as an arm64 package).
   Refs to nothing and parameters outside the template's constraints fail here, as
   CloudFormation would refuse them.
2. What moto's CloudFormation cannot create is found out, not listed by hand: resource types
   no moto CloudFormation model declares (moto.cloudformation.parsing's model map), then a
   trial create in moto in this process (mock_aws) that drops a resource whose moto model
   needs a property CloudFormation does not (a KeyError on it), and what fails only for
   needing a dropped one. Each is printed as "not rehearsed"; refs to it get a placeholder.
   Any other failure fails the rehearsal.
3. The rest is created as one stack on the moto server (its own, on 127.0.0.1:5055 or a free
   port, stopped afterwards; or `--endpoint URL`) with the parameters and capabilities of the
   documented `sam deploy` (README.md and docs/OPERATING.md, checked to say the same), then
   read back: tables (keys, indexes, billing, SSE, TTL, PITR), the KMS key (state, rotation,
   policy, encrypting under a tenant's context) and alias, EventBridge buses and rules,
   schedules, roles (trust, inline and attached policies), managed policies, every function
   (runtime, handler, memory, timeout, architectures, role, concurrency, log group, and every
   environment variable the template sets, Globals included), invoke permissions, log
   groups, and the stack's outputs. Where moto's model does not apply a property (it is not
   in the model's create_from_cloudformation_json) a difference is "not rehearsed", not a
   failure.
4. `sam delete`, rehearsed: the stack is deleted; what the template retains must still be
   there and the rest gone; then the retained tables, key and log group, a tenant's secret
   and the alarm topic are deleted as docs/OPERATING.md says.

Checks iterate the template's resources, so functions and resources added later are
checked without editing this file. Exit status 0 only when every check passes.

Usage: .venv/bin/python infra/deploy_rehearsal.py [--endpoint URL] [--port N] [--verbose]
                                                  [--template PATH]"""
from __future__ import annotations

import argparse
import ast
import copy
import inspect
import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
DOCS = [ROOT / "README.md", ROOT / "docs" / "OPERATING.md"]
REGION = "us-east-1"
STACK = "stripe-bot"
PORT = 5055  # beside the e2e stack's moto (5001) and make dev's (5000)
ARTIFACTS = "deploy-rehearsal-artifacts"  # the bucket `--resolve-s3` would make
CODE_KEY = "placeholder/bootstrap.zip"
# What the documented `sam deploy --parameter-overrides` passes (the rest keep the
# template's defaults); "{alarm_topic}" is the SNS topic the deploy's first step creates.
OVERRIDES = {
    "AlarmTopicArn": "{alarm_topic}",
    "LogRetentionDays": "30",
    "WafRequestsPer5Minutes": "1000",
    "FloodReservedConcurrency": "20",
}
# The tenant whose secret the teardown rehearsal creates and then deletes as the docs say
# (a name of its own, so a rerun on the same `--endpoint` meets no secret pending deletion).
TENANT = f"rehearsal-{os.getpid()}"

# Never real credentials, never a real endpoint: only the moto this script talks to.
for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
    os.environ.pop(var, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="rehearsal",
    AWS_SECRET_ACCESS_KEY="rehearsal",
    AWS_DEFAULT_REGION=REGION,
    AWS_REGION=REGION,
    AWS_SHARED_CREDENTIALS_FILE=os.devnull,
)

import logging  # noqa: E402
import warnings  # noqa: E402

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

ANY = "\x00any\x00"  # a value the rehearsal cannot know (an attribute moto does not expose)
NOVALUE = object()


# ---------------------------------------------------------------- the template, transformed


class ManagedPolicies:
    """samtranslator's managed-policy loader, without IAM: the AWS managed policies the
    template names by ARN, by their names (SAM also takes a bare name)."""

    def __init__(self, template_text: str):
        arns = set(re.findall(r"arn:aws:iam::aws:policy/[\w+=,.@/-]+", template_text))
        arns.add("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
        self.policies = {arn.rsplit("/", 1)[1]: arn for arn in arns}

    def load(self) -> dict[str, str]:
        return self.policies


def package(sam: dict, bucket: str, key: str) -> list[str]:
    """What `sam package` does to the template: each function's local CodeUri becomes the
    S3 object it uploaded (here one placeholder zip). Returns the functions so pointed."""
    pointed = []
    uri = f"s3://{bucket}/{key}"
    globals_fn = sam.get("Globals", {}).get("Function", {})
    if isinstance(globals_fn.get("CodeUri"), str) and not globals_fn["CodeUri"].startswith("s3://"):
        globals_fn["CodeUri"] = uri
    for name, res in sam.get("Resources", {}).items():
        props = res.setdefault("Properties", {}) if isinstance(res, dict) else {}
        if res.get("Type") == "AWS::Serverless::Function":
            if "InlineCode" in props or "ImageUri" in props or props.get("PackageType") == "Image":
                continue
            if not str(props.get("CodeUri", "")).startswith("s3://"):
                props["CodeUri"] = uri
            pointed.append(name)
        elif res.get("Type") == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = uri
    return pointed


def transform(sam_text: str, parameters: dict[str, str]) -> tuple[dict, dict, list[str]]:
    from samtranslator.translator.transform import transform as sam_transform
    from samtranslator.yaml_helper import yaml_parse

    from samtranslator.model.exceptions import InvalidDocumentException

    sam = yaml_parse(sam_text)
    pointed = package(sam, ARTIFACTS, CODE_KEY)
    try:
        cfn = sam_transform(copy.deepcopy(sam), dict(parameters), ManagedPolicies(sam_text))
    except InvalidDocumentException as e:
        raise RehearsalFailed("aws-sam-translator refuses the template:\n  " + "\n  ".join(str(c) for c in e.causes)) from e
    # A plain AWS::Lambda::Function in the template gets the placeholder code as well.
    for res in cfn["Resources"].values():
        if res["Type"] == "AWS::Lambda::Function":
            code = res["Properties"].get("Code", {})
            if not any(k in code for k in ("ZipFile", "ImageUri", "S3Bucket")):
                res["Properties"]["Code"] = {"S3Bucket": ARTIFACTS, "S3Key": CODE_KEY}
    return yaml_parse(sam_text), cfn, pointed


def stack_parameters(sam: dict, alarm_topic: str) -> tuple[dict[str, str], list[str]]:
    """The documented overrides, and a value for any parameter without a default."""
    values, notes = {}, []
    for name, spec in (sam.get("Parameters") or {}).items():
        if name in OVERRIDES:
            values[name] = OVERRIDES[name].format(alarm_topic=alarm_topic)
        elif "Default" not in spec:
            if spec.get("AllowedValues"):
                value = str(spec["AllowedValues"][0])
            elif spec.get("Type") == "Number":
                value = str(spec.get("MinValue", 1))
            else:
                value = "rehearsal"
            values[name] = value
            notes.append(f"parameter {name} has no default: rehearsed with {name}={value}")
    return values, notes


def parameter_problems(sam: dict, values: dict[str, str]) -> list[str]:
    """What CloudFormation would refuse in the parameters the deploy passes."""
    problems = []
    for name, value in values.items():
        spec = (sam.get("Parameters") or {}).get(name)
        if spec is None:
            problems.append(f"{name}: the template has no such parameter")
            continue
        if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
            problems.append(f"{name}={value}: not one of {spec['AllowedValues']}")
        if spec.get("Type") == "Number":
            try:
                number = float(value)
            except ValueError:
                problems.append(f"{name}={value}: not a number")
                continue
            if "MinValue" in spec and number < float(spec["MinValue"]):
                problems.append(f"{name}={value}: below MinValue {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                problems.append(f"{name}={value}: above MaxValue {spec['MaxValue']}")
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            problems.append(f"{name}={value}: does not match {spec['AllowedPattern']}")
        if not int(spec.get("MinLength", 0)) <= len(value) <= int(spec.get("MaxLength", 4096)):
            problems.append(f"{name}={value}: length outside MinLength/MaxLength")
    return problems


def capabilities(cfn: dict) -> list[str]:
    """What CloudFormation asks the deploy to acknowledge for this template."""
    named = {"AWS::IAM::Role": "RoleName", "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
             "AWS::IAM::User": "UserName", "AWS::IAM::Group": "GroupName",
             "AWS::IAM::InstanceProfile": "InstanceProfileName"}
    caps = []
    types = [r["Type"] for r in cfn["Resources"].values()]
    if any(t.startswith("AWS::IAM::") for t in types):
        caps.append("CAPABILITY_IAM")
    if any(named.get(r["Type"]) in r.get("Properties", {}) for r in cfn["Resources"].values()):
        caps.append("CAPABILITY_NAMED_IAM")
    # sam deploy goes through a change set, for which CloudFormation needs no
    # CAPABILITY_AUTO_EXPAND for the SAM transform; a nested application would need it.
    if "AWS::Serverless::Application" in types or "AWS::CloudFormation::Stack" in types:
        caps.append("CAPABILITY_AUTO_EXPAND")
    return caps


# ---------------------------------------------------------------- what moto does not create


def moto_types() -> set[str]:
    from moto.cloudformation import parsing

    return set(parsing.get_model_map()) - set(parsing.NULL_MODELS)


def refs_in(value) -> set[str]:
    """Logical ids a value refers to (Ref, GetAtt, Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "Ref" and isinstance(v, str):
                found.add(v)
            elif k == "Fn::GetAtt":
                found.add((v.split(".", 1) if isinstance(v, str) else v)[0])
            elif k == "Fn::Sub":
                text, names = (v, {}) if isinstance(v, str) else (v[0], v[1])
                found |= {m.split(".", 1)[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)} - set(names)
                found |= refs_in(names)
            else:
                found |= refs_in(v)
    elif isinstance(value, list):
        for v in value:
            found |= refs_in(v)
    return found


def placeholder(logical: str, attr: str | None = None) -> str:
    if attr is None:
        return f"not-rehearsed-{logical}"
    if attr.endswith("Arn"):
        return f"arn:aws:not-rehearsed:{REGION}:000000000000:{logical}/{attr}"
    return f"not-rehearsed-{logical}-{attr}"


def replace_refs(value, dropped: set[str]):
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in dropped:
            return placeholder(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            target = target.split(".", 1) if isinstance(target, str) else target
            if target[0] in dropped:
                return placeholder(target[0], target[1])
        if set(value) == {"Fn::Sub"}:
            v = value["Fn::Sub"]
            text, names = (v, {}) if isinstance(v, str) else (v[0], v[1])

            def sub(m):
                name = m.group(1)
                logical, _, attr = name.partition(".")
                if logical in dropped and name not in names:
                    return placeholder(logical, attr or None)
                return m.group(0)

            text = re.sub(r"\$\{([^!}][^}]*)\}", sub, text)
            names = replace_refs(names, dropped)
            return {"Fn::Sub": text if isinstance(v, str) else [text, names]}
        return {k: replace_refs(v, dropped) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_refs(v, dropped) for v in value]
    return value


def without(cfn: dict, dropped: set[str]) -> dict:
    """The template without the dropped resources; refs to them become placeholders."""
    out = copy.deepcopy(cfn)
    out["Resources"] = {k: v for k, v in out["Resources"].items() if k not in dropped}
    for res in out["Resources"].values():
        deps = res.get("DependsOn")
        if isinstance(deps, str) and deps in dropped:
            del res["DependsOn"]
        elif isinstance(deps, list):
            res["DependsOn"] = [d for d in deps if d not in dropped]
            if not res["DependsOn"]:
                del res["DependsOn"]
    return replace_refs(out, dropped)


def unnamed_refs(cfn: dict) -> dict[str, str]:
    """Resources whose Ref moto cannot answer (its model has no physical id, so a Ref to
    one becomes a Python object's repr): {logical id: the name property that stands in},
    which is what CloudFormation's Ref answers for them."""
    from moto.cloudformation import parsing

    models = parsing.get_model_map()
    stand_in = {}
    for logical, res in cfn["Resources"].items():
        model = models.get(res["Type"])
        if model is None or hasattr(model, "physical_resource_id"):
            continue
        name = model.cloudformation_name_type()
        value = res.get("Properties", {}).get(name) if name else None
        if isinstance(value, str) or (isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str)):
            stand_in[logical] = name
    return stand_in


def for_moto(cfn: dict, dropped: set[str]) -> dict:
    """What is sent to moto: without what it cannot create, and with a Ref moto cannot
    answer replaced by the name it stands for."""
    out = without(cfn, dropped)
    names = {logical: out["Resources"][logical]["Properties"][prop] for logical, prop in unnamed_refs(out).items()}

    def text(value) -> str:
        return value if isinstance(value, str) else value["Fn::Sub"]

    def walk(value):
        if isinstance(value, dict):
            if set(value) == {"Ref"} and value["Ref"] in names:
                return copy.deepcopy(names[value["Ref"]])
            if set(value) == {"Fn::Sub"}:
                v = value["Fn::Sub"]
                body, variables = (v, {}) if isinstance(v, str) else (v[0], v[1])
                body = re.sub(r"\$\{([^!}.][^}.]*)\}",
                              lambda m: text(names[m.group(1)]) if m.group(1) in names and m.group(1) not in variables else m.group(0),
                              body)
                return {"Fn::Sub": body if isinstance(v, str) else [body, walk(variables)]}
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(out)


def stage_artifacts(s3, template: dict | None = None) -> str | None:
    try:
        s3.create_bucket(Bucket=ARTIFACTS)
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n# deploy rehearsal placeholder: the real binary is built by sam build\nexit 1\n")
    s3.put_object(Bucket=ARTIFACTS, Key=CODE_KEY, Body=buf.getvalue())
    if template is None:
        return None
    # As sam deploy does for a template over CloudFormation's 51,200-byte body limit.
    key = f"{STACK}/template.json"
    s3.put_object(Bucket=ARTIFACTS, Key=key, Body=json.dumps(template).encode())
    return f"https://s3.{REGION}.amazonaws.com/{ARTIFACTS}/{key}"


class FailureSpy:
    """Records the resource moto's CloudFormation was creating when it failed (the first,
    innermost one: a resource fails while creating what it refers to), whether moto then
    raises or answers with an error."""

    def __init__(self):
        from moto.cloudformation import parsing

        self.parsing, self.original = parsing, parsing.parse_and_create_resource
        self.failure: tuple[str, BaseException] | None = None

    def __enter__(self):
        def spy(logical_id, *args, **kwargs):
            try:
                return self.original(logical_id, *args, **kwargs)
            except Exception as exc:
                if self.failure is None:
                    self.failure = (logical_id, exc)
                raise

        self.parsing.parse_and_create_resource = spy
        return self

    def __exit__(self, *exc):
        self.parsing.parse_and_create_resource = self.original


def is_moto_gap(exc: BaseException, resource: dict) -> bool:
    """moto's model needing a property CloudFormation does not (a KeyError on a property the
    resource leaves out, as moto's RestApi needs a Name SAM's OpenAPI body makes unneeded).
    Any other failure is taken as the template's: moto answering as AWS would, or moto
    tripping on input AWS would refuse too."""
    return (isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str)
            and re.fullmatch(r"[A-Z][A-Za-z0-9]+", exc.args[0]) is not None
            and exc.args[0] not in resource.get("Properties", {}))


def unresolved(cfn: dict) -> list[str]:
    """What CloudFormation refuses before creating anything: refs to nothing."""
    known = set(cfn["Resources"]) | set(cfn.get("Parameters") or {})
    missing: dict[str, list[str]] = {}
    for section in ("Resources", "Outputs", "Conditions"):
        for name, body in (cfn.get(section) or {}).items():
            names = refs_in(body)
            if section == "Resources":
                deps = body.get("DependsOn", [])
                names |= set([deps] if isinstance(deps, str) else deps)
            for ref in names:
                if ref not in known and not ref.startswith("AWS::"):
                    missing.setdefault(ref, []).append(f"{section}.{name}")
    return [f"{ref}, which the template does not have, is referred to by {', '.join(sorted(by))}"
            for ref, by in sorted(missing.items())]


def probe(cfn: dict, parameters: list[dict], caps: list[str]) -> dict[str, str]:
    """Which resources moto's CloudFormation cannot create: {logical id: why}. Found by
    trying, in moto in this process (mock_aws), so a failure leaves nothing on the server."""
    from moto import mock_aws

    # moto warns of each type it skips; this prints them itself.
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*not supported by moto")
    supported = moto_types()
    dropped: dict[str, str] = {}
    for logical, res in cfn["Resources"].items():
        if res["Type"].startswith("Custom::") or res["Type"] == "AWS::CloudFormation::CustomResource":
            dropped[logical] = "moto runs a custom resource's Lambda, which needs Docker"
        elif res["Type"] not in supported:
            dropped[logical] = "moto does not create it"
    for _ in range(len(cfn["Resources"])):
        with mock_aws(), FailureSpy() as spy:
            url = stage_artifacts(boto3.client("s3", region_name=REGION), for_moto(cfn, set(dropped)))
            try:
                boto3.client("cloudformation", region_name=REGION).create_stack(
                    StackName=STACK, TemplateURL=url, Parameters=parameters, Capabilities=caps)
            except Exception:  # noqa: BLE001 - moto's own failures are what this looks for
                if spy.failure is None:
                    raise
        if spy.failure is None:
            return dropped
        logical, exc = spy.failure
        if logical in dropped:
            raise RehearsalFailed(f"moto failed again on {logical}: {exc}")
        rtype = cfn["Resources"][logical]["Type"]
        needs = refs_in(cfn["Resources"][logical]) & set(dropped)
        if needs:
            dropped[logical] = f"it needs {', '.join(sorted(needs))}, not rehearsed"
        elif is_moto_gap(exc, cfn["Resources"][logical]):
            tb = exc.__traceback__
            while tb.tb_next is not None:
                tb = tb.tb_next
            where = Path(tb.tb_frame.f_code.co_filename)
            dropped[logical] = (f"moto cannot create it from this template: {type(exc).__name__} {exc} "
                                f"in moto's {where.parent.name}/{where.name}")
        else:
            raise RehearsalFailed(f"moto cannot create {logical} ({rtype}): {type(exc).__name__} {exc} "
                                  "(moto answering as AWS would, or tripping on what AWS would refuse)")
    raise RehearsalFailed("moto never created the stack")


class RehearsalFailed(Exception):
    pass


class MotoModels:
    """What moto's CloudFormation model of a type does with a property, read from moto's
    source: a check that finds a property missing where moto never applies it reports a
    moto gap (not rehearsed), not a failure."""

    def __init__(self):
        from moto.cloudformation import parsing
        from moto.core.common_models import CloudFormationModel

        self.models, self.base = parsing.get_model_map(), CloudFormationModel
        self._sources: dict[str, tuple[str, str]] = {}

    def _source(self, rtype: str) -> tuple[str, str] | None:
        model = self.models.get(rtype)
        if model is None:
            return None
        if rtype not in self._sources:
            try:
                create = inspect.getsource(model.create_from_cloudformation_json)
                package = Path(inspect.getfile(model)).parent
                service = "\n".join(f.read_text() for f in package.rglob("*.py"))
            except (OSError, TypeError):
                return None
            self._sources[rtype] = (create, service)
        return self._sources[rtype]

    def applies(self, rtype: str, prop: str, value) -> bool:
        """Whether moto's CloudFormation reads `prop` when it creates `rtype` (its name in
        the model's create_from_cloudformation_json, or it is the name property) and knows
        its keys (one of them somewhere in moto's code of that service)."""
        source = self._source(rtype)
        if source is None:
            return True
        create, service = source
        if prop != self.models[rtype].cloudformation_name_type() and not re.search(rf"[\"']{prop}[\"']", create):
            return False
        if isinstance(value, dict) and value:
            return any(re.search(rf"[\"']{re.escape(k)}[\"']", service) for k in value)
        return True

    def deletes(self, rtype: str) -> bool:
        """Whether moto's CloudFormation deletes a resource of `rtype` with its stack."""
        model = self.models.get(rtype)
        if model is None:
            return False
        own = model.delete_from_cloudformation_json.__func__ is not self.base.delete_from_cloudformation_json.__func__
        return own or callable(getattr(model, "delete", None))


# ---------------------------------------------------------------- the moto server


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
            try:
                s.bind(("127.0.0.1", port))
                return s.getsockname()[1]
            except OSError:
                continue
    raise RehearsalFailed("no free port")


class MotoServer:
    def __init__(self, port: int):
        self.port = port
        self.log = tempfile.NamedTemporaryFile(prefix="deploy-rehearsal-moto-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "infra" / "moto_server.py"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            # AWS's managed policies (AWSLambdaBasicExecutionRole, which SAM gives each role).
            env={**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"})
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).read()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RehearsalFailed(f"moto server did not start on {self.url}:\n{Path(self.log.name).read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


# ---------------------------------------------------------------- reading back


class Clients:
    def __init__(self, endpoint: str):
        cfg = Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=60)
        self._make = lambda name: boto3.client(name, endpoint_url=endpoint, region_name=REGION, config=cfg)
        self._cache: dict[str, object] = {}

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._cache:
            self._cache[name] = self._make(name.rstrip("_").replace("_", "-"))
        return self._cache[name]


class Resolver:
    """The template's intrinsics, resolved against what moto created (ANY where moto has
    no way to tell an attribute)."""

    def __init__(self, aws: Clients, cfn: dict, params: dict[str, str], physical: dict[str, str], account: str):
        self.aws, self.cfn, self.physical = aws, cfn, physical
        self.params = {name: str(spec["Default"]) for name, spec in (cfn.get("Parameters") or {}).items()
                       if "Default" in spec}
        self.params.update(params)
        self.pseudo = {"AWS::Region": REGION, "AWS::AccountId": account, "AWS::Partition": "aws",
                       "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": STACK}
        self._attrs: dict[tuple[str, str], str] = {}

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.cfn.get("Conditions", {})[name]))

    def ref(self, name: str):
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::NoValue":
            return NOVALUE
        if name in self.params:
            spec = self.cfn.get("Parameters", {}).get(name, {})
            if spec.get("Type") == "CommaDelimitedList":
                return self.params[name].split(",")
            return self.params[name]
        return self.physical.get(name, ANY)

    def getatt(self, logical: str, attr: str):
        key = (logical, attr)
        if key not in self._attrs:
            self._attrs[key] = self._fetch_attr(logical, attr)
        return self._attrs[key]

    def _fetch_attr(self, logical: str, attr: str):
        res = self.cfn["Resources"].get(logical)
        phys = self.physical.get(logical)
        if res is None or phys is None:
            return ANY
        t, a = res["Type"], self.aws
        try:
            if t == "AWS::DynamoDB::Table":
                table = a.dynamodb.describe_table(TableName=phys)["Table"]
                return {"Arn": table["TableArn"], "StreamArn": table.get("LatestStreamArn", ANY)}.get(attr, ANY)
            if t == "AWS::KMS::Key":  # ListKeys: moto's DescribeKey fails on such a key
                arns = {k["KeyId"]: k["KeyArn"] for k in a.kms.list_keys()["Keys"]}
                return {"Arn": arns.get(phys, ANY), "KeyId": phys}.get(attr, ANY)
            if t == "AWS::IAM::Role":
                role = a.iam.get_role(RoleName=phys)["Role"]
                return {"Arn": role["Arn"], "RoleId": role["RoleId"]}.get(attr, ANY)
            if t == "AWS::IAM::ManagedPolicy":
                return phys if attr == "PolicyArn" else ANY
            if t == "AWS::Lambda::Function":
                return a.lambda_.get_function_configuration(FunctionName=phys)["FunctionArn"] if attr == "Arn" else ANY
            if t == "AWS::Logs::LogGroup":
                for g in a.logs.describe_log_groups(logGroupNamePrefix=phys)["logGroups"]:
                    if g["logGroupName"] == phys and attr == "Arn":
                        return g["arn"]
                return ANY
            if t == "AWS::Events::EventBus":
                bus = a.events.describe_event_bus(Name=phys.rsplit("/", 1)[-1])
                return {"Arn": bus["Arn"], "Name": bus["Name"]}.get(attr, ANY)
            if t == "AWS::Events::Rule":
                return a.events.describe_rule(Name=phys.rsplit("/", 1)[-1])["Arn"] if attr == "Arn" else ANY
            if t == "AWS::SNS::Topic":
                return {"TopicArn": phys, "TopicName": phys.rsplit(":", 1)[-1]}.get(attr, ANY)
            if t == "AWS::SQS::Queue":
                attrs = a.sqs.get_queue_attributes(QueueUrl=phys, AttributeNames=["QueueArn"])["Attributes"]
                return {"Arn": attrs["QueueArn"], "QueueUrl": phys}.get(attr, ANY)
        except ClientError:
            return ANY
        return ANY

    def resolve(self, value):
        if isinstance(value, dict):
            if len(value) == 1:
                (fn, arg), = value.items()
                if fn == "Ref":
                    return self.ref(arg)
                if fn == "Fn::GetAtt":
                    logical, attr = arg.split(".", 1) if isinstance(arg, str) else arg
                    return self.getatt(logical, attr)
                if fn == "Fn::Sub":
                    text, names = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

                    def sub(m):
                        name = m.group(1)
                        if name.startswith("!"):
                            return "${" + name[1:] + "}"
                        if name in names:
                            return str(names[name])
                        logical, _, attr = name.partition(".")
                        return str(self.getatt(logical, attr) if attr else self.ref(logical))

                    return re.sub(r"\$\{([^}]+)\}", sub, text)
                if fn == "Fn::Join":
                    parts = [self.resolve(p) for p in self.resolve(arg[1])]
                    return str(self.resolve(arg[0])).join(str(p) for p in parts)
                if fn == "Fn::If":
                    return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
                if fn == "Fn::Equals":
                    return self.resolve(arg[0]) == self.resolve(arg[1])
                if fn == "Fn::Not":
                    return not self.resolve(arg[0])
                if fn == "Fn::And":
                    return all(self.resolve(a) for a in arg)
                if fn == "Fn::Or":
                    return any(self.resolve(a) for a in arg)
                if fn == "Condition":
                    return self.condition(arg)
                if fn == "Fn::Select":
                    return self.resolve(arg[1])[int(self.resolve(arg[0]))]
                if fn == "Fn::Split":
                    return str(self.resolve(arg[1])).split(arg[0])
                if fn.startswith("Fn::"):
                    return ANY
            out = {}
            for k, v in value.items():
                r = self.resolve(v)
                if r is not NOVALUE:
                    out[k] = r
            return out
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not NOVALUE]
        return value


def matches(expected, actual) -> bool:
    """expected (resolved, ANY for the unknowable) against what moto answers; numbers and
    booleans as CloudFormation passes them (strings)."""
    if isinstance(expected, str) and ANY in expected:
        pattern = ".*".join(re.escape(p) for p in expected.split(ANY))
        return actual is not None and re.fullmatch(pattern, str(actual), re.S) is not None
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and set(expected) == set(actual)
                and all(matches(v, actual[k]) for k, v in expected.items()))
    if isinstance(expected, list):
        return isinstance(actual, list) and unordered(expected, actual)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return str(expected).lower() == str(actual).lower()
    return str(expected) == str(actual)


def unordered(expected: list, actual: list) -> bool:
    if len(expected) != len(actual):
        return False
    left = list(actual)
    for e in sorted(expected, key=lambda v: ANY in json.dumps(v)):
        hit = next((i for i, a in enumerate(left) if matches(e, a)), None)
        if hit is None:
            return False
        left.pop(hit)
    return True


def as_list(v):
    return v if isinstance(v, list) else [v]


def policy_doc(doc) -> dict:
    """A policy document as comparable data: every statement's lists as lists."""
    if isinstance(doc, str):
        doc = urllib.parse.unquote(doc) if doc.startswith("%7B") else doc
        try:
            doc = json.loads(doc)
        except ValueError:  # moto answers an inline policy CloudFormation gave it as Python's repr
            doc = ast.literal_eval(doc)
    statements = []
    for st in as_list(doc.get("Statement", [])):
        st = dict(st)
        for k in ("Action", "NotAction", "Resource", "NotResource"):
            if k in st:
                st[k] = as_list(st[k])
        if isinstance(st.get("Principal"), dict):
            st["Principal"] = {k: as_list(v) for k, v in st["Principal"].items()}
        if "Condition" in st:
            st["Condition"] = {op: {k: as_list(v) for k, v in kv.items()} for op, kv in st["Condition"].items()}
        statements.append(st)
    return {"Statement": statements}


# ---------------------------------------------------------------- checks per resource type


class Checker:
    def __init__(self, aws: Clients, cfn: dict, sam: dict, resolver: Resolver, physical: dict[str, str]):
        self.aws, self.cfn, self.sam, self.r, self.physical = aws, cfn, sam, resolver, physical
        self.rows: list[tuple[str, str, str, str]] = []  # (type, logical, what, status)
        self.failures: list[str] = []
        self.gaps: set[tuple[str, str]] = set()  # (type, what moto does not do)
        self.moto = MotoModels()
        self.props: dict = {}

    def expect(self, rtype: str, logical: str, what: str, expected, actual, prop: str | None = None,
               props: dict | None = None, wording: tuple[str, str] = ("the template says", "moto has")) -> None:
        """`prop`: the template property this comes from (in `props`, by default the
        resource's), so a property moto does not apply is told apart from a failure."""
        if matches(expected, actual):
            self.rows.append((rtype, logical, what, "ok"))
            return
        if prop is not None:
            value = (props if props is not None else self.props).get(prop)
            if not self.moto.applies(rtype, prop, value):
                self.gap(rtype, logical, what, f"{prop} (moto's CloudFormation does not apply it)")
                return
        shown = json.dumps(expected, default=str).replace(json.dumps(ANY)[1:-1], "*")
        self.rows.append((rtype, logical, what, "FAIL"))
        self.failures.append(f"{logical} ({rtype}) {what}: {wording[0]} {shown}, {wording[1]} {json.dumps(actual, default=str)}")

    def gap(self, rtype: str, logical: str, what: str, why: str, kind: str | None = None) -> None:
        self.gaps.add((kind or rtype, why))
        self.rows.append((rtype, logical, what, "not rehearsed"))

    def fail(self, rtype: str, logical: str, what: str, why: str) -> None:
        self.rows.append((rtype, logical, what, "FAIL"))
        self.failures.append(f"{logical} ({rtype}) {what}: {why}")

    def run(self, logical: str, res: dict) -> None:
        rtype = res["Type"]
        if "Condition" in res and not self.r.condition(res["Condition"]):
            return
        phys = self.physical.get(logical)
        if phys is None:
            self.fail(rtype, logical, "created", "not among the stack's created resources")
            return
        props = self.props = self.r.resolve(res.get("Properties", {}))
        check = getattr(self, "check_" + re.sub(r"\W+", "_", rtype.removeprefix("AWS::")).lower(), None)
        try:
            if check is None:
                self.rows.append((rtype, logical, "created", "ok"))
            else:
                check(rtype, logical, props, phys, res)
        except ClientError as e:
            message = re.sub(r"<[^>]+>", " ", str(e.response["Error"].get("Message", ""))).split("\n")
            self.fail(rtype, logical, "read back", f"{e.response['Error']['Code']}: {' '.join(message).split('  ')[0]}")

    # DynamoDB: the keys every function's requests use, indexes, TTL.
    def check_dynamodb_table(self, t, lid, props, phys, res):
        table = self.aws.dynamodb.describe_table(TableName=phys)["Table"]
        if "TableName" in props:
            self.expect(t, lid, "name", props["TableName"], table["TableName"], "TableName")
        self.expect(t, lid, "key schema", props.get("KeySchema"), table["KeySchema"], "KeySchema")
        self.expect(t, lid, "attribute definitions", props.get("AttributeDefinitions"),
                    table["AttributeDefinitions"], "AttributeDefinitions")
        self.expect(t, lid, "billing mode", props.get("BillingMode", "PROVISIONED"),
                    table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"), "BillingMode")
        want = {g["IndexName"]: {"KeySchema": g["KeySchema"], "Projection": g["Projection"].get("ProjectionType")}
                for g in props.get("GlobalSecondaryIndexes", [])}
        have = {g["IndexName"]: {"KeySchema": g["KeySchema"], "Projection": g["Projection"].get("ProjectionType")}
                for g in table.get("GlobalSecondaryIndexes", [])}
        if want or have:
            self.expect(t, lid, "global secondary indexes", want, have, "GlobalSecondaryIndexes")
        if props.get("SSESpecification", {}).get("SSEEnabled"):
            self.expect(t, lid, "encryption (SSE)", "ENABLED", table.get("SSEDescription", {}).get("Status"),
                        "SSESpecification")
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            have = self.aws.dynamodb.describe_time_to_live(TableName=phys)["TimeToLiveDescription"]
            enabled = str(ttl.get("Enabled")).lower() == "true"
            self.expect(t, lid, f"TTL ({ttl['AttributeName']})",
                        {"status": "ENABLED" if enabled else "DISABLED", "attribute": ttl["AttributeName"] if enabled else None},
                        {"status": have.get("TimeToLiveStatus"), "attribute": have.get("AttributeName")},
                        "TimeToLiveSpecification")
        if props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
            have = self.aws.dynamodb.describe_continuous_backups(TableName=phys)["ContinuousBackupsDescription"]
            self.expect(t, lid, "point-in-time recovery", "ENABLED",
                        have.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus"),
                        "PointInTimeRecoverySpecification")

    def check_kms_key(self, t, lid, props, phys, res):
        meta, state = kms_key(self.aws, phys)
        self.expect(t, lid, "enabled", "Enabled", state, "Enabled")
        if meta is None:
            self.gap(t, lid, "description, usage", "description and usage (moto's DescribeKey fails on a key its CloudFormation made)")
        else:
            if "Description" in props:
                self.expect(t, lid, "description", props["Description"], meta.get("Description"), "Description")
            self.expect(t, lid, "usage", props.get("KeyUsage", "ENCRYPT_DECRYPT"), meta["KeyUsage"], "KeyUsage")
        # What the functions and tenantctl do with it: a Stripe key under a tenant's context.
        context = {"tenant": "rehearsal"}
        try:
            blob = self.aws.kms.encrypt(KeyId=phys, Plaintext=b"sk_test_rehearsal", EncryptionContext=context)["CiphertextBlob"]
            plain = self.aws.kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"]
        except ClientError as e:
            plain = e.response["Error"]["Code"]
        self.expect(t, lid, "encrypts and decrypts under a tenant context", b"sk_test_rehearsal", plain)
        if "EnableKeyRotation" in props:
            have = self.aws.kms.get_key_rotation_status(KeyId=phys)["KeyRotationEnabled"]
            self.expect(t, lid, "rotation", props["EnableKeyRotation"], have, "EnableKeyRotation")
        if "KeyPolicy" in props:
            have = self.aws.kms.get_key_policy(KeyId=phys, PolicyName="default")["Policy"]
            self.expect(t, lid, "key policy", policy_doc(props["KeyPolicy"]), policy_doc(have), "KeyPolicy")

    def check_kms_alias(self, t, lid, props, phys, res):
        aliases = {a["AliasName"]: a.get("TargetKeyId") for a in self.aws.kms.list_aliases()["Aliases"]}
        self.expect(t, lid, f"target key ({props['AliasName']})", props["TargetKeyId"], aliases.get(props["AliasName"]), "TargetKeyId")

    def check_iam_role(self, t, lid, props, phys, res):
        role = self.aws.iam.get_role(RoleName=phys)["Role"]
        self.expect(t, lid, "trust policy", policy_doc(props["AssumeRolePolicyDocument"]),
                    policy_doc(role["AssumeRolePolicyDocument"]), "AssumeRolePolicyDocument")
        for policy in props.get("Policies", []):
            name = policy["PolicyName"]
            try:
                have = self.aws.iam.get_role_policy(RoleName=phys, PolicyName=name)["PolicyDocument"]
            except ClientError:
                self.fail(t, lid, f"inline policies ({name})", "missing")
                continue
            self.expect(t, lid, f"inline policies ({name})", policy_doc(policy["PolicyDocument"]), policy_doc(have), "Policies")
        arns = props.get("ManagedPolicyArns", [])
        # What each attached policy says, read from IAM (the stack's own managed policies
        # are checked as resources; an AWS managed one must exist).
        for arn in arns:
            if isinstance(arn, str) and ANY not in arn:
                try:
                    self.aws.iam.get_policy(PolicyArn=arn)
                    self.rows.append((t, lid, f"managed policies exist ({arn.rsplit('/', 1)[-1]})", "ok"))
                except ClientError:
                    if arn.startswith("arn:aws:iam::aws:policy/"):
                        self.gap(t, lid, f"managed policies exist ({arn.rsplit('/', 1)[-1]})",
                                 "AWS managed policies (moto has them only when started with MOTO_IAM_LOAD_MANAGED_POLICIES=true, as this script starts its own)")
                    else:
                        self.fail(t, lid, f"managed policies exist ({arn})", "no such policy in IAM")
        attached = [p["PolicyArn"] for p in self.aws.iam.list_attached_role_policies(RoleName=phys)["AttachedPolicies"]]
        self.expect(t, lid, "attached managed policies", arns, attached, "ManagedPolicyArns")

    def check_iam_managedpolicy(self, t, lid, props, phys, res):
        policy = self.aws.iam.get_policy(PolicyArn=phys)["Policy"]
        doc = self.aws.iam.get_policy_version(PolicyArn=phys, VersionId=policy["DefaultVersionId"])["PolicyVersion"]["Document"]
        self.expect(t, lid, "statements", policy_doc(props["PolicyDocument"]), policy_doc(doc), "PolicyDocument")
        if "Description" in props:
            self.expect(t, lid, "description", props["Description"], policy.get("Description"), "Description")

    def check_iam_policy(self, t, lid, props, phys, res):
        for role in props.get("Roles", []):
            have = self.aws.iam.get_role_policy(RoleName=role, PolicyName=props["PolicyName"])["PolicyDocument"]
            self.expect(t, lid, f"statements on roles ({role})", policy_doc(props["PolicyDocument"]), policy_doc(have), "PolicyDocument")

    def check_lambda_function(self, t, lid, props, phys, res):
        cfg = self.aws.lambda_.get_function_configuration(FunctionName=phys)
        for prop, what, default in (("Runtime", "runtime", None), ("Handler", "handler", None),
                                    ("MemorySize", "memory", 128), ("Timeout", "timeout", 3),
                                    ("Role", "role", None), ("Description", "description", "")):
            if prop in props or default is not None:
                self.expect(t, lid, what, props.get(prop, default), cfg.get(prop), prop)
        self.expect(t, lid, "architectures", props.get("Architectures", ["x86_64"]), cfg.get("Architectures"), "Architectures")
        # Every variable the template gives it (Globals included: the SAM template's own
        # lists, not only what the translator passed on), with its value.
        want = props.get("Environment", {}).get("Variables", {})
        sam_fn = self.sam["Resources"].get(lid, {})
        if sam_fn.get("Type") == "AWS::Serverless::Function":
            names = set(self.sam.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
            names |= set(sam_fn.get("Properties", {}).get("Environment", {}).get("Variables", {}))
            if not names <= set(want):
                self.fail(t, lid, "environment", f"the translator dropped {sorted(names - set(want))}")
        have = cfg.get("Environment", {}).get("Variables", {})
        self.expect(t, lid, f"environment ({len(want)} variables)", want, have, "Environment")
        if "ReservedConcurrentExecutions" in props:
            conc = self.aws.lambda_.get_function_concurrency(FunctionName=phys).get("ReservedConcurrentExecutions")
            self.expect(t, lid, "reserved concurrency", props["ReservedConcurrentExecutions"], conc,
                        "ReservedConcurrentExecutions")
        if "LoggingConfig" in props:
            self.expect(t, lid, "log group", props["LoggingConfig"].get("LogGroup"),
                        cfg.get("LoggingConfig", {}).get("LogGroup"), "LoggingConfig")
        if not cfg.get("CodeSize"):
            self.fail(t, lid, "code", "no code")

    def check_lambda_permission(self, t, lid, props, phys, res):
        try:
            policy = json.loads(self.aws.lambda_.get_policy(FunctionName=props["FunctionName"])["Policy"])
        except ClientError:
            policy = {"Statement": []}
        want = {"Action": props["Action"], "Principal": props["Principal"], "SourceArn": props.get("SourceArn")}
        have = [{"Action": s.get("Action"), "Principal": (s.get("Principal") or {}).get("Service", s.get("Principal")),
                 "SourceArn": (s.get("Condition") or {}).get("ArnLike", {}).get("AWS:SourceArn")}
                for s in policy.get("Statement", [])]
        ok = any(matches(want, h) for h in have)
        self.expect(t, lid, f"invoke permission ({props['Principal']})", want, want if ok else have, "SourceArn")

    def check_logs_loggroup(self, t, lid, props, phys, res):
        groups = {g["logGroupName"]: g for g in self.aws.logs.describe_log_groups(logGroupNamePrefix=phys)["logGroups"]}
        group = groups.get(phys)
        if group is None:
            self.fail(t, lid, "exists", f"no log group {phys}")
            return
        if "LogGroupName" in props:
            self.expect(t, lid, "name", props["LogGroupName"], phys, "LogGroupName")
        if "RetentionInDays" in props:
            self.expect(t, lid, "retention days", props["RetentionInDays"], group.get("retentionInDays"), "RetentionInDays")

    def check_events_eventbus(self, t, lid, props, phys, res):
        bus = self.aws.events.describe_event_bus(Name=phys.rsplit("/", 1)[-1])
        self.expect(t, lid, "name", props.get("Name"), bus.get("Name"), "Name")

    def check_events_rule(self, t, lid, props, phys, res):
        name = phys.rsplit("/", 1)[-1]
        bus = props.get("EventBusName", "default")
        rule = self.aws.events.describe_rule(Name=name, EventBusName=str(bus).rsplit("/", 1)[-1])
        for prop, key in (("ScheduleExpression", "ScheduleExpression"), ("State", "State")):
            if prop in props:
                self.expect(t, lid, prop, props[prop], rule.get(key), prop)
        if "EventPattern" in props:
            self.expect(t, lid, "event pattern", props["EventPattern"], json.loads(rule.get("EventPattern") or "null"),
                        "EventPattern")
        targets = self.aws.events.list_targets_by_rule(Rule=name, EventBusName=str(bus).rsplit("/", 1)[-1])["Targets"]
        self.expect(t, lid, "targets", [x["Arn"] for x in props.get("Targets", [])], [x["Arn"] for x in targets], "Targets")

    def check_scheduler_schedule(self, t, lid, props, phys, res):
        sched = self.aws.scheduler.get_schedule(Name=props.get("Name", phys), GroupName=props.get("GroupName", "default"))
        self.expect(t, lid, "expression", props.get("ScheduleExpression"), sched.get("ScheduleExpression"), "ScheduleExpression")
        self.expect(t, lid, "target", props.get("Target", {}).get("Arn"), sched.get("Target", {}).get("Arn"), "Target")
        self.expect(t, lid, "target role", props.get("Target", {}).get("RoleArn"), sched.get("Target", {}).get("RoleArn"), "Target")

    def check_sns_topic(self, t, lid, props, phys, res):
        self.aws.sns.get_topic_attributes(TopicArn=phys)
        self.rows.append((t, lid, "exists", "ok"))

    def check_sqs_queue(self, t, lid, props, phys, res):
        self.aws.sqs.get_queue_attributes(QueueUrl=phys, AttributeNames=["QueueArn"])
        self.rows.append((t, lid, "exists", "ok"))


def kms_key(aws: Clients, key: str) -> tuple[dict | None, str | None]:
    """A KMS key's metadata and state. moto's DescribeKey fails (500) on a key its own
    CloudFormation created (it keeps the key policy as an object), so the state is then
    read the way a caller meets it: by encrypting."""
    try:
        meta = aws.kms.describe_key(KeyId=key)["KeyMetadata"]
        return meta, meta["KeyState"]
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("500", "InternalFailure", "InternalError"):
            return None, None
    try:
        aws.kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"tenant": "rehearsal"})
        return None, "Enabled"
    except ClientError as e:
        error = e.response["Error"]
        if error["Code"] == "NotFoundException":
            return None, None
        if error["Code"] == "DisabledException":
            return None, "Disabled"
        if "pending deletion" in error.get("Message", "").lower():
            return None, "PendingDeletion"
        return None, error["Code"]


def exists(aws: Clients, rtype: str, phys: str) -> bool | None:
    """Whether a resource is still there after the stack is deleted (None: cannot tell)."""
    try:
        if rtype == "AWS::DynamoDB::Table":
            aws.dynamodb.describe_table(TableName=phys)
        elif rtype == "AWS::KMS::Key":
            return kms_key(aws, phys)[1] not in (None, "PendingDeletion", "PendingReplicaDeletion")
        elif rtype == "AWS::Logs::LogGroup":
            return any(g["logGroupName"] == phys for g in aws.logs.describe_log_groups(logGroupNamePrefix=phys)["logGroups"])
        elif rtype == "AWS::IAM::Role":
            aws.iam.get_role(RoleName=phys)
        elif rtype == "AWS::IAM::ManagedPolicy":
            aws.iam.get_policy(PolicyArn=phys)
        elif rtype == "AWS::Lambda::Function":
            aws.lambda_.get_function(FunctionName=phys)
        elif rtype == "AWS::Events::EventBus":
            aws.events.describe_event_bus(Name=phys.rsplit("/", 1)[-1])
        elif rtype == "AWS::KMS::Alias":
            return any(a["AliasName"] == phys for a in aws.kms.list_aliases()["Aliases"])
        else:
            return None
        return True
    except ClientError:
        return False


def delete_by_hand(aws: Clients, rtype: str, phys: str, arn: str | None) -> tuple[str, bool] | None:
    """What docs/OPERATING.md tells the operator to run for a retained resource, and
    whether it did what it says. `arn`: the resource's ARN from the stack's outputs, noted
    before `sam delete` (the key's alias goes with the stack)."""
    if rtype == "AWS::DynamoDB::Table":
        aws.dynamodb.delete_table(TableName=phys)
        return f"aws dynamodb delete-table --table-name {phys}", not exists(aws, rtype, phys)
    if rtype == "AWS::KMS::Key":
        # AWS takes the ARN as --key-id; moto's ScheduleKeyDeletion takes only the id in it.
        meta = aws.kms.schedule_key_deletion(KeyId=(arn or phys).rsplit("/", 1)[-1], PendingWindowInDays=7)
        return ("aws kms schedule-key-deletion --key-id <its ARN output> --pending-window-in-days 7",
                "DeletionDate" in meta and meta["KeyId"].endswith(phys))
    if rtype == "AWS::Logs::LogGroup":
        aws.logs.delete_log_group(logGroupName=phys)
        return f"aws logs delete-log-group --log-group-name {phys}", not exists(aws, rtype, phys)
    return None


# ---------------------------------------------------------------- the documented command


def documented_deploys() -> list[tuple[Path, str]]:
    found = []
    for path in DOCS:
        text = re.sub(r"\\\n\s*", " ", path.read_text())
        for line in text.splitlines():
            if re.search(r"\bsam deploy\b", line) and "--stack-name" in line:
                found.append((path, line))
    return found


def option(line: str, name: str) -> list[str]:
    m = re.search(rf"{name}\s+(.*?)(?=\s--|\s#|$)", line)
    return m.group(1).split() if m else []


def check_docs(checker: Checker, caps: list[str], params: dict[str, str]) -> None:
    t, wording = "documented deploy", ("the rehearsal ran", "the docs say")
    commands = documented_deploys()
    for path in DOCS:
        if not any(p == path for p, _ in commands):
            checker.fail(t, path.relative_to(ROOT).as_posix(), "the deploy command", "shows no `sam deploy --stack-name ...` command")
    for path, line in commands:
        where = path.relative_to(ROOT).as_posix()
        checker.expect(t, where, "stack name", STACK, (option(line, "--stack-name") or [None])[0], wording=wording)
        checker.expect(t, where, "capabilities", sorted(caps), sorted(option(line, "--capabilities")), wording=wording)
        shown = dict(kv.split("=", 1) for kv in option(line, "--parameter-overrides") if "=" in kv)
        # A value the deploy learns on the way (the topic's ARN) is a shell variable there.
        want = {k: ANY if "{" in OVERRIDES.get(k, "") else v for k, v in params.items()}
        checker.expect(t, where, "parameter overrides", want, shown, wording=wording)
        if "--guided" in line:
            checker.fail(t, where, "not --guided", "the documented command is the guided one")
        else:
            checker.rows.append((t, where, "not --guided", "ok"))


# ---------------------------------------------------------------- the rehearsal


def table(rows: list[tuple[str, str, str, str]], verbose: bool) -> str:
    """One line per resource type (every check of every resource of it), or per check."""
    if verbose:
        return "\n".join(f"  {status:<14} {t:<30} {lid:<44} {what}" for t, lid, what, status in rows)
    by_type: dict[str, dict] = {}
    for t, lid, what, status in rows:
        entry = by_type.setdefault(t, {"ids": set(), "failed": set(), "what": {}})
        entry["ids"].add(lid)
        if status == "FAIL":
            entry["failed"].add(lid)
        entry["what"].setdefault(re.sub(r"\s*\(.*\)$", "", what), set()).add(status)
    lines = [f"  {'':<30} {'n':>3}  {'result':<8} read back from moto"]
    for t, e in by_type.items():
        result = f"{len(e['failed'])} FAIL" if e["failed"] else "ok"
        what = ", ".join(w + (" (not rehearsed)" if "not rehearsed" in st else "") for w, st in e["what"].items())
        lines.append(f"  {t:<30} {len(e['ids']):>3}  {result:<8} {what}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoint", help="a running moto server's URL (default: start one)")
    ap.add_argument("--port", type=int, default=PORT, help=f"port for the moto server started here (default {PORT}, else a free one)")
    ap.add_argument("--verbose", action="store_true", help="one line per check")
    ap.add_argument("--template", type=Path, default=TEMPLATE, help="the SAM template (default template.yaml)")
    args = ap.parse_args()
    started = time.monotonic()
    sam_text = args.template.read_text()

    server = None
    try:
        if args.endpoint:
            endpoint = args.endpoint
        else:
            server = MotoServer(free_port(args.port))
            endpoint = server.url
        print(f"== deploy rehearsal of {args.template.name} as stack {STACK} on moto at {endpoint}")
        aws = Clients(endpoint)
        account = aws.sts.get_caller_identity()["Account"]

        # The deploy's first step (docs/OPERATING.md): the topic the alarms notify.
        topic = aws.sns.create_topic(Name=f"{STACK}-alarms")["TopicArn"]
        from samtranslator.yaml_helper import yaml_parse

        params, notes = stack_parameters(yaml_parse(sam_text), topic)
        problems = parameter_problems(yaml_parse(sam_text), params)
        if problems:
            raise RehearsalFailed("CloudFormation would refuse the parameters:\n  " + "\n  ".join(problems))
        sam, cfn, pointed = transform(sam_text, params)
        missing = unresolved(cfn)
        if missing:
            raise RehearsalFailed("CloudFormation would refuse the template (unresolved dependencies):\n  "
                                  + "\n  ".join(missing))
        caps = capabilities(cfn)
        cfn_params = [{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()]
        print(f"   aws-sam-translator: {len(sam['Resources'])} template resources -> {len(cfn['Resources'])} "
              f"CloudFormation resources; capabilities {' '.join(caps)}; {len(pointed)} functions' code: "
              f"s3://{ARTIFACTS}/{CODE_KEY}, a placeholder (resources are rehearsed, not binaries)")
        print("   parameters: " + " ".join(f"{k}={v}" for k, v in params.items()) + " (the rest: their defaults)")
        for note in notes:
            print("   " + note)

        dropped = probe(cfn, cfn_params, caps)
        by_type: dict[str, list[tuple[str, str]]] = {}
        for logical, why in dropped.items():
            by_type.setdefault(cfn["Resources"][logical]["Type"], []).append((logical, why))
        for rtype, items in sorted(by_type.items()):
            reasons = sorted({why for _, why in items})
            print(f"   not rehearsed: {rtype} ({'; '.join(reasons)}): {', '.join(sorted(l for l, _ in items))}")
        sent = for_moto(cfn, set(dropped))
        for logical, prop in unnamed_refs(sent).items():
            if logical in refs_in({k: v for k, v in cfn["Resources"].items() if k != logical}) | refs_in(cfn.get("Outputs", {})):
                print(f"   {cfn['Resources'][logical]['Type']} {logical}: moto has no physical id for it, so refs "
                      f"to it are given its {prop} (what CloudFormation's Ref answers)")

        # sam deploy: the artifacts, then the stack.
        url = stage_artifacts(aws.s3, sent)
        t0 = time.monotonic()
        try:
            aws.cloudformation.create_stack(StackName=STACK, TemplateURL=url, Parameters=cfn_params, Capabilities=caps)
        except ClientError as e:
            raise RehearsalFailed(f"create_stack refused: {e.response['Error'].get('Message')}") from e
        status = wait_for(aws, "CREATE")
        if status != "CREATE_COMPLETE":
            raise RehearsalFailed(f"stack {STACK} ended {status}:\n" + stack_failures(aws))
        print(f"   stack {STACK}: {status} in {time.monotonic() - t0:.1f} s, "
              f"{len(sent['Resources'])} resources")

        summaries = []
        for page in aws.cloudformation.get_paginator("list_stack_resources").paginate(StackName=STACK):
            summaries += page["StackResourceSummaries"]
        physical = {s["LogicalResourceId"]: s.get("PhysicalResourceId") or "" for s in summaries
                    if s.get("ResourceStatus") == "CREATE_COMPLETE"}
        resolver = Resolver(aws, sent, params, physical, account)
        # moto names some resources without giving the stack their physical id (an
        # EventBridge bus): their name property is the id CloudFormation gives.
        models = MotoModels()
        for logical in [k for k, v in physical.items() if not v]:
            res = sent["Resources"][logical]
            model = models.models.get(res["Type"])
            name = model.cloudformation_name_type() if model else None
            value = resolver.resolve(res.get("Properties", {}).get(name)) if name else None
            if isinstance(value, str) and ANY not in value:
                physical[logical] = value
        checker = Checker(aws, sent, sam, resolver, physical)
        for logical, res in sent["Resources"].items():
            checker.run(logical, res)

        # Outputs, as the stack reports them.
        stack = aws.cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        for key, out in sent.get("Outputs", {}).items():
            if "Condition" in out and not resolver.condition(out["Condition"]):
                continue
            want = resolver.resolve(out["Value"])
            if key not in outputs:
                checker.fail("Outputs", key, "present", "missing from the stack's outputs")
            else:
                checker.expect("Outputs", key, f"value ({outputs[key]})", want, outputs[key])

        check_docs(checker, caps, params)

        # sam delete: what the template retains stays, the rest goes; then by hand, as
        # docs/OPERATING.md says, with the ARNs the outputs gave before the delete.
        arns = {}
        for key, out in sent.get("Outputs", {}).items():
            target = out.get("Value", {}).get("Fn::GetAtt") if isinstance(out.get("Value"), dict) else None
            target = target.split(".", 1) if isinstance(target, str) else target
            if target and target[1] == "Arn" and key in outputs:
                arns[target[0]] = outputs[key]
        aws.secretsmanager.create_secret(Name=f"{STACK}/tenants/{TENANT}", SecretString="{}")
        aws.cloudformation.delete_stack(StackName=STACK)
        status = wait_for(aws, "DELETE")
        checker.expect("sam delete", STACK, "stack deleted", "DELETE_COMPLETE", status)
        kept = []
        for logical, res in sent["Resources"].items():
            phys, rtype = physical.get(logical), res["Type"]
            there = exists(aws, rtype, phys) if phys else None
            if there is None:
                continue
            if res.get("DeletionPolicy") == "Retain":
                checker.expect("sam delete", logical, "kept (Retain)", True, there)
                if there:
                    kept.append((logical, rtype, phys))
            elif there and not checker.moto.deletes(rtype):
                checker.gap("sam delete", logical, "deleted", "deleted with the stack (moto's CloudFormation does not delete it)", rtype)
            else:
                checker.expect("sam delete", logical, "deleted", False, there)
        print(f"   sam delete: kept {', '.join(l for l, _, _ in kept) or 'nothing'}")
        for logical, rtype, phys in kept:
            done = delete_by_hand(aws, rtype, phys, arns.get(logical))
            if done:
                checker.expect("by hand", logical, f"retained resources deleted ({done[0]})", True, done[1])
        names = [s["Name"] for s in aws.secretsmanager.list_secrets(
            Filters=[{"Key": "name", "Values": [f"{STACK}/tenants/"]}])["SecretList"]]
        checker.expect("by hand", "tenant secrets", f"tenant secrets found by name (list-secrets --filters Key=name,Values={STACK}/tenants/)",
                       [f"{STACK}/tenants/{TENANT}"], names)
        for name in names:
            aws.secretsmanager.delete_secret(SecretId=name, RecoveryWindowInDays=7)
        aws.sns.delete_topic(TopicArn=topic)

        print()
        print(table(checker.rows, args.verbose))
        held = [k for k, out in sent.get("Outputs", {}).items() if "not-rehearsed-" in json.dumps(out.get("Value"))]
        if held:
            print(f"   (outputs holding a placeholder for what is not rehearsed: {', '.join(held)})")
        print()
        for rtype, why in sorted(checker.gaps):
            print(f"   not rehearsed: {rtype} {why}")
        for f in checker.failures:
            print("   FAIL " + f)
        count = {status: sum(1 for row in checker.rows if row[3] == status) for status in ("ok", "FAIL", "not rehearsed")}
        failed = count["FAIL"]
        print(f"deploy rehearsal: {count['ok']} checks passed, {failed} failed, {count['not rehearsed']} not rehearsed "
              f"(moto); resource types moto does not create: {', '.join(sorted(by_type)) or 'none'}; "
              f"{time.monotonic() - started:.0f} s")
        return 1 if failed else 0
    except RehearsalFailed as e:
        print(f"deploy rehearsal FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()


def wait_for(aws: Clients, action: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            stacks = aws.cloudformation.describe_stacks(StackName=STACK)["Stacks"]
        except ClientError as e:
            if action == "DELETE" and "does not exist" in str(e):
                return "DELETE_COMPLETE"
            raise
        status = stacks[0]["StackStatus"] if stacks else "DELETE_COMPLETE"
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def stack_failures(aws: Clients) -> str:
    events = aws.cloudformation.describe_stack_events(StackName=STACK)["StackEvents"]
    lines = [f"  {e['LogicalResourceId']} ({e.get('ResourceType')}): {e.get('ResourceStatusReason')}"
             for e in events if e.get("ResourceStatus", "").endswith("FAILED")]
    return "\n".join(lines) or "  (no failed resource events)"


if __name__ == "__main__":
    sys.exit(main())
