"""Random and hostile requests to every action: the emulator never answers 5xx.

Two ways in, both over real HTTP: botocore's `sdb` client with random (well-typed) arguments,
and raw query parameters signed by botocore's SigV2 signer, for what botocore would refuse
to send (huge indexes, flags that are not booleans, unknown fields, GET requests). Every
answer must be a success or a 4xx with well-formed XML. The examples are derandomized and
bounded so the suite stays fast and repeatable.
"""

from xml.etree import ElementTree

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localaws.simpledb import SimpleDBServer
from localaws.simpledb.faults import Faults
from localaws.simpledb.models import Limits
from tests.fixtures.simpledb import ACCESS_KEY, SECRET_KEY, put_items, raw_request, sdb_client

ACTIONS = [
    "CreateDomain", "DeleteDomain", "ListDomains", "DomainMetadata", "PutAttributes",
    "BatchPutAttributes", "GetAttributes", "DeleteAttributes", "BatchDeleteAttributes",
    "Select",
]
DOMAIN = "fuzz"

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# -- strategies ---------------------------------------------------------------------------
digits = st.one_of(
    st.integers(0, 30).map(str),
    st.text("0123456789", min_size=1, max_size=40),
    st.sampled_from([4300, 4301, 5000]).map(lambda n: "9" * n),  # Python's int-string limit
)
hostile_text = st.one_of(
    st.sampled_from(["", "v", "k", "true", "false", "TRUE", "yes", "-1", "0", "2500", "2501",
                     DOMAIN, "ab", "a" * 1025, "\x00", "\ud7ff\ue000", "'", "`", "%", "\\",
                     "<x>&amp;</x>", "]]>", "é" * 600]),
    st.text(max_size=40),
    st.text(max_size=1100),
    digits,
)
domain_names = st.one_of(st.just(DOMAIN), hostile_text)
flags = st.one_of(st.booleans().map(str), hostile_text)

SELECT_TOKENS = [
    "select", "*", "itemName()", "count(*)", "from", DOMAIN, f"`{DOMAIN}`", "where", "not", "(",
    ")", "and", "or", "intersection", "k", "`k`", "j", "every(k)", "every", "=", "!=", ">",
    ">=", "<", "<=", "like", "not like", "between", "in", "is", "null", "order", "by", "asc",
    "desc", "limit", "'v'", "'v%'", "'%v%'", '"x"', "'\\%'", ",", "'", "`", '"', "?", "``",
    "'it''s'", "1", "2500", "0",
]
select_soup = st.lists(st.one_of(st.sampled_from(SELECT_TOKENS), digits), max_size=40).map(
    " ".join)
select_expressions = st.one_of(
    st.builds(lambda output, rest: f"select {output} from {DOMAIN} {rest}",
              st.sampled_from(["*", "itemName()", "count(*)", "k", "k, j"]), select_soup),
    st.builds(lambda rest: f"select * from {DOMAIN} where {rest}", select_soup),
    select_soup,
    hostile_text,
    st.builds(lambda depth, brackets: f"select * from {DOMAIN} where "
                                       f"{brackets[0] * depth}k = 'v'{brackets[1] * depth}",
              st.integers(0, 300), st.sampled_from([("not ", ""), ("(", ")"), ("not (", ")")])),
    st.builds(lambda number: f"select * from {DOMAIN} limit {number}", digits),
    st.builds(lambda n, op: f"select * from {DOMAIN} where {op} in ("
                            + ", ".join(f"'v{i}'" for i in range(n)) + ")",
              st.integers(1, 3000), st.sampled_from(["k", "itemName()", "every(k)"])),
    st.builds(lambda n: f"select * from {DOMAIN} where " + " and ".join(
        f"k{i} = 'v'" for i in range(n)), st.integers(1, 40)),
)


#: The parameters each action reads (botocore's names), drawn more often than stray ones.
OWN_PARAMS = {
    "CreateDomain": ["DomainName"],
    "DeleteDomain": ["DomainName"],
    "ListDomains": ["MaxNumberOfDomains", "NextToken"],
    "DomainMetadata": ["DomainName"],
    "PutAttributes": ["DomainName", "ItemName", "Attribute.{n}.Name", "Attribute.{n}.Value",
                      "Attribute.{n}.Replace", "Expected.Name", "Expected.Value",
                      "Expected.Exists", "Expected.{n}.Name"],
    "BatchPutAttributes": ["DomainName", "Item.{n}.ItemName", "Item.{n}.Attribute.{n}.Name",
                           "Item.{n}.Attribute.{n}.Value", "Item.{n}.Attribute.{n}.Replace"],
    "GetAttributes": ["DomainName", "ItemName", "AttributeName.{n}", "ConsistentRead"],
    "DeleteAttributes": ["DomainName", "ItemName", "Attribute.{n}.Name", "Attribute.{n}.Value",
                         "Expected.Name", "Expected.Value", "Expected.Exists"],
    "BatchDeleteAttributes": ["DomainName", "Item.{n}.ItemName", "Item.{n}.Attribute.{n}.Name",
                              "Item.{n}.Attribute.{n}.Value"],
    "Select": ["SelectExpression", "NextToken", "ConsistentRead"],
}
#: A well-formed core, used often so that the hostile part reaches deeper code.
CORE = {"DomainName": DOMAIN, "ItemName": "i1", "Attribute.1.Name": "k",
        "Attribute.1.Value": "v", "Item.1.ItemName": "i2", "Item.1.Attribute.1.Name": "k",
        "Item.1.Attribute.1.Value": "v", "SelectExpression": f"select * from {DOMAIN}"}


@st.composite
def raw_params(draw, action):
    """Query parameters for `action`: its own names with hostile values, and stray ones."""
    params = {}
    for template in OWN_PARAMS[action]:
        for _ in range(draw(st.integers(0, 2))):
            name = template
            while "{n}" in name:
                name = name.replace("{n}", draw(digits), 1)
            if name == "SelectExpression":
                params[name] = draw(select_expressions)
            elif name == "MaxNumberOfDomains":
                params[name] = draw(st.one_of(digits, hostile_text))
            else:
                params[name] = draw(hostile_text)
    params.update(draw(st.dictionaries(st.text(max_size=20), hostile_text, max_size=3)))
    if draw(st.booleans()):
        for name, value in CORE.items():
            if any(name.split(".")[0] == own.split(".")[0] for own in OWN_PARAMS[action]):
                params.setdefault(name, value)
    params["Action"] = action
    return params


attribute = st.fixed_dictionaries(
    {"Name": hostile_text, "Value": hostile_text}, optional={"Replace": st.booleans()})
deleted_attribute = st.fixed_dictionaries({"Name": hostile_text}, optional={"Value": hostile_text})
expected = st.fixed_dictionaries(
    {}, optional={"Name": hostile_text, "Value": hostile_text, "Exists": st.booleans()})

BOTOCORE_CALLS = {
    "CreateDomain": ("create_domain", st.fixed_dictionaries({"DomainName": domain_names})),
    "DeleteDomain": ("delete_domain", st.fixed_dictionaries({"DomainName": hostile_text})),
    "ListDomains": ("list_domains", st.fixed_dictionaries({}, optional={
        "MaxNumberOfDomains": st.integers(-(2**63), 2**63), "NextToken": hostile_text})),
    "DomainMetadata": ("domain_metadata", st.fixed_dictionaries({"DomainName": domain_names})),
    "PutAttributes": ("put_attributes", st.fixed_dictionaries(
        {"DomainName": domain_names, "ItemName": hostile_text,
         "Attributes": st.lists(attribute, max_size=5)}, optional={"Expected": expected})),
    "BatchPutAttributes": ("batch_put_attributes", st.fixed_dictionaries(
        {"DomainName": domain_names, "Items": st.lists(st.fixed_dictionaries(
            {"Name": hostile_text, "Attributes": st.lists(attribute, max_size=3)}), max_size=4)})),
    "GetAttributes": ("get_attributes", st.fixed_dictionaries(
        {"DomainName": domain_names, "ItemName": hostile_text},
        optional={"AttributeNames": st.lists(hostile_text, max_size=4),
                  "ConsistentRead": st.booleans()})),
    "DeleteAttributes": ("delete_attributes", st.fixed_dictionaries(
        {"DomainName": domain_names, "ItemName": hostile_text},
        optional={"Attributes": st.lists(deleted_attribute, max_size=4), "Expected": expected})),
    "BatchDeleteAttributes": ("batch_delete_attributes", st.fixed_dictionaries(
        {"DomainName": domain_names, "Items": st.lists(st.fixed_dictionaries(
            {"Name": hostile_text}, optional={"Attributes": st.lists(deleted_attribute,
                                                                     max_size=3)}),
            max_size=4)})),
    "Select": ("select", st.fixed_dictionaries(
        {"SelectExpression": select_expressions},
        optional={"NextToken": hostile_text, "ConsistentRead": st.booleans()})),
}


# -- the server under test ----------------------------------------------------------------
@pytest.fixture(scope="module")
def fuzz_server():
    """A private emulator (random domains must not crowd the session's), with a few items;
    half its eventually consistent reads are stale, so both kinds of read are fuzzed."""
    server = SimpleDBServer(keys={ACCESS_KEY: SECRET_KEY}, limits=Limits(max_domains=20),
                            faults=Faults(stale_read_rate=0.5, seed=9)).start()
    client = sdb_client(server.endpoint_url)
    client.create_domain(DomainName=DOMAIN)
    put_items(client, DOMAIN, {f"i{n}": {"k": ["v", f"v{n}"], "j": ["x"]} for n in range(5)})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fuzz_client(fuzz_server):
    return sdb_client(fuzz_server.endpoint_url, retries={"mode": "standard", "max_attempts": 1},
                      read_timeout=30)


def assert_well_formed(status, body):
    assert status < 500, body[:2000]
    ElementTree.fromstring(body)  # always well-formed XML, error or not


# -- the tests ----------------------------------------------------------------------------
@pytest.mark.parametrize("action", ACTIONS)
@FUZZ
@given(data=st.data())
def test_raw_requests_never_get_a_server_error(fuzz_server, action, data):
    params = data.draw(raw_params(action), label="params")
    method = data.draw(st.sampled_from(["POST", "POST", "GET"]), label="method")
    response = raw_request(fuzz_server.endpoint_url, params, method=method)
    assert_well_formed(response.status, response.body)


@pytest.mark.parametrize("action", ACTIONS)
@FUZZ
@given(data=st.data())
def test_botocore_calls_never_get_a_server_error(fuzz_client, action, data):
    method, arguments = BOTOCORE_CALLS[action]
    kwargs = data.draw(arguments, label="arguments")
    try:
        response = getattr(fuzz_client, method)(**kwargs)
    except ParamValidationError:
        return  # botocore refused to send it; the raw test covers such requests
    except ClientError as error:
        status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        assert status < 500, (error.response["Error"], kwargs)
        return
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
