"""SimpleDB error codes, one class each.

Every class carries the HTTP status AWS answers with and a default message; the handlers
raise them and the application turns them into the `<Response><Errors>` body. The codes and
statuses are those of the SimpleDB Developer Guide's error catalogue (APIError).
"""


class SimpleDBError(Exception):
    """An error SimpleDB reports to the client, rendered as its XML error body."""

    status = 400
    code = "InternalError"
    message = "Request could not be executed due to an internal service error."

    def __init__(self, message=None):
        super().__init__(message or self.message)

    @property
    def text(self):
        return str(self)


def _error(name, status, message):
    return type(name, (SimpleDBError,), {"status": status, "code": name, "message": message})


# 400
ExistsAndExpectedValue = _error(
    "ExistsAndExpectedValue", 400,
    "Expected.Exists=false and Expected.Value cannot be specified together",
)
IncompleteExpectedExpression = _error(
    "IncompleteExpectedExpression", 400,
    "If Expected.Exists=true or unspecified, then Expected.Value has to be specified",
)
IncompleteSignature = _error(
    "IncompleteSignature", 400, "The request signature does not conform to AWS standards."
)
InvalidAction = _error("InvalidAction", 400, "The action is not valid for this web service.")
InvalidHttpRequest = _error(
    "InvalidHttpRequest", 400, "The HTTP request is invalid. Reason: unknown."
)
InvalidLiteral = _error("InvalidLiteral", 400, "Illegal literal in the filter expression.")
InvalidNextToken = _error("InvalidNextToken", 400, "The specified next token is not valid.")
InvalidNumberPredicates = _error(
    "InvalidNumberPredicates", 400, "Too many predicates in the query expression."
)
InvalidNumberValueTests = _error(
    "InvalidNumberValueTests", 400, "Too many value tests per predicate in the query expression."
)
InvalidParameterCombination = _error(
    "InvalidParameterCombination", 400, "The parameters cannot be used together."
)
InvalidParameterValue = _error(
    "InvalidParameterValue", 400, "A parameter has an invalid value."
)
InvalidQueryExpression = _error(
    "InvalidQueryExpression", 400, "The specified query expression syntax is not valid."
)
InvalidSortExpression = _error(
    "InvalidSortExpression", 400,
    "The sort attribute must be present in at least one of the predicates, and the predicate "
    "cannot contain the is null operator.",
)
MissingAction = _error("MissingAction", 400, "The request must contain the parameter Action.")
MissingParameter = _error(
    "MissingParameter", 400, "The request must contain the specified missing parameter."
)
MultipleExistsConditions = _error(
    "MultipleExistsConditions", 400, "Only one Exists condition can be specified."
)
MultipleExpectedNames = _error(
    "MultipleExpectedNames", 400, "Only one Expected.Name can be specified."
)
MultipleExpectedValues = _error(
    "MultipleExpectedValues", 400, "Only one Expected.Value can be specified."
)
NoSuchDomain = _error("NoSuchDomain", 400, "The specified domain does not exist.")
NoSuchVersion = _error(
    "NoSuchVersion", 400, "The requested version does not exist."
)
RequestExpired = _error("RequestExpired", 400, "Request has expired.")
TooManyRequestedAttributes = _error(
    "TooManyRequestedAttributes", 400, "Too many attributes requested."
)
DuplicateItemName = _error("DuplicateItemName", 400, "Item name was specified more than once.")

# 403
AccessFailure = _error("AccessFailure", 403, "Access to the resource is denied.")
AuthFailure = _error(
    "AuthFailure", 403, "AWS was not able to validate the provided access credentials."
)
AuthMissingFailure = _error(
    "AuthMissingFailure", 403,
    "AWS was not able to authenticate the request: access credentials are missing.",
)

# 404
AttributeDoesNotExist = _error("AttributeDoesNotExist", 404, "Attribute does not exist")

# 408
RequestTimeout = _error("RequestTimeout", 408, "A timeout occurred when attempting to query.")

# 409
ConditionalCheckFailed = _error(
    "ConditionalCheckFailed", 409, "Conditional check failed."
)
MultiValuedAttribute = _error(
    "MultiValuedAttribute", 409, "Attribute has multiple values but a single value was expected."
)
NumberDomainsExceeded = _error(
    "NumberDomainsExceeded", 409, "Number of domains limit exceeded."
)
NumberDomainAttributesExceeded = _error(
    "NumberDomainAttributesExceeded", 409, "Number of attributes in the domain exceeds the limit."
)
NumberDomainBytesExceeded = _error(
    "NumberDomainBytesExceeded", 409, "Total size of the domain exceeds the limit."
)
NumberItemAttributesExceeded = _error(
    "NumberItemAttributesExceeded", 409, "Too many attributes in this item."
)
NumberSubmittedAttributesExceeded = _error(
    "NumberSubmittedAttributesExceeded", 409, "Too many attributes in a single call."
)
NumberSubmittedItemsExceeded = _error(
    "NumberSubmittedItemsExceeded", 409,
    "Too many items in a single call. Up to 25 items per call allowed.",
)

# 500, 503
InternalError = _error(
    "InternalError", 500, "Request could not be executed due to an internal service error."
)
ServiceUnavailable = _error(
    "ServiceUnavailable", 503, "Service Amazon SimpleDB is currently unavailable. Please try again later."
)
