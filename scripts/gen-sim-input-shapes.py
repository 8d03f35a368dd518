"""Write sim/model/input-shapes.json: the input shapes of the Glue and
CloudWatch Logs operations the simulated region serves, and the members of
the output structures it builds from what it stored, taken from the
service models botocore ships (the models the AWS SDKs are generated from).

Usage: python3 scripts/gen-sim-input-shapes.py > sim/model/input-shapes.json

The region validates every JSON request against them as AWS does: a member
of the wrong type is a SerializationException, a missing required member a
ValidationException (InvalidParameterException for the operations whose
model declares it: CloudWatch Logs'); members the model does not know, and nulls, are
dropped, never stored. Rerun after a botocore upgrade; the conformance test
(internal/conformance, TestServiceModels) holds the responses to the same
models.
"""

import json
import sys

import botocore
import botocore.session

SERVED = {
    "glue": ["BatchStopJobRun", "CreateConnection", "CreateJob", "DeleteConnection", "DeleteJob", "GetConnection",
             "GetConnections", "GetJob", "GetJobRun", "GetJobRuns", "GetJobs", "StartJobRun", "UpdateJob"],
    "logs": ["FilterLogEvents", "GetLogEvents"],
}

# Output structures built from a stored request (ConnectionInput -> Connection,
# CreateJob/JobUpdate -> Job), whose input has members the output lacks.
OUTPUTS = {"glue": ["Connection", "Job"]}


def main():
    session = botocore.session.get_session()
    out = {"botocore": botocore.__version__, "services": {}}
    for service, ops in SERVED.items():
        model = session.get_service_model(service)
        shapes = {}

        def walk(shape):
            if shape.name in shapes:
                return
            s = {"type": shape.type_name}
            if shape.type_name == "timestamp" and shape.serialization.get("timestampFormat"):
                s["timestampFormat"] = shape.serialization["timestampFormat"]
            shapes[shape.name] = s
            if shape.type_name == "structure":
                s["members"] = {n: m.name for n, m in shape.members.items()}
                if shape.required_members:
                    s["required"] = list(shape.required_members)
                for m in shape.members.values():
                    walk(m)
            elif shape.type_name == "list":
                s["member"] = shape.member.name
                walk(shape.member)
            elif shape.type_name == "map":
                s["value"] = shape.value.name
                walk(shape.value)

        inputs = {}
        for op in ops:
            shape = model.operation_model(op).input_shape
            inputs[op] = shape.name
            walk(shape)
        entry = {"operations": inputs, "shapes": dict(sorted(shapes.items()))}
        # The error an operation answers for a missing required member: the
        # parameter-validation error its model declares. CloudWatch Logs
        # declares InvalidParameterException (and answers it with the same
        # "1 validation error detected: ..." text); an operation that
        # declares none (Glue's) gets the JSON protocols' ValidationException,
        # the region's default, so it is not listed.
        verr = {}
        for op in ops:
            declared = [e.name for e in model.operation_model(op).error_shapes]
            if "ValidationException" not in declared and "InvalidParameterException" in declared:
                verr[op] = "InvalidParameterException"
        if verr:
            entry["validationErrors"] = verr
        # The members of the structures the region echoes back from what it
        # stored (a connection, a job): it keeps only these in its answers.
        echoed = OUTPUTS.get(service, [])
        if echoed:
            entry["outputs"] = {name: sorted(model.shape_for(name).members) for name in echoed}
        out["services"][service] = entry
    json.dump(out, sys.stdout, indent=None, separators=(",", ":"), sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
