"""What a list's query string may ask of the database, and who has read how much of it.

A list takes from its query string only what its own filters, search, ordering and paging use: any other
lookup (``?payload__icontains=``, ``?name__regex=(``, a lookup across a relation) is left out of the query,
with a message, so a hand-made URL can neither scan every lead nor give a 500. Search is capped in terms and
their length. What is left still runs under the admin's statement timeout (raamcrm.statement_timeout).

Paging through many leads is reading them in bulk: past LEAD_BULK_READ_AUDIT_ROWS rows in an hour, a user's
reading is put on file like an export (kind "paged").
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import smart_split

from leads.ops.privacy import export_record_finish, export_record_start
from raamcrm import limits
from raamcrm.rates import Rate

BULK_READ_KIND = "paged"
_SHOWN_NAME_CHARS = 40


class BudgetChangeList(ChangeList):
    """A ChangeList that drops the lookups no filter of its list consumes, and trims long searches."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.ignored_lookups: list[str] = []
        self._told = False
        super().__init__(*args, **kwargs)

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet[Any]:
        self.query = trimmed_search(request, self.query)
        return super().get_queryset(request, exclude_parameters)

    def get_filters(self, request: HttpRequest) -> Any:
        # Lookups the ModelAdmin refuses (Django's rule: across a relation, unless a list filter's) would be a
        # bare 400; they are ignored instead, like the rest below.
        self._ignore(
            key
            for key, values in self.get_filters_params().items()
            if not all(self.model_admin.lookup_allowed(key, value, request) for value in values)
        )
        result = super().get_filters(request)
        # What Django's filters did not consume is a raw lookup from the URL, applied as it came: drop it,
        # and build the filters again without it, so nothing of it (a DISTINCT, a link) survives.
        remaining = result[2]
        leftovers = [key for key in remaining if key not in self._date_hierarchy_bounds()]
        if leftovers:
            self._ignore(leftovers)
            result = super().get_filters(request)
        self._tell(request)
        return result

    def _date_hierarchy_bounds(self) -> set[str]:
        # Django turns ?<field>__year=... into these two itself; only then are they the list's own.
        hierarchy = self.date_hierarchy
        if not hierarchy or f"{hierarchy}__year" not in self.filter_params:
            return set()
        return {f"{hierarchy}__gte", f"{hierarchy}__lt"}

    def _ignore(self, keys: Any) -> None:
        for key in list(keys):
            self.params.pop(key, None)
            self.filter_params.pop(key, None)
            if key not in self.ignored_lookups:
                self.ignored_lookups.append(key)

    def _tell(self, request: HttpRequest) -> None:
        if not self.ignored_lookups or self._told or not _is_list_page(request):
            return
        self._told = True
        names = ", ".join(key[:_SHOWN_NAME_CHARS] for key in self.ignored_lookups[:3])
        more = f" and {len(self.ignored_lookups) - 3} more" if len(self.ignored_lookups) > 3 else ""
        messages.warning(
            request,
            f"This list has no filter {names}{more}; it was ignored. Use the list's filters or its search.",
            fail_silently=True,
        )


def ignored_lookups(changelist: ChangeList) -> list[str]:
    """The lookups ``changelist`` left out of its query (none for a list that is not a BudgetChangeList)."""
    return list(getattr(changelist, "ignored_lookups", []))


def _is_list_page(request: HttpRequest) -> bool:
    """Messages go on the list page, not on a CSV download that follows the same filters."""
    match = request.resolver_match
    return match is not None and (match.url_name or "").endswith("_changelist")


def trimmed_search(request: HttpRequest, query: str) -> str:
    """``query`` cut to ADMIN_SEARCH_MAX_TERMS terms of at most ADMIN_SEARCH_MAX_TERM_CHARS characters each.

    Each term is one more ILIKE on every search field of every row; a search of 1,900 one-letter terms took
    seconds. Terms are split as the admin's search splits them (quoted phrases stay one term).
    """
    max_terms, max_chars = settings.ADMIN_SEARCH_MAX_TERMS, settings.ADMIN_SEARCH_MAX_TERM_CHARS
    terms = list(smart_split(query))
    kept = [_cut(term, max_chars) for term in terms[:max_terms]]
    if kept == terms:
        return query
    if _is_list_page(request):
        messages.warning(
            request,
            f"The search was cut to its first {max_terms} words of up to {max_chars} characters each.",
            fail_silently=True,
        )
    return " ".join(kept)


def _cut(term: str, max_chars: int) -> str:
    if len(term) <= max_chars:
        return term
    if len(term) >= 2 and term[0] in "\"'" and term[-1] == term[0]:  # a quoted phrase stays quoted
        return term[0] + term[1:-1][:max_chars] + term[0]
    return term[:max_chars]


def bulk_read_count(request: HttpRequest, *, rows: int) -> None:
    """Count ``rows`` lead rows shown to the user in this hour (in the shared cache, raamcrm.limits), and put
    the reading on file as an export each time the hour's count passes another LEAD_BULK_READ_AUDIT_ROWS.

    A salesperson paging the list collected 947 names and phones in seconds with no export on file. The
    cache's increment is atomic, so of two pages shown at once exactly one passes each mark.
    """
    user = request.user
    threshold = settings.LEAD_BULK_READ_AUDIT_ROWS
    if not rows or not threshold or not user.is_authenticated:
        return
    usage = limits.hit(group="admin-rows-read", value=str(user.pk), rate=Rate(threshold, 3600), amount=rows)
    if usage is None:  # limits off, or the cache down: it fails open, as every counter does
        return
    if _marks_passed(usage.count, threshold) > _marks_passed(usage.count - rows, threshold):
        record = export_record_start(user=user, kind=BULK_READ_KIND, query=request.GET.urlencode())
        # The rows of this hour so far; no header line, and nothing left to stream.
        export_record_finish(record, usage.count, True, header_lines=0)


def _marks_passed(count: int, threshold: int) -> int:
    """How many multiples of ``threshold`` ``count`` is past: 0 up to it, 1 up to twice it, ..."""
    return max(count - 1, 0) // threshold
