"""The instance role allows exactly the AWS actions the code can call (read from the code by
tests/deploy/aws_actions.py), on named resources wherever AWS lets a resource be named."""

import pytest

from .template import decided, load, resolved
from .aws_actions import (
    UNSCOPABLE,
    _names_in,
    code_operations,
    iam_actions,
    instance_actions,
)

STORES = ("simpledb", "dynamodb")


def role(store):
    """The instance role's properties, conditions decided for StateStore=`store`."""
    template = load()
    conditions = decided(template, {"StateStore": store})
    [resource] = [resource for resource in template["Resources"].values()
                  if resource["Type"] == "AWS::IAM::Role"
                  and "ec2.amazonaws.com" in str(resource["Properties"]
                                                 ["AssumeRolePolicyDocument"])]
    return resolved(resource["Properties"], conditions)


def statements(store):
    return [statement for policy in role(store).get("Policies", [])
            for statement in policy["PolicyDocument"]["Statement"]]


def as_list(value):
    return value if isinstance(value, list) else [value]


def allowed(store):
    return {action for statement in statements(store) if statement["Effect"] == "Allow"
            for action in as_list(statement["Action"])}


@pytest.mark.parametrize("store", STORES)
def test_the_role_allows_every_action_the_code_calls(store):
    assert instance_actions(store) - allowed(store) == set()


@pytest.mark.parametrize("store", STORES)
def test_the_role_allows_nothing_beyond_what_the_code_calls(store):
    assert allowed(store) - instance_actions(store) == set()


@pytest.mark.parametrize("store", STORES)
def test_the_role_has_no_managed_policy_to_widen_it(store):
    assert role(store).get("ManagedPolicyArns", []) == []


@pytest.mark.parametrize("store", STORES)
def test_no_statement_allows_a_wildcard_action(store):
    assert [action for action in allowed(store) if "*" in action] == []


@pytest.mark.parametrize("store", STORES)
def test_only_actions_aws_cannot_scope_to_a_resource_have_every_resource(store):
    for statement in statements(store):
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= UNSCOPABLE, statement


def test_the_state_store_not_chosen_gets_no_action():
    assert not any(action.startswith("dynamodb:") for action in allowed("simpledb"))
    assert not any(action.startswith("sdb:") for action in allowed("dynamodb"))


# -- the reading of the code ---------------------------------------------------------------
def test_a_client_method_called_is_read_as_its_operation():
    assert "head_object" in _names_in("s3.head_object(Bucket='b', Key='k')")


def test_a_method_named_by_a_string_argument_is_read_as_its_operation():
    assert "put_item" in _names_in("self._call('put_item', Item={})")
    assert "upload_part" in _names_in("s3.generate_presigned_url(ClientMethod='upload_part')")


def test_strings_that_are_not_call_arguments_are_not_read_as_operations():
    assert "query" not in _names_in("fields = {'query': 1}")


def test_the_code_calls_what_the_site_is_known_to_need():
    # A floor, so that a reader that silently found nothing cannot pass the tests above.
    operations = code_operations()
    for operation in ("s3:UploadPart", "s3:ListParts", "sqs:ReceiveMessage",
                      "sqs:DeleteMessageBatch", "sdb:Select", "dynamodb:UpdateItem",
                      "autoscaling:CompleteLifecycleAction"):
        assert operation in operations


def test_batch_and_multipart_operations_are_authorised_by_their_iam_actions():
    assert iam_actions({"s3:CompleteMultipartUpload", "sqs:DeleteMessageBatch",
                        "s3:HeadObject"}) == {"s3:PutObject", "sqs:DeleteMessage",
                                              "s3:GetObject"}

