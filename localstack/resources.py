"""What the local stack holds, and removing what a run or a test made.

    localstack/resources list                 # every stack, table, stream, queue, bucket, parameter
    localstack/resources remove PREFIX ...    # everything whose name starts with a PREFIX

Each resource is one line, "kind name". Tests and scripts name everything they make after one
prefix (scripts/test's run, a test's own stack), so removing by prefix removes exactly what they
made: CloudFormation stacks, DynamoDB tables (and the Kinesis streams behind their DynamoDB
streams), SQS queues, S3 buckets (emptied first) and SSM parameters (under "/PREFIX").
Runs with the LocalStack venv's Python (boto3 is there); see localstack/resources.
"""

import os
import sys
import time

import boto3
from botocore.config import Config

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL") or "http://127.0.0.1:%s" % os.environ.get(
    "LS_PORT", "4566"
)
CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)


def client(name):
    return boto3.client(name, endpoint_url=ENDPOINT, config=CONFIG)


def paged(c, op, key, **kwargs):
    for page in c.get_paginator(op).paginate(**kwargs):
        yield from page.get(key, [])


def stacks():
    live = [s for s in paged(client("cloudformation"), "list_stacks", "StackSummaries")]
    return sorted(s["StackName"] for s in live if s["StackStatus"] != "DELETE_COMPLETE")


def tables():
    return sorted(paged(client("dynamodb"), "list_tables", "TableNames"))


def streams():
    # A table's DynamoDB stream is a Kinesis stream in LocalStack ("__ddb_stream_<table>").
    return sorted(paged(client("kinesis"), "list_streams", "StreamNames"))


def queues(prefix=""):
    urls = paged(client("sqs"), "list_queues", "QueueUrls", QueueNamePrefix=prefix)
    return sorted(urls)


def buckets():
    return sorted(b["Name"] for b in client("s3").list_buckets().get("Buckets", []))


def parameters():
    return sorted(p["Name"] for p in paged(client("ssm"), "describe_parameters", "Parameters"))


def listing():
    rows = [("stack", n) for n in stacks()]
    rows += [("table", n) for n in tables()]
    rows += [("stream", n) for n in streams()]
    rows += [("queue", u.rsplit("/", 1)[-1]) for u in queues()]
    rows += [("bucket", n) for n in buckets()]
    rows += [("parameter", n) for n in parameters()]
    return rows


def quietly(what, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except Exception as e:  # already gone, or gone meanwhile: nothing to remove
        code = getattr(e, "response", {}).get("Error", {}).get("Code", "")
        if "NotFound" not in code and "NonExistent" not in code and "NoSuch" not in code:
            print("[resources] %s: %s" % (what, e), file=sys.stderr)


def remove(prefixes):
    def ours(name):
        return any(name.startswith(p) for p in prefixes)

    cfn, ddb, kinesis = client("cloudformation"), client("dynamodb"), client("kinesis")
    sqs, s3, ssm = client("sqs"), client("s3"), client("ssm")
    # The stacks first (their tables and buckets are retained, so they go by hand below).
    doomed = [s for s in stacks() if ours(s)]
    for s in doomed:
        quietly("stack " + s, cfn.delete_stack, StackName=s)
    for t in tables():
        if ours(t):
            quietly("table " + t, ddb.delete_table, TableName=t)
    for s in streams():
        if ours(s.removeprefix("__ddb_stream_")):
            quietly("stream " + s, kinesis.delete_stream, StreamName=s, EnforceConsumerDeletion=True)
    for p in prefixes:
        for url in queues(p):
            quietly("queue " + url, sqs.delete_queue, QueueUrl=url)
    def empty(b):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=b):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=b, Delete={"Objects": keys})

    for b in buckets():
        if ours(b):
            # Another remover (a test's own guard) may take the bucket meanwhile.
            quietly("objects of " + b, empty, b)
            quietly("bucket " + b, s3.delete_bucket, Bucket=b)
    names = [n for n in parameters() if any(n.startswith("/" + p) for p in prefixes)]
    for i in range(0, len(names), 10):
        quietly("parameters", ssm.delete_parameters, Names=names[i : i + 10])
    # A stack is deleted in the background: wait for it, so that a listing right after is true.
    deadline = time.time() + 60
    while doomed and time.time() < deadline:
        doomed = [s for s in stacks() if s in doomed]
        if doomed:
            time.sleep(0.2)
    for s in doomed:
        print("[resources] stack %s is still being deleted after 60 s" % s, file=sys.stderr)
    left = [(k, n) for k, n in listing() if ours(n.removeprefix("__ddb_stream_").lstrip("/"))]
    for kind, name in left:
        print("[resources] left: %s %s" % (kind, name), file=sys.stderr)
    return 1 if left else 0


def main(argv):
    if len(argv) >= 1 and argv[0] == "list":
        for kind, name in listing():
            print(kind, name)
        return 0
    if len(argv) >= 2 and argv[0] == "remove" and all(argv[1:]):
        return remove(argv[1:])
    print("\n".join(__doc__.strip().splitlines()[2:4]), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
