"""Extracts the DAG of the AWS post from its text, unchanged.

The post prints glue_job_dag.py as three code blocks, indented by four
spaces inside numbered steps. This joins them, with one blank line between
blocks, removing only the four-space indentation of the listing:

    python3 python/tests/post_dag/extract.py POST.txt > python/tests/post_dag/glue_job_dag.py

test_post_dag.py checks the committed fixture against the post when the post's
text is available (GLUENET_SEED_POST).
"""

import sys

BLOCKS = [
    ("import boto3", "ec2 = boto3.client('ec2')"),
    ("def get_available_ips_from_connection(glue_connection_name):", "return result"),
    ("with DAG(", "run_job_task()"),
]


def extract(text: str) -> str:
    lines = text.splitlines()
    out = []
    i = 0
    for first, last in BLOCKS:
        while lines[i].strip() != first:
            i += 1
        block = []
        while True:
            line = lines[i]
            block.append(line[4:] if line.startswith("    ") else line.lstrip(" "))
            i += 1
            if line.strip() == last:
                break
        out.append("\n".join(block))
    return "\n\n".join(out) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        sys.stdout.write(extract(f.read()))
