"""What the library list shows: one user's files found by `?q=`, `?type=` and `?sort=`.

The three parameters come from a link anyone may edit, so each has a defined answer to bad
input: an unknown sort or type is ignored (the default order, every type), and a search
longer than MAX_QUERY_LENGTH is refused with a 400 (the page's own field allows no more, so
only an edited link gets there). Every order ends with the primary key, so pages never
overlap, and each has an index (models.File.Meta.indexes; bench/library_list.py measures).
"""

from dataclasses import dataclass

from django.core.exceptions import BadRequest
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Lower

from .models import File, Kind, earlier_copies

#: Longest search accepted, in characters (the search field's maxlength).
MAX_QUERY_LENGTH = 200
#: Words of a search that count; more are ignored (each one is a condition on every row).
MAX_QUERY_WORDS = 8

#: The order each `?sort=` value names: a column, then the primary key the same way.
SORTS = {
    "-date": ("-uploaded_at", "-pk"),
    "date": ("uploaded_at", "pk"),
    "name": (Lower("original_name"), "pk"),
    "-name": (Lower("original_name").desc(), "-pk"),
    "size": ("size", "pk"),
    "-size": ("-size", "-pk"),
}
#: Newest first, as the list always was.
DEFAULT_SORT = "-date"
#: Labels of the orders, for the sort menu.
SORT_LABELS = {
    "-date": "Newest first", "date": "Oldest first", "name": "Name, A to Z",
    "-name": "Name, Z to A", "-size": "Largest first", "size": "Smallest first",
}
#: The direction a column's header link sorts by first (names A to Z, the rest biggest or
#: newest first); clicking it again reverses it.
FIRST_DIRECTION = {"name": "name", "size": "-size", "date": "-date"}


@dataclass(frozen=True)
class Listing:
    """One reading of the list's parameters, already checked."""

    query: str = ""
    kind: str = ""
    sort: str = DEFAULT_SORT

    @classmethod
    def from_params(cls, params):
        """The Listing a request's GET parameters ask for; BadRequest for a search over
        MAX_QUERY_LENGTH characters."""
        query = " ".join(params.get("q", "").split())
        if len(query) > MAX_QUERY_LENGTH:
            raise BadRequest(f"A search can be at most {MAX_QUERY_LENGTH} characters.")
        kind = params.get("type", "")
        sort = params.get("sort", "")
        return cls(query=query, kind=kind if kind in Kind.values else "",
                   sort=sort if sort in SORTS else DEFAULT_SORT)

    def files(self, owner):
        """`owner`'s files that match, in order."""
        found = File.objects.live().filter(owner=owner)
        # Each word in the name or the title, case aside: "tax 2025" finds "2025 Tax.pdf".
        for word in self.query.split()[:MAX_QUERY_WORDS]:
            found = found.filter(Q(original_name__icontains=word) | Q(title__icontains=word))
        if self.kind:
            found = found.filter(kind=self.kind)
        return found.order_by(*SORTS[self.sort])

    @staticmethod
    def mark_copies(page_files):
        """Set `copy_of` on each of a page's files: the public id of the first file of the
        same owner with the same bytes uploaded before it, or None ("already in your
        library").

        One query for the page, a subquery per file on the owner-and-checksum index. Not an
        annotation of the list's own query: PostgreSQL would run the subquery for every row
        an OFFSET skips too (seconds, at page 200 of 10,000 files).
        """
        page_files = list(page_files)
        first = earlier_copies(OuterRef("owner"), OuterRef("sha256"), OuterRef("uploaded_at"),
                               OuterRef("pk")).values("public_id")[:1]
        copies = dict(File.objects.filter(pk__in=[file.pk for file in page_files])
                      .annotate(copy_of=Subquery(first)).values_list("pk", "copy_of"))
        for file in page_files:
            file.copy_of = copies.get(file.pk)
        return page_files

    @property
    def filtered(self):
        """Whether a search or a type narrows the list (so an empty page is "no match")."""
        return bool(self.query or self.kind)

    @property
    def kind_label(self):
        """The chosen type as the page names it ("images"); blank for every type."""
        return Kind(self.kind).label if self.kind else ""

    def column_sorts(self):
        """For each sortable column: (the sort its header links to, its aria-sort value)."""
        columns = {}
        for column, first in FIRST_DIRECTION.items():
            current = self.sort.lstrip("-") == column
            reverse = first[1:] if first.startswith("-") else f"-{first}"
            target = reverse if current and self.sort == first else first
            state = ("descending" if self.sort.startswith("-") else "ascending") if current \
                else "none"
            columns[column] = (target, state)
        return columns
