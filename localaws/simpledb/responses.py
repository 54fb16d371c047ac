"""One thin handler per SimpleDB action: read the query parameters, call `SimpleDB`, answer XML.

Parameters arrive exactly as botocore's query serializer sends them (`Attribute.1.Name`,
`Item.2.Attribute.1.Value`, `Expected.Name` ...). Handlers check the shape of the request
(missing parameters, flags that are not true/false, malformed numbers); the rules about the
data itself live in `models.py`.
"""

import base64
import re
import uuid
from xml.sax.saxutils import escape

from . import exceptions
from .models import MAX_LIST_DOMAINS, Expected

XMLNS = "http://sdb.amazonaws.com/doc/2009-04-15/"
API_VERSION = "2009-04-15"
#: SimpleDB bills machine time in "box usage" hours; clients only display it.
BOX_USAGE = "0.0000219907"
MAX_REQUESTED_ATTRIBUTES = 256
#: Indexes in parameter names (`Attribute.N.Name`) need not be contiguous, but one of more
#: than this many digits is refused: no request holds a billion attributes.
MAX_INDEX_DIGITS = 9

# Characters XML 1.0 cannot carry; SimpleDB base64-encodes a name or value holding any.
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_EXPECTED = re.compile(r"Expected(?:\.([0-9]+))?\.(Name|Value|Exists)")


def text_element(tag, text):
    """`<tag>text</tag>`, base64-encoded with `encoding="base64"` if XML cannot hold it."""
    if _XML_INVALID.search(text):
        encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
        return f'<{tag} encoding="base64">{encoded}</{tag}>'
    # A raw CR would be read back as LF by any XML parser; a character reference survives.
    return f"<{tag}>{escape(text).replace(chr(13), '&#13;')}</{tag}>"


def attributes_xml(pairs):
    return "".join(
        f"<Attribute>{text_element('Name', name)}{text_element('Value', value)}</Attribute>"
        for name, value in pairs
    )


def response_xml(action, result):
    """A success body; `result` is the inner XML of `<{action}Result>`, or None for none."""
    wrapped = "" if result is None else f"<{action}Result>{result}</{action}Result>"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{XMLNS}">{wrapped}'
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>"
        f"<BoxUsage>{BOX_USAGE}</BoxUsage></ResponseMetadata></{action}Response>"
    )


def error_xml(error, request_id):
    message = _XML_INVALID.sub("?", error.text)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        f"<Code>{error.code}</Code><Message>{escape(message)}</Message>"
        f"<BoxUsage>{BOX_USAGE}</BoxUsage></Error></Errors>"
        f"<RequestID>{request_id}</RequestID></Response>"
    )


# -- parameter readers -------------------------------------------------------------------
def required(params, name):
    value = params.get(name)
    if value is None:
        raise exceptions.MissingParameter(f"The request must contain the parameter {name}")
    return value


def flag(params, name, default=False):
    value = params.get(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise exceptions.InvalidParameterValue(
            f"Value ({value}) for parameter {name} is invalid. Boolean value expected."
        )
    return lowered == "true"


def _index(prefix, digits):
    """The N of a `prefix.N...` parameter name, refusing numbers no request could need."""
    significant = digits.lstrip("0")
    # Checked before int(): Python refuses to convert a string of over 4,300 digits.
    if len(significant) > MAX_INDEX_DIGITS:
        raise exceptions.InvalidParameterValue(
            f"Value ({digits[:20]}...) for parameter {prefix}.N is invalid. "
            f"An index has at most {MAX_INDEX_DIGITS} digits."
        )
    return int(significant or "0")


def indexed(params, prefix):
    """{index: {field: value}} for parameters named `prefix.N.field`, ordered by N."""
    pattern = re.compile(re.escape(prefix) + r"\.([0-9]+)\.(.+)")
    groups = {}
    for name, value in params.items():
        match = pattern.fullmatch(name)
        if match:
            groups.setdefault(_index(prefix, match.group(1)), {})[match.group(2)] = value
    return dict(sorted(groups.items()))


def attribute_list(fields_by_index, with_replace, value_required=True):
    """[(name, value[, replace])] from `Attribute.N.*` fields."""
    attributes = []
    for fields in fields_by_index.values():
        name, value = fields.get("Name"), fields.get("Value")
        if name is None:
            raise exceptions.MissingParameter(f"Attribute.Name missing for Attribute.Value='{value}'.")
        if value is None and value_required:
            raise exceptions.MissingParameter(f"Attribute.Value missing for Attribute.Name='{name}'.")
        if with_replace:
            attributes.append((name, value, flag(fields, "Replace")))
        else:
            attributes.append((name, value))
    return attributes


def expected_condition(params):
    """The one `Expected` condition (unindexed, or the older `Expected.N.*` form), or None."""
    groups = {}
    for name, value in params.items():
        match = _EXPECTED.fullmatch(name)
        if match:
            groups.setdefault(match.group(1), {})[match.group(2)] = value
    if not groups:
        return None
    for field, error in (("Name", exceptions.MultipleExpectedNames),
                         ("Value", exceptions.MultipleExpectedValues),
                         ("Exists", exceptions.MultipleExistsConditions)):
        if sum(field in fields for fields in groups.values()) > 1:
            raise error()
    merged = {field: value for fields in groups.values() for field, value in fields.items()}
    if "Name" not in merged:
        raise exceptions.MissingParameter("The request must contain the parameter Expected.Name")
    exists = flag(merged, "Exists", default=None)
    value = merged.get("Value")
    if exists is False and value is not None:
        raise exceptions.ExistsAndExpectedValue()
    if exists is not False and value is None:
        raise exceptions.IncompleteExpectedExpression()
    return Expected(merged["Name"], value, exists is not False)


def _integer(params, name, low, high, default):
    raw = params.get(name)
    if raw is None:
        return default
    value = None
    if raw.isascii() and raw.isdigit():
        significant = raw.lstrip("0")
        # Longer than `high` is out of range; and Python refuses int() past 4,300 digits.
        if len(significant) <= len(str(high)):
            value = int(significant or "0")
    if value is None or not low <= value <= high:
        raise exceptions.InvalidParameterValue(
            f"Value ({raw}) for parameter {name} is invalid. "
            f"{name} must be between {low} and {high}."
        )
    return value


class Responses:
    """Dispatches a decoded request to its action handler and renders the result."""

    def __init__(self, backend, faults):
        self.backend = backend
        self.faults = faults
        self.handlers = {
            "CreateDomain": self.create_domain,
            "DeleteDomain": self.delete_domain,
            "ListDomains": self.list_domains,
            "DomainMetadata": self.domain_metadata,
            "PutAttributes": self.put_attributes,
            "BatchPutAttributes": self.batch_put_attributes,
            "GetAttributes": self.get_attributes,
            "DeleteAttributes": self.delete_attributes,
            "BatchDeleteAttributes": self.batch_delete_attributes,
            "Select": self.select,
        }

    def dispatch(self, params):
        action = params.get("Action")
        if not action:
            raise exceptions.MissingAction()
        handler = self.handlers.get(action)
        if handler is None:
            raise exceptions.InvalidAction(f"The action {action} is not valid for this web service.")
        version = required(params, "Version")
        if version != API_VERSION:
            raise exceptions.NoSuchVersion(f"The requested version ({version}) does not exist.")
        return response_xml(action, handler(params))

    def _stale(self, params):
        return not flag(params, "ConsistentRead") and self.faults.should_read_stale()

    def create_domain(self, params):
        self.backend.create_domain(required(params, "DomainName"))

    def delete_domain(self, params):
        self.backend.delete_domain(required(params, "DomainName"))

    def list_domains(self, params):
        limit = _integer(params, "MaxNumberOfDomains", 1, MAX_LIST_DOMAINS, MAX_LIST_DOMAINS)
        names, token = self.backend.list_domains(limit, params.get("NextToken"))
        body = "".join(text_element("DomainName", name) for name in names)
        return body + (text_element("NextToken", token) if token else "")

    def domain_metadata(self, params):
        metadata = self.backend.domain_metadata(required(params, "DomainName"))
        return "".join(f"<{key}>{value}</{key}>" for key, value in metadata.items())

    def put_attributes(self, params):
        domain, item = required(params, "DomainName"), required(params, "ItemName")
        attributes = attribute_list(indexed(params, "Attribute"), with_replace=True)
        self.backend.put_attributes(domain, item, attributes, expected_condition(params))

    def batch_put_attributes(self, params):
        domain = required(params, "DomainName")
        items = self._batch_items(params, with_replace=True, value_required=True)
        self.backend.batch_put_attributes(domain, items)

    def _batch_items(self, params, **attribute_options):
        items = []
        for index, fields in indexed(params, "Item").items():
            name = fields.get("ItemName")
            if name is None:
                raise exceptions.MissingParameter(
                    f"The request must contain the parameter Item.{index}.ItemName"
                )
            attributes = attribute_list(indexed(fields, "Attribute"), **attribute_options)
            items.append((name, attributes))
        return items

    def get_attributes(self, params):
        domain, item = required(params, "DomainName"), required(params, "ItemName")
        names = _plain_list(params, "AttributeName")
        if len(names) > MAX_REQUESTED_ATTRIBUTES:
            raise exceptions.TooManyRequestedAttributes(
                f"Too many attributes requested: at most {MAX_REQUESTED_ATTRIBUTES}."
            )
        pairs = self.backend.get_attributes(domain, item, names, stale=self._stale(params))
        return attributes_xml(pairs)

    def delete_attributes(self, params):
        domain, item = required(params, "DomainName"), required(params, "ItemName")
        attributes = attribute_list(
            indexed(params, "Attribute"), with_replace=False, value_required=False
        )
        self.backend.delete_attributes(domain, item, attributes, expected_condition(params))

    def batch_delete_attributes(self, params):
        domain = required(params, "DomainName")
        items = self._batch_items(params, with_replace=False, value_required=False)
        self.backend.batch_delete_attributes(domain, items)

    def select(self, params):
        expression = required(params, "SelectExpression")
        page = self.backend.select(expression, params.get("NextToken"), stale=self._stale(params))
        body = "".join(
            f"<Item>{text_element('Name', name)}{attributes_xml(pairs)}</Item>"
            for name, pairs in page.items
        )
        return body + (text_element("NextToken", page.next_token) if page.next_token else "")


def _plain_list(params, prefix):
    """Values of `prefix.N` parameters, ordered by N."""
    pattern = re.compile(re.escape(prefix) + r"\.([0-9]+)")
    found = []
    for name, value in params.items():
        match = pattern.fullmatch(name)
        if match:
            found.append((_index(prefix, match.group(1)), value))
    return [value for _position, value in sorted(found)]
