"""The AWS actions Stratus's code can call on an instance, read from the code itself.

`code_operations()` parses the Python that runs on a deployed node or worker (apps/,
storage_backends/, project/, deploy/) and finds every boto3 client operation it names: a
call of a client method (`s3.head_object(...)`), or a method name given as a string
(`self._call("put_item", ...)`, `generate_presigned_url("upload_part", ...)`). Names are
matched against botocore's own models of the services Stratus uses, so nothing is listed by
hand but what the code cannot show:

- what django-storages calls on the buckets for Django's storage API, and django-ses to
  send mail (`LIBRARY_ACTIONS`);
- what the CloudWatch agent calls to ship the logs (`AGENT_ACTIONS`);
- Session Manager, through which operators run manage.py commands (`OPERATOR_ACCESS`).

and leaves out what a deployed instance never calls (`NOT_CALLED_WHEN_DEPLOYED`).

`iam_actions()` turns operations into IAM actions: most are the operation's own name, S3's
and SQS's batch and multipart operations are authorised by another action (`IAM_ACTION`).

Left out, with reasons (`NOT_ON_INSTANCES`): provisioning (`provision_aws`) and `copy_state`:
under CloudFormation the stack creates and owns every bucket, queue, domain and table, and
an instance that could create or reconfigure them would be a larger blast radius than a node
needs; both commands are for hand-made deployments and for moving off SimpleDB.
"""

import ast
from functools import lru_cache
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
#: The code that runs on instances.
CODE_FOLDERS = ("apps", "storage_backends", "project", "deploy")
#: Modules that run only where an operator provisions or migrates by hand (see above).
NOT_ON_INSTANCES = ("storage_backends/provisioning.py", "storage_backends/copying.py",
                    "storage_backends/management/commands/provision_aws.py",
                    "storage_backends/management/commands/copy_state.py")
#: The services the code may call, by botocore's client name.
SERVICES = ("s3", "sqs", "sdb", "dynamodb", "autoscaling", "secretsmanager")

#: Operations authorised by an IAM action of another name (S3's and SQS's documentation,
#: "Actions, resources, and condition keys").
IAM_ACTION = {
    "s3:HeadObject": "s3:GetObject",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListParts": "s3:ListMultipartUploadParts",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
    "s3:DeleteObjects": "s3:DeleteObject",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}

#: django-storages (the media and static storages, collectstatic): head, get, put
#: (multipart for large files, aborted on failure), delete, list; django-ses (mail, through
#: our client from storage_backends/ses.py): SES v2's SendEmail.
LIBRARY_ACTIONS = frozenset({"s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                             "s3:ListBucket", "s3:AbortMultipartUpload", "ses:SendEmail"})
#: The CloudWatch agent writing to the stack's existing log groups (its documentation:
#: "Create IAM roles and users for use with the CloudWatch agent").
AGENT_ACTIONS = frozenset({"logs:CreateLogStream", "logs:PutLogEvents",
                           "logs:DescribeLogStreams"})
#: Session Manager's agent (the actions of AmazonSSMManagedInstanceCore that a shell needs):
#: how an operator reaches an instance to run manage.py, with no SSH key or open port.
OPERATOR_ACCESS = frozenset({
    "ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
})
#: Actions with no resource-level permissions: only these may have Resource "*".
UNSCOPABLE = OPERATOR_ACCESS
#: Operations the code has but a deployed instance never calls, and why.
NOT_CALLED_WHEN_DEPLOYED = {
    "autoscaling:DescribeAutoScalingInstances":
        "the stack names each worker's group (STRATUS_WORKER_AUTOSCALING_GROUP), so the "
        "worker never looks it up; the action takes no resource ARN",
}


@lru_cache(maxsize=None)
def _operations_by_method():
    """{client method name: ["service:Operation", ...]} for every service in SERVICES."""
    session = boto3.session.Session(region_name="us-east-1", aws_access_key_id="none",
                                    aws_secret_access_key="none")
    found = {}
    for service in SERVICES:
        client = session.client(service)
        prefix = client.meta.service_model.signing_name
        for method, operation in client.meta.method_to_api_mapping.items():
            found.setdefault(method, []).append(f"{prefix}:{operation}")
    return found


def code_files():
    """The Python that runs on instances (relative paths): modules, migrations aside, and
    scripts without a suffix whose first line names Python (deploy/write-secrets)."""
    files = []
    for folder in CODE_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            relative = path.relative_to(ROOT).as_posix()
            if (path.is_file() and _is_python(path) and "migrations" not in path.parts
                    and relative not in NOT_ON_INSTANCES):
                files.append(relative)
    return files


def _is_python(path):
    if path.suffix == ".py":
        return True
    if path.suffix:
        return False
    with path.open("rb") as opened:
        return b"python" in opened.readline()


def _names_in(source):
    """Method names called in one module, and strings given to a call that could name a
    method (`_call("put_item")`, `ClientMethod="upload_part"`)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute):
            names.add(node.func.attr)
        for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                names.add(argument.value)
    return names


def code_operations(files=None):
    """{"service:Operation": [files naming it]} for the code in `files` (default: all that
    runs on instances)."""
    by_method = _operations_by_method()
    found = {}
    for relative in code_files() if files is None else files:
        for name in _names_in((ROOT / relative).read_text()):
            for operation in by_method.get(name, ()):
                found.setdefault(operation, []).append(relative)
    return found


def iam_actions(operations):
    """The IAM actions that authorise `operations`."""
    return {IAM_ACTION.get(operation, operation) for operation in operations}


def instance_actions(state_store):
    """Every action an instance needs with the state store `state_store` ("simpledb" or
    "dynamodb"): the code's, the library's, the log agent's and operator access; the other
    store's service is not used."""
    unused = {"simpledb": "dynamodb:", "dynamodb": "sdb:"}[state_store]
    code = {action for action in iam_actions(code_operations())
            if not action.startswith(unused) and action not in NOT_CALLED_WHEN_DEPLOYED}
    return code | LIBRARY_ACTIONS | AGENT_ACTIONS | OPERATOR_ACCESS
