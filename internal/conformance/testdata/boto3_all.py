"""Drive every operation of gluenet's simulated region through boto3.

Usage: python3 boto3_all.py --endpoint URL --control URL

--endpoint is the simulated region. --control is the Go test's own helper
server: POST /advance?seconds=N moves the region's manual clock forward, and
POST /checkpoint?name=X makes the test take a snapshot of the region's state
under that name, so that the test can compare what boto3 saw at that moment
with what the region holds.

The script discovers the VPC and the subnets through the API, performs the
scenario's steps and prints one JSON document with everything it saw. It does
not judge the results (the Go test does), except that an operation expected
to fail must fail with a botocore ClientError: its code is recorded. Any other
exception ends the script with a traceback and a non-zero status.

Credentials and the region come from the environment (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION); the test points AWS_CONFIG_FILE
and AWS_SHARED_CREDENTIALS_FILE at empty files.
"""

import argparse
import datetime
import json
import sys
import urllib.parse
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# A subnet ID and a run ID that exist nowhere in the region.
MISSING_SUBNET = "subnet-0123456789abcdef0"
MISSING_RUN = "jr_" + "0" * 64
ROLE = "arn:aws:iam::123456789012:role/service-role/AWSGlueServiceRole-Conformance"
COMMAND = {"Name": "glueetl", "ScriptLocation": "s3://conformance/scripts/job.py", "PythonVersion": "3"}


class Control:
    """The Go test's helper server: clock and snapshots."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    def _post(self, path, **params):
        req = urllib.request.Request(
            self.url + path + "?" + urllib.parse.urlencode(params), data=b"", method="POST"
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            if resp.status != 200:
                raise RuntimeError(f"control {path}: HTTP {resp.status}")

    def advance(self, seconds):
        self._post("/advance", seconds=str(seconds))

    def checkpoint(self, name):
        self._post("/checkpoint", name=name)


def error_of(fn, **kwargs):
    """Call fn expecting a ClientError; return its code, message and HTTP
    status, or {"code": None} when the call unexpectedly succeeded."""
    try:
        fn(**kwargs)
    except ClientError as e:
        err = e.response.get("Error", {})
        return {
            "code": err.get("Code"),
            "message": err.get("Message"),
            "status": e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
            "operation": e.operation_name,
        }
    return {"code": None}


def tag(tags, key):
    for t in tags or []:
        if t["Key"] == key:
            return t["Value"]
    return None


def subnet_out(s):
    return {
        "id": s["SubnetId"],
        "vpc_id": s["VpcId"],
        "az": s["AvailabilityZone"],
        "az_id": s.get("AvailabilityZoneId"),
        "cidr": s["CidrBlock"],
        "free": s["AvailableIpAddressCount"],
        "state": s["State"],
        "name": tag(s.get("Tags"), "Name"),
    }


def eni_out(e):
    return {
        "id": e["NetworkInterfaceId"],
        "subnet_id": e["SubnetId"],
        "vpc_id": e["VpcId"],
        "az": e["AvailabilityZone"],
        "description": e.get("Description", ""),
        "status": e["Status"],
        "private_ip": e["PrivateIpAddress"],
        "ips": [a["PrivateIpAddress"] for a in e.get("PrivateIpAddresses", [])],
        "requester_managed": e.get("RequesterManaged"),
        "tags": {t["Key"]: t["Value"] for t in e.get("TagSet", [])},
    }


def run_out(r):
    return {
        "id": r["Id"],
        "job": r["JobName"],
        "state": r["JobRunState"],
        "started_on": r["StartedOn"],
        "completed_on": r.get("CompletedOn"),
        "error": r.get("ErrorMessage", ""),
        "workers": r.get("NumberOfWorkers"),
        "arguments": r.get("Arguments", {}),
    }


def pages(paginator, key, **kwargs):
    """Every page of a paginated call, each as the list under key."""
    return [page[key] for page in paginator.paginate(**kwargs)]


def network_phase(ec2, ctl, out):
    out["azs"] = [
        {"name": z["ZoneName"], "id": z["ZoneId"], "state": z["State"], "region": z["RegionName"]}
        for z in ec2.describe_availability_zones()["AvailabilityZones"]
    ]
    vpcs = ec2.describe_vpcs()["Vpcs"]
    out["vpcs"] = [{"id": v["VpcId"], "cidr": v["CidrBlock"], "state": v["State"]} for v in vpcs]
    vpc_id = vpcs[0]["VpcId"]

    all_subnets = [subnet_out(s) for s in ec2.describe_subnets()["Subnets"]]
    out["subnets"] = all_subnets
    by_name = {s["name"]: s for s in all_subnets}
    s1, s2 = by_name["PrivateSubnet1"], by_name["PrivateSubnet2"]

    out["subnets_by_id"] = [subnet_out(s) for s in ec2.describe_subnets(SubnetIds=[s1["id"]])["Subnets"]]
    out["subnets_by_vpc"] = [
        s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    ]
    out["subnets_by_az"] = [
        s["SubnetId"]
        for s in ec2.describe_subnets(Filters=[{"Name": "availability-zone", "Values": [s1["az"]]}])["Subnets"]
    ]
    out["subnets_by_subnet_id"] = [
        s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "subnet-id", "Values": [s2["id"]]}])["Subnets"]
    ]
    out["subnet_pages"] = [
        [s["SubnetId"] for s in page]
        for page in pages(ec2.get_paginator("describe_subnets"), "Subnets", PaginationConfig={"PageSize": 5})
    ]
    out["err_describe_missing_subnet"] = error_of(ec2.describe_subnets, SubnetIds=[MISSING_SUBNET])

    eni_a = ec2.create_network_interface(
        SubnetId=s1["id"],
        SecondaryPrivateIpAddressCount=2,
        Description="conformance A",
        TagSpecifications=[{"ResourceType": "network-interface", "Tags": [{"Key": "purpose", "Value": "conformance"}]}],
    )["NetworkInterface"]
    eni_b = ec2.create_network_interface(SubnetId=s1["id"], Description="conformance B")["NetworkInterface"]
    out["eni_a"], out["eni_b"] = eni_out(eni_a), eni_out(eni_b)
    out["enis_by_id"] = [
        eni_out(e)
        for e in ec2.describe_network_interfaces(
            NetworkInterfaceIds=[eni_a["NetworkInterfaceId"], eni_b["NetworkInterfaceId"]]
        )["NetworkInterfaces"]
    ]
    out["s1_free_two_enis"] = ec2.describe_subnets(SubnetIds=[s1["id"]])["Subnets"][0]["AvailableIpAddressCount"]
    ec2.delete_network_interface(NetworkInterfaceId=eni_b["NetworkInterfaceId"])
    out["enis_in_s1"] = [
        e["NetworkInterfaceId"]
        for e in ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [s1["id"]]}])[
            "NetworkInterfaces"
        ]
    ]
    out["err_describe_deleted_eni"] = error_of(
        ec2.describe_network_interfaces, NetworkInterfaceIds=[eni_b["NetworkInterfaceId"]]
    )
    out["err_delete_deleted_eni"] = error_of(
        ec2.delete_network_interface, NetworkInterfaceId=eni_b["NetworkInterfaceId"]
    )
    out["err_create_eni_missing_subnet"] = error_of(ec2.create_network_interface, SubnetId=MISSING_SUBNET)
    out["s1_free_after_enis"] = ec2.describe_subnets(SubnetIds=[s1["id"]])["Subnets"][0]["AvailableIpAddressCount"]
    ctl.checkpoint("network")
    return s1, s2


def connection_input(name, subnet_id, az):
    pcr = {"SubnetId": subnet_id, "SecurityGroupIdList": ["sg-0d1e2f3a4b5c6d701"]}
    if az:
        pcr["AvailabilityZone"] = az
    return {"Name": name, "ConnectionType": "NETWORK", "ConnectionProperties": {}, "PhysicalConnectionRequirements": pcr}


def glue_setup_phase(glue, s1, s2, out):
    glue.create_connection(ConnectionInput=connection_input("ConfConn-A", s2["id"], s2["az"]))
    glue.create_connection(ConnectionInput=connection_input("ConfConn-Gone", MISSING_SUBNET, None))
    glue.create_connection(ConnectionInput=connection_input("ConfConn-Temp", s1["id"], s1["az"]))
    out["err_create_connection_twice"] = error_of(
        glue.create_connection, ConnectionInput=connection_input("ConfConn-A", s2["id"], s2["az"])
    )
    c = glue.get_connection(Name="ConfConn-A")["Connection"]
    out["connection_a"] = {
        "name": c["Name"],
        "type": c["ConnectionType"],
        "subnet_id": c["PhysicalConnectionRequirements"]["SubnetId"],
        "az": c["PhysicalConnectionRequirements"].get("AvailabilityZone"),
        "security_groups": c["PhysicalConnectionRequirements"].get("SecurityGroupIdList"),
        "created": c.get("CreationTime"),
    }
    out["err_get_missing_connection"] = error_of(glue.get_connection, Name="NoSuchConnection")
    glue.delete_connection(ConnectionName="ConfConn-Temp")
    out["err_get_deleted_connection"] = error_of(glue.get_connection, Name="ConfConn-Temp")
    out["err_delete_deleted_connection"] = error_of(glue.delete_connection, ConnectionName="ConfConn-Temp")
    out["connection_pages"] = [
        [c["Name"] for c in page]
        for page in pages(glue.get_paginator("get_connections"), "ConnectionList", PaginationConfig={"PageSize": 2})
    ]

    glue.create_job(
        Name="ConfJob",
        Role=ROLE,
        Command=COMMAND,
        WorkerType="G.1X",
        NumberOfWorkers=2,
        GlueVersion="4.0",
        Timeout=60,
        ExecutionProperty={"MaxConcurrentRuns": 1},
        Connections={"Connections": ["ConfConn-Gone", "ConfConn-A"]},
    )
    glue.create_job(
        Name="ConfFailJob",
        Role=ROLE,
        Command=COMMAND,
        WorkerType="G.1X",
        NumberOfWorkers=2,
        Connections={"Connections": ["ConfConn-Gone"]},
    )
    out["err_create_job_twice"] = error_of(glue.create_job, Name="ConfJob", Role=ROLE, Command=COMMAND)
    out["err_get_missing_job"] = error_of(glue.get_job, JobName="NoSuchJob")
    out["job_pages"] = [
        [j["Name"] for j in page]
        for page in pages(glue.get_paginator("get_jobs"), "Jobs", PaginationConfig={"PageSize": 2})
    ]
    # UpdateJob replaces the whole definition, as the post does with the
    # output of GetJob: take the job, drop what Glue computed, change the
    # number of workers.
    job = glue.get_job(JobName="ConfJob")["Job"]
    out["job_before_update"] = {
        "workers": job["NumberOfWorkers"],
        "worker_type": job["WorkerType"],
        "connections": job["Connections"]["Connections"],
        "max_concurrent_runs": job["ExecutionProperty"]["MaxConcurrentRuns"],
        "timeout": job["Timeout"],
        "glue_version": job.get("GlueVersion"),
    }
    update = {k: v for k, v in job.items() if k not in ("Name", "CreatedOn", "LastModifiedOn", "AllocatedCapacity", "MaxCapacity")}
    update["NumberOfWorkers"] = 3
    out["update_job"] = glue.update_job(JobName="ConfJob", JobUpdate=update)["JobName"]
    job = glue.get_job(JobName="ConfJob")["Job"]
    out["job_after_update"] = {
        "workers": job["NumberOfWorkers"],
        "connections": job["Connections"]["Connections"],
        "max_capacity": job.get("MaxCapacity"),
    }


def run_phase(glue, ec2, logs, ctl, s2, out):
    run1 = glue.start_job_run(JobName="ConfJob", Arguments={"--conformance": "run1"})["JobRunId"]
    out["run1_id"] = run1
    out["err_concurrent_runs"] = error_of(glue.start_job_run, JobName="ConfJob")
    out["err_start_missing_job"] = error_of(glue.start_job_run, JobName="NoSuchJob")
    out["run1_starting"] = run_out(glue.get_job_run(JobName="ConfJob", RunId=run1)["JobRun"])
    # ENI lag: EC2 still reports the old count right after the start.
    out["s2_free_starting"] = ec2.describe_subnets(SubnetIds=[s2["id"]])["Subnets"][0]["AvailableIpAddressCount"]
    ctl.checkpoint("run1_starting")

    ctl.advance(90)  # past the startup (1m) and the ENI lag (1m)
    out["run1_running"] = run_out(glue.get_job_run(JobName="ConfJob", RunId=run1)["JobRun"])
    out["s2_free_running"] = ec2.describe_subnets(SubnetIds=[s2["id"]])["Subnets"][0]["AvailableIpAddressCount"]
    out["enis_in_s2"] = [
        eni_out(e)
        for e in ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [s2["id"]]}])[
            "NetworkInterfaces"
        ]
    ]
    events = logs.get_log_events(logGroupName="/aws-glue/jobs/output", logStreamName=run1, startFromHead=True)
    out["run1_output_log"] = [e["message"] for e in events["events"]]
    ctl.checkpoint("run1_running")

    stop = glue.batch_stop_job_run(JobName="ConfJob", JobRunIds=[run1, MISSING_RUN])
    out["batch_stop"] = {
        "successful": [s["JobRunId"] for s in stop["SuccessfulSubmissions"]],
        "errors": [{"run_id": e["JobRunId"], "code": e["ErrorDetail"]["ErrorCode"]} for e in stop["Errors"]],
    }
    out["run1_stopping"] = run_out(glue.get_job_run(JobName="ConfJob", RunId=run1)["JobRun"])
    ctl.advance(15)  # past the stop delay (10s)
    out["run1_stopped"] = run_out(glue.get_job_run(JobName="ConfJob", RunId=run1)["JobRun"])

    run2 = glue.start_job_run(JobName="ConfJob")["JobRunId"]
    out["run2_id"] = run2
    ctl.advance(12 * 60)  # 1m startup + 10m of work
    out["run2_done"] = run_out(glue.get_job_run(JobName="ConfJob", RunId=run2)["JobRun"])

    run3 = glue.start_job_run(JobName="ConfFailJob")["JobRunId"]
    out["run3_id"] = run3
    ctl.advance(20)  # past the placement failure delay (15s)
    out["run3_done"] = run_out(glue.get_job_run(JobName="ConfFailJob", RunId=run3)["JobRun"])
    errors = logs.filter_log_events(logGroupName="/aws-glue/jobs/error", logStreamNames=[run3])
    out["run3_error_log"] = [e["message"] for e in errors["events"]]

    out["driver_log_pages"] = [
        [{"stream": e["logStreamName"], "message": e["message"]} for e in page]
        for page in pages(
            logs.get_paginator("filter_log_events"),
            "events",
            logGroupName="/aws-glue/jobs/output",
            filterPattern='"driver node"',
            PaginationConfig={"PageSize": 1},
        )
    ]
    out["run_pages"] = [
        [r["Id"] for r in page]
        for page in pages(glue.get_paginator("get_job_runs"), "JobRuns", JobName="ConfJob", PaginationConfig={"PageSize": 1})
    ]
    out["err_get_missing_run"] = error_of(glue.get_job_run, JobName="ConfJob", RunId=MISSING_RUN)
    out["err_missing_log_stream"] = error_of(
        logs.get_log_events, logGroupName="/aws-glue/jobs/output", logStreamName=MISSING_RUN
    )
    out["delete_job"] = glue.delete_job(JobName="ConfFailJob")["JobName"]
    out["err_get_deleted_job"] = error_of(glue.get_job, JobName="ConfFailJob")
    out["subnets_end"] = [subnet_out(s) for s in ec2.describe_subnets()["Subnets"]]
    ctl.checkpoint("end")


def json_default(v):
    if isinstance(v, datetime.datetime):
        return v.isoformat()
    raise TypeError(f"cannot encode {type(v).__name__}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--control", required=True)
    args = ap.parse_args()

    # One attempt: an unexpected 5xx or throttle must show, not be retried away.
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"})
    session = boto3.session.Session()
    ec2 = session.client("ec2", endpoint_url=args.endpoint, config=cfg)
    glue = session.client("glue", endpoint_url=args.endpoint, config=cfg)
    logs = session.client("logs", endpoint_url=args.endpoint, config=cfg)
    ctl = Control(args.control)

    out = {"boto3": boto3.__version__}
    s1, s2 = network_phase(ec2, ctl, out)
    glue_setup_phase(glue, s1, s2, out)
    run_phase(glue, ec2, logs, ctl, s2, out)
    json.dump(out, sys.stdout, default=json_default, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
