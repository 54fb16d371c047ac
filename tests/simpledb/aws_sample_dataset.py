"""Test oracle taken from the Amazon SimpleDB Developer Guide (API 2009-04-15).

This module holds the sample domain and the Select results that AWS publishes
in the "Using Select to Create Amazon SimpleDB Queries" chapter, so the
emulator's Select engine can be checked against the documented behaviour.
Everything here is transcribed from these Developer Guide pages
(https://docs.aws.amazon.com/AmazonSimpleDB/latest/DeveloperGuide/<Page>.html):

* UsingSelectSampleDataset        -- the six-item sample domain
* SimpleQueriesSelect             -- single-predicate queries
* RangeQueriesSelect              -- several comparisons on one attribute
* RangeValueQueriesSelect         -- multi-valued attributes, every()
* MultipleAttributeQueriesSelect  -- intersection, every()
* SortingDataSelect               -- order by / limit / itemName()
* CountingDataSelect              -- count(*)
* UsingSelectOperators and QuotingRulesSelect were also read; their examples
  run against made-up attributes (city, name, weight, attr1, ...) and give no
  results for the sample domain, so they add nothing to the lists below.

Only the 2009-04-15 Select syntax is used here, not the 2007 bracket syntax.
All data values and select expressions are exact copies of the documentation.
The comments and docstrings are our own wording.

Contents
--------
SAMPLE_ITEMS
    item name -> attribute name -> list of string values. Values of a
    multi-valued attribute appear in the order the docs list them. An attribute
    left empty in the docs table is absent from the item.
DOCUMENTED_QUERIES
    (select_expression, expected_item_names, ordered). ``ordered`` is True
    only for ``order by`` queries, where the docs give the order; for the rest,
    compare as sets (the list keeps the order the docs print).
DOCUMENTED_COUNTS
    (select_expression, expected_count_string) for count(*) queries; the
    value is the ``Count`` attribute of the single ``Domain`` item returned.
DOCUMENTED_ERRORS
    (select_expression, error_code) for expressions the docs call invalid.
DOCUMENTED_ACCEPTED
    expressions the docs say are valid but give no result for.
DERIVED_PREDICATE_RESULTS
    results for sub-expressions that the docs explain in prose (not shown as
    table rows). They are useful but are not literal documented expressions.
DOCUMENTED_ERRATA
    (select_expression, documented_items, corrected_items, ordered, reason):
    rows where the published result does not follow from SimpleDB semantics.
    Tests should assert ``corrected_items``.
"""

DOMAIN_NAME = "mydomain"

# --- UsingSelectSampleDataset -------------------------------------------------
# Three books, one CD, one DVD and one more CD-like item. Pages is zero-padded
# so lexicographic comparison works; only the books have it. B000SF3NGK has no
# Pages and no Keyword.
SAMPLE_ITEMS = {
    "0385333498": {
        "Title": ["The Sirens of Titan"],
        "Author": ["Kurt Vonnegut"],
        "Year": ["1959"],
        "Pages": ["00336"],
        "Keyword": ["Book", "Paperback"],
        "Rating": ["*****", "5 stars", "Excellent"],
    },
    "0802131786": {
        "Title": ["Tropic of Cancer"],
        "Author": ["Henry Miller"],
        "Year": ["1934"],
        "Pages": ["00318"],
        "Keyword": ["Book"],
        "Rating": ["****"],
    },
    "1579124585": {
        "Title": ["The Right Stuff"],
        "Author": ["Tom Wolfe"],
        "Year": ["1979"],
        "Pages": ["00304"],
        "Keyword": ["Book", "Hardcover", "American"],
        "Rating": ["****", "4 stars"],
    },
    "B000T9886K": {
        "Title": ["In Between"],
        "Author": ["Paul Van Dyk"],
        "Year": ["2007"],
        "Keyword": ["CD", "Trance"],
        "Rating": ["4 stars"],
    },
    "B00005JPLW": {
        "Title": ["300"],
        "Author": ["Zack Snyder"],
        "Year": ["2007"],
        "Keyword": ["DVD", "Action", "Frank Miller"],
        "Rating": ["***", "3 stars", "Not bad"],
    },
    "B000SF3NGK": {
        "Title": ["Heaven's Gonna Burn Your Eyes"],
        "Author": ["Thievery Corporation"],
        "Year": ["2002"],
        "Rating": ["*****"],
    },
}

DOCUMENTED_QUERIES = [
    # --- SimpleQueriesSelect ---------------------------------------------------
    # Plain equality on a single-valued attribute.
    ("select * from mydomain where Title = 'The Right Stuff'",
     ["1579124585"], False),
    # Year is not padded, but four-digit years still compare correctly as text.
    ("select * from mydomain where Year > '1985'",
     ["B000T9886K", "B00005JPLW", "B000SF3NGK"], False),
    # Prefix match is exact and case-sensitive: '****%' also matches '*****',
    # but an item whose only rating is '4 stars' does not match.
    ("select * from mydomain where Rating like '****%'",
     ["0385333498", "1579124585", "0802131786", "B000SF3NGK"], False),
    # Items that lack Pages are simply not candidates. (The docs print this
    # result with a stray trailing comma: "1579124585, 0802131786,".)
    ("select * from mydomain where Pages < '00320'",
     ["1579124585", "0802131786"], False),

    # --- RangeQueriesSelect ----------------------------------------------------
    # Two comparisons on the same attribute, exclusive bounds.
    ("select * from mydomain where Year > '1975' and Year < '2008'",
     ["1579124585", "B000T9886K", "B00005JPLW", "B000SF3NGK"], False),
    # between includes both end values.
    ("select * from mydomain where Year between '1975' and '2008'",
     ["1579124585", "B000T9886K", "B00005JPLW", "B000SF3NGK"], False),
    # Two separate values of one attribute joined with or.
    ("select * from mydomain where Rating = '***' or Rating = '*****'",
     ["0385333498", "B00005JPLW", "B000SF3NGK"], False),
    # Parenthesised range, a like on the 1930s, and an equality, all or-ed.
    ("select * from mydomain where (Year > '1950' and Year < '1960') "
     "or Year like '193%' or Year = '2007'",
     ["0385333498", "0802131786", "B000T9886K", "B00005JPLW"], False),

    # --- RangeValueQueriesSelect (queries on multi-valued attributes) ---------
    # An item matches if any one of its Rating values matches.
    ("select * from mydomain where Rating = '4 stars' or Rating = '****'",
     ["1579124585", "0802131786", "B000T9886K"], False),
    # 'and' inside one predicate is tested against each single value, and no
    # single Keyword value equals both 'Book' and 'Hardcover': empty result.
    ("select * from mydomain where Keyword = 'Book' and Keyword = 'Hardcover'",
     [], False),
    # The page's every(keyword) in (...) row is in DOCUMENTED_ERRATA below.

    # --- MultipleAttributeQueriesSelect ----------------------------------------
    # Any-value match on a multi-valued attribute.
    ("select * from mydomain where Rating = '****'",
     ["0802131786", "1579124585"], False),
    # every(): all of the item's Rating values must equal '****'.
    ("select * from mydomain where every(Rating) = '****'",
     ["0802131786"], False),
    # intersection combines the item-name sets of two predicates.
    ("select * from mydomain where Keyword = 'Book' intersection "
     "Keyword = 'Hardcover'",
     ["1579124585"], False),

    # --- SortingDataSelect -----------------------------------------------------
    # Ascending sort on the attribute used in the predicate.
    ("select * from mydomain where Year < '1980' order by Year asc",
     ["0802131786", "0385333498", "1579124585"], True),
    # Same query; asc is the default direction.
    ("select * from mydomain where Year < '1980' order by Year",
     ["0802131786", "0385333498", "1579124585"], True),
    # Descending sort; the sort attribute is constrained by 'is not null'.
    ("select * from mydomain where Year = '2007' intersection "
     "Author is not null order by Author desc",
     ["B00005JPLW", "B000T9886K"], True),
    # limit cuts the sorted result to the first two items.
    ("select * from mydomain where Year < '1980' order by Year limit 2",
     ["0802131786", "0385333498"], True),
    # itemName() in the output list, in a like predicate and as sort key.
    ("select itemName() from mydomain where itemName() like 'B000%' "
     "order by itemName()",
     ["B00005JPLW", "B000SF3NGK", "B000T9886K"], True),
]

# --- CountingDataSelect --------------------------------------------------------
# count(*) answers with one item named 'Domain' carrying a 'Count' attribute.
# With a limit, counting stops at the limit.
DOCUMENTED_COUNTS = [
    ("select count(*) from mydomain where Title = 'The Right Stuff'", "1"),
    ("select count(*) from mydomain where Year > '1985'", "3"),
    ("select count(*) from mydomain limit 500", "6"),
    ("select count(*) from mydomain limit 4", "4"),
]

# --- SortingDataSelect: invalid expressions -------------------------------------
DOCUMENTED_ERRORS = [
    # The sort attribute appears in no predicate; the docs name the error code.
    ("select * from mydomain order by Year asc", "InvalidSortExpression"),
    # From the notes above the table: the sort attribute (title) is
    # constrained by no predicate other than an 'is null' on another
    # attribute, so the docs say it fails. They name no code here;
    # InvalidSortExpression is the matching SimpleDB error.
    ("select * from mydomain where author is null order by title",
     "InvalidSortExpression"),
]

# --- SortingDataSelect: valid, but no result given ------------------------------
# The docs only say this one succeeds. Note the lowercase attribute names: the
# sample domain has 'Author'/'Title', not 'author'/'title', so under
# case-sensitive names 'title is not null' matches nothing and the result on
# the sample data is empty.
DOCUMENTED_ACCEPTED = [
    "select * from mydomain where author is null and title is not null "
    "order by title",
]

# --- MultipleAttributeQueriesSelect: results explained in prose ----------------
# The page explains the intersection row by giving each side's item set.
# These expressions are our reconstruction of those two predicates.
DERIVED_PREDICATE_RESULTS = [
    ("select * from mydomain where Keyword = 'Book'",
     ["0385333498", "0802131786", "1579124585"], False),
    ("select * from mydomain where Keyword = 'Hardcover'",
     ["1579124585"], False),
]

# --- Errata ----------------------------------------------------------------------
DOCUMENTED_ERRATA = [
    # RangeValueQueriesSelect. The expression names the attribute 'keyword'
    # in lowercase, but the sample domain only has 'Keyword'. SimpleDB
    # attribute names are case-sensitive and a predicate never matches an
    # item that lacks the attribute (every() included), so the query as
    # printed returns nothing. The documented result (0385333498, 0802131786)
    # is what 'every(Keyword) in ('Book', 'Paperback')' would return: those
    # two items have only Book/Paperback keywords; 1579124585 also has
    # Hardcover/American, the CD and DVD have other keywords, and B000SF3NGK
    # has no Keyword at all.
    ("select * from mydomain where every(keyword) in ('Book', 'Paperback')",
     ["0385333498", "0802131786"],
     [],
     False,
     "lowercase 'keyword' does not exist in the sample data; the documented "
     "result holds only for every(Keyword)"),
]

# The capitalised form of the erratum query, which gives the documented result.
# It is not printed in the docs; it is listed so tests can cover the intent.
ERRATA_CORRECTED_QUERIES = [
    ("select * from mydomain where every(Keyword) in ('Book', 'Paperback')",
     ["0385333498", "0802131786"], False),
]
