"""Hold every response of gluenet's simulated region to botocore's service models.

Usage: python3 model_check.py --endpoint URL --control URL --ops glue:A,B ec2:C logs:D

It drives the region through boto3_all.py's phases (every operation the
region serves) with a hook on each client that keeps the raw body of every
response before botocore parses it, then walks each body against the output
shape of its operation in the models botocore ships (data/glue, data/ec2,
data/logs):

  - a member outside the shape, or a null, is a violation;
  - a value of the wrong type for its shape is a violation (JSON: string,
    number, boolean, list, object; EC2 XML: integers, booleans, timestamps
    that parse, lists made of <item> elements);
  - a string outside its enum is a violation.

It then sends requests AWS refuses and records what the region answered:
a member of the wrong type (SerializationException), a missing required
member (ValidationException), malformed EC2 IDs (InvalidSubnetID.Malformed,
InvalidNetworkInterfaceId.Malformed). botocore's own parameter validation is
turned off for those, so the bad request reaches the region.

It prints one JSON document; the Go test judges it. --ops lists the
operations the region serves (from the Go side); the script reports any of
them it did not see a successful response for, and also walks each one's
output shape statically, reporting a shape type the checker does not know.
"""

import argparse
import datetime
import json
import os
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boto3_all  # noqa: E402  (the phases that drive every operation)

KNOWN_TYPES = {"structure", "list", "map", "string", "integer", "long", "float", "double",
               "boolean", "timestamp", "blob"}


def strip_ns(tag):
    return tag.split("}", 1)[1] if "}" in tag else tag


class Checker:
    def __init__(self, models):
        self.models = models
        self.violations = []
        self.checked = {}

    def bad(self, where, msg):
        self.violations.append(f"{where}: {msg}")

    # ---- JSON protocols (Glue, CloudWatch Logs) ----
    def json_value(self, where, v, shape):
        t = shape.type_name
        if v is None:
            self.bad(where, "null value (AWS omits absent members)")
            return
        if t == "structure":
            if not isinstance(v, dict):
                self.bad(where, f"want an object for {shape.name}, got {type(v).__name__}")
                return
            for k, sub in v.items():
                if k not in shape.members:
                    self.bad(where, f"member {k!r} is not in shape {shape.name}")
                    continue
                self.json_value(f"{where}.{k}", sub, shape.members[k])
        elif t == "list":
            if not isinstance(v, list):
                self.bad(where, f"want a list for {shape.name}, got {type(v).__name__}")
                return
            for i, sub in enumerate(v):
                self.json_value(f"{where}[{i}]", sub, shape.member)
        elif t == "map":
            if not isinstance(v, dict):
                self.bad(where, f"want an object (map) for {shape.name}, got {type(v).__name__}")
                return
            for k, sub in v.items():
                self.json_value(f"{where}[{k!r}]", sub, shape.value)
        elif t == "string":
            if not isinstance(v, str):
                self.bad(where, f"want a string for {shape.name}, got {type(v).__name__} {v!r}")
            elif shape.enum and v not in shape.enum:
                self.bad(where, f"{v!r} is not one of {shape.name}'s values")
        elif t in ("integer", "long"):
            if isinstance(v, bool) or not isinstance(v, int):
                self.bad(where, f"want an integer for {shape.name}, got {v!r}")
        elif t in ("float", "double"):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                self.bad(where, f"want a number for {shape.name}, got {v!r}")
        elif t == "boolean":
            if not isinstance(v, bool):
                self.bad(where, f"want a boolean for {shape.name}, got {v!r}")
        elif t == "timestamp":
            if shape.serialization.get("timestampFormat") == "iso8601":
                if not isinstance(v, str):
                    self.bad(where, f"want an ISO 8601 string for timestamp {shape.name}, got {v!r}")
            elif isinstance(v, bool) or not isinstance(v, (int, float)):
                self.bad(where, f"want epoch seconds for timestamp {shape.name}, got {v!r}")
        elif t == "blob":
            if not isinstance(v, str):
                self.bad(where, f"want base64 text for blob {shape.name}, got {v!r}")
        else:
            self.bad(where, f"shape type {t} not checked")

    # ---- EC2 query protocol (XML) ----
    @staticmethod
    def xml_name(name, member):
        return member.serialization.get("name") or name[0].lower() + name[1:]

    def xml_value(self, where, el, shape):
        t = shape.type_name
        text = (el.text or "").strip()
        if t == "structure":
            names = {self.xml_name(n, m): (n, m) for n, m in shape.members.items()}
            for child in el:
                tag = strip_ns(child.tag)
                if tag not in names:
                    self.bad(where, f"element <{tag}> is not a member of shape {shape.name}")
                    continue
                n, m = names[tag]
                self.xml_value(f"{where}.{n}", child, m)
        elif t == "list":
            item = shape.member.serialization.get("name", "item")
            for i, child in enumerate(el):
                tag = strip_ns(child.tag)
                if tag != item:
                    self.bad(where, f"list {shape.name} holds <{tag}>, want <{item}>")
                    continue
                self.xml_value(f"{where}[{i}]", child, shape.member)
        elif t == "map":
            self.bad(where, "EC2 map shapes are not checked")
        elif len(el):
            self.bad(where, f"scalar {shape.name} has child elements")
        elif t == "string":
            if shape.enum and text not in shape.enum:
                self.bad(where, f"{text!r} is not one of {shape.name}'s values")
        elif t in ("integer", "long"):
            try:
                int(text)
            except ValueError:
                self.bad(where, f"want an integer for {shape.name}, got {text!r}")
        elif t in ("float", "double"):
            try:
                float(text)
            except ValueError:
                self.bad(where, f"want a number for {shape.name}, got {text!r}")
        elif t == "boolean":
            if text not in ("true", "false"):
                self.bad(where, f"want true or false for {shape.name}, got {text!r}")
        elif t == "timestamp":
            try:
                datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                self.bad(where, f"want an ISO 8601 time for {shape.name}, got {text!r}")

    def response(self, service, op, status, body):
        if status >= 300:
            return
        model = self.models[service].operation_model(op)
        self.checked[f"{service}:{op}"] = self.checked.get(f"{service}:{op}", 0) + 1
        where = f"{service}:{op}"
        out = model.output_shape
        if service == "ec2":
            root = ET.fromstring(body)
            if strip_ns(root.tag) != op + "Response":
                self.bad(where, f"root element <{strip_ns(root.tag)}>, want <{op}Response>")
            if out is None:
                return
            for child in list(root):
                if strip_ns(child.tag) == "requestId":
                    root.remove(child)  # protocol metadata, not an output member
            self.xml_value(where, root, out)
        else:
            doc = json.loads(body) if body else {}
            if out is None:
                if doc:
                    self.bad(where, f"operation has no output but the body is {doc!r}")
                return
            self.json_value(where, doc, out)

    def walk_static(self, service, op):
        """Every shape reachable from the output is of a type checked above."""
        seen = set()
        model = self.models[service].operation_model(op)

        def walk(shape, path):
            if shape is None or shape.name in seen:
                return
            seen.add(shape.name)
            if shape.type_name not in KNOWN_TYPES:
                self.bad(f"{service}:{op} {path}", f"shape type {shape.type_name} not checked")
            if shape.type_name == "structure":
                for n, m in shape.members.items():
                    walk(m, f"{path}.{n}")
            elif shape.type_name == "list":
                walk(shape.member, path + "[]")
            elif shape.type_name == "map":
                walk(shape.value, path + "{}")
        walk(model.output_shape, "output")
        return len(seen)


def refused(fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        err = e.response.get("Error", {})
        return {"code": err.get("Code", ""), "message": err.get("Message", ""),
                "status": e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)}
    return {"code": "", "message": "accepted", "status": 200}


def raw_glue(endpoint, op, body):
    """Send a signed Glue request whose JSON body botocore would not build
    (a member of the wrong type) and report the error the region gave."""
    session = botocore.session.get_session()
    req = AWSRequest(method="POST", url=endpoint + "/", data=json.dumps(body).encode(), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSGlue." + op})
    SigV4Auth(session.get_credentials(), "glue", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")).add_auth(req)
    prepared = req.prepare()
    http = urllib.request.Request(prepared.url, data=prepared.body, headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(http, timeout=30) as resp:
            return {"code": "", "message": "accepted", "status": resp.status}
    except urllib.error.HTTPError as e:
        doc = json.loads(e.read() or b"{}")
        return {"code": doc.get("__type", "").rsplit("#", 1)[-1], "message": doc.get("Message") or doc.get("message", ""),
                "status": e.code}


def bad_requests(endpoint, chk, vpc_subnet):
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False)
    session = boto3.session.Session()
    glue = session.client("glue", endpoint_url=endpoint, config=cfg)
    ec2 = session.client("ec2", endpoint_url=endpoint, config=cfg)
    logs = session.client("logs", endpoint_url=endpoint, config=cfg)
    glue.meta.events.register("before-parse", _before_parse(chk, "glue"))
    cmd = boto3_all.COMMAND
    out = {}
    out["create_job_notification_property_string"] = raw_glue(
        endpoint, "CreateJob", {"Name": "BadTypeJob", "Role": boto3_all.ROLE, "Command": cmd, "NotificationProperty": "x"})
    out["create_job_max_retries_string"] = raw_glue(
        endpoint, "CreateJob", {"Name": "BadTypeJob2", "Role": boto3_all.ROLE, "Command": cmd, "MaxRetries": "three"})
    out["create_job_connections_list"] = raw_glue(
        endpoint, "CreateJob", {"Name": "BadTypeJob3", "Role": boto3_all.ROLE, "Command": cmd, "Connections": ["a"]})
    out["create_job_unknown_member"] = raw_glue(
        endpoint, "CreateJob", {"Name": "BadTypeJob4", "Role": boto3_all.ROLE, "Command": cmd, "Surprise": 1})
    out["create_job_null_member"] = raw_glue(
        endpoint, "CreateJob", {"Name": "NullJob", "Role": boto3_all.ROLE, "Command": cmd, "Description": None})
    out["get_connection_name_number"] = raw_glue(endpoint, "GetConnection", {"Name": 7})
    # A ConnectionInput member that Connection lacks: GetConnection (checked
    # against its output shape) must not echo it.
    glue.create_connection(ConnectionInput={
        "Name": "ConfConn-Validate", "ConnectionType": "NETWORK", "ConnectionProperties": {},
        "ValidateCredentials": True,
        "PhysicalConnectionRequirements": {"SubnetId": vpc_subnet["id"], "AvailabilityZone": vpc_subnet["az"]}})
    glue.get_connection(Name="ConfConn-Validate")
    # Accepted without the unknown member and the null: GetJob, checked
    # against the output shape like every response, must not echo them.
    for name in ("BadTypeJob4", "NullJob"):
        try:
            glue.get_job(JobName=name)
        except ClientError:
            pass
    out["create_job_without_role"] = refused(glue.create_job, Name="NoRoleJob", Command=cmd)
    out["get_job_without_name"] = refused(glue.get_job)
    # CloudWatch Logs declares InvalidParameterException, not
    # ValidationException, for a missing required member.
    out["get_log_events_without_stream"] = refused(logs.get_log_events, logGroupName="/aws-glue/jobs/output")
    out["describe_subnets_malformed"] = refused(ec2.describe_subnets, SubnetIds=["subnet-zz"])
    out["create_eni_malformed_subnet"] = refused(ec2.create_network_interface, SubnetId="bogus")
    out["describe_enis_malformed"] = refused(ec2.describe_network_interfaces, NetworkInterfaceIds=["eni-nothex"])
    out["delete_eni_malformed"] = refused(ec2.delete_network_interface, NetworkInterfaceId="nope")
    # Glue's job run queuing: a second run of a job at MaxConcurrentRuns 1
    # is WAITING with a StateDetail instead of refused; GetJobRun's and
    # GetJob's bodies are checked against their shapes like every response.
    glue.create_job(Name="QueueJob", Role=boto3_all.ROLE, Command=cmd, JobRunQueuingEnabled=True,
                    ExecutionProperty={"MaxConcurrentRuns": 1})
    glue.start_job_run(JobName="QueueJob")
    queued = glue.start_job_run(JobName="QueueJob")["JobRunId"]
    run = glue.get_job_run(JobName="QueueJob", RunId=queued)["JobRun"]
    out["queued_run"] = {"state": run["JobRunState"], "detail": run.get("StateDetail", ""),
                         "queuing": run.get("JobRunQueuingEnabled"),
                         "job_queuing": glue.get_job(JobName="QueueJob")["Job"].get("JobRunQueuingEnabled")}
    # A stored bad value breaks every later read in the client: record it.
    try:
        out["get_jobs_after"] = sorted(j["Name"] for page in boto3_all.pages(glue.get_paginator("get_jobs"), "Jobs") for j in page)
    except Exception as e:  # noqa: BLE001  (what boto3 raised is the finding)
        out["get_jobs_after"] = f"GetJobs raised in boto3: {e!r}"
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--ops", nargs="+", required=True, help="service:Op1,Op2 ...")
    args = ap.parse_args()

    bc = botocore.session.get_session()
    models = {s: bc.get_service_model(s) for s in ("glue", "ec2", "logs")}
    chk = Checker(models)

    cfg = Config(retries={"max_attempts": 1, "mode": "standard"})
    session = boto3.session.Session()
    clients = {s: session.client(s, endpoint_url=args.endpoint, config=cfg) for s in ("ec2", "glue", "logs")}
    for service, client in clients.items():
        client.meta.events.register("before-parse", _before_parse(chk, service))

    ctl = boto3_all.Control(args.control)
    seen = {}
    s1, s2 = boto3_all.network_phase(clients["ec2"], ctl, seen)
    boto3_all.glue_setup_phase(clients["glue"], s1, s2, seen)
    boto3_all.run_phase(clients["glue"], clients["ec2"], clients["logs"], ctl, s2, seen)

    served, shapes = [], 0
    for spec in args.ops:
        service, ops = spec.split(":", 1)
        for op in ops.split(","):
            served.append(f"{service}:{op}")
            shapes += chk.walk_static(service, op)
    refused = bad_requests(args.endpoint, chk, s1)
    out = {
        "botocore": botocore.__version__,
        "checked": chk.checked,
        "not_seen": [op for op in served if op not in chk.checked],
        "shapes_walked": shapes,
        "violations": chk.violations,
        "refused": refused,
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


def _before_parse(chk, service):
    def hook(operation_model=None, response_dict=None, **kwargs):
        chk.response(service, operation_model.name, response_dict["status_code"], response_dict["body"])
    return hook


if __name__ == "__main__":
    main()
