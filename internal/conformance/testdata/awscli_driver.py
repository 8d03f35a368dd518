"""Run many AWS CLI commands in one interpreter.

Usage: <the CLI's own python> awscli_driver.py

Starting the AWS CLI costs about a second of CPU (v2 more), most of it
importing awscli and botocore; a conformance table of some forty commands per
CLI would spend minutes doing that. The `aws` entry script of both CLI v1 and
the Python-packaged CLI v2 is only `sys.exit(awscli.clidriver.main())`, which
reads sys.argv and writes to sys.stdout and sys.stderr. This driver calls that
same function once per command, with sys.argv, sys.stdout and sys.stderr set
for the command, so each command runs the CLI's own code with a fresh botocore
session, as a new process would, minus the imports.

Protocol: one JSON object per line on stdin, {"args": ["glue", "get-job", ...]}
(the arguments after `aws`); one JSON object per line on file descriptor 3,
{"rc": N, "stdout": "...", "stderr": "..."}. Responses use their own
descriptor so that nothing the CLI writes to the real stdout can corrupt them.
"""

import io
import json
import os
import sys

import awscli.clidriver

# What the entry script does before importing awscli.
if os.environ.get("LC_CTYPE", "") == "UTF-8":
    os.environ["LC_CTYPE"] = "en_US.UTF-8"


def capture():
    # A text stream with a .buffer, as the CLI writes bytes to
    # sys.stdout.buffer for some outputs.
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)


def run(args):
    out, err = capture(), capture()
    saved = sys.argv, sys.stdout, sys.stderr
    sys.argv, sys.stdout, sys.stderr = ["aws"] + list(args), out, err
    try:
        rc = awscli.clidriver.main()
    except SystemExit as e:  # argparse and friends exit instead of returning
        rc = e.code if isinstance(e.code, int) else 1
    finally:
        sys.argv, sys.stdout, sys.stderr = saved
    return {
        "rc": rc if isinstance(rc, int) else 0 if rc is None else 1,
        "stdout": out.buffer.getvalue().decode("utf-8", "replace"),
        "stderr": err.buffer.getvalue().decode("utf-8", "replace"),
    }


def main():
    with os.fdopen(3, "w", encoding="utf-8") as resp:
        for line in sys.stdin:
            if not line.strip():
                continue
            result = run(json.loads(line)["args"])
            resp.write(json.dumps(result) + "\n")
            resp.flush()


if __name__ == "__main__":
    main()
