from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

# Below this many rows an exact COUNT(*) is cheap and worth it; above it a broad search would spend
# more on counting than on the page itself.
EXACT_BELOW = 1_000


class EstimatedCountPaginator(Paginator):
    """Counts large result sets with PostgreSQL's planner estimate instead of COUNT(*).

    On a million leads an exact count costs more than the rest of the page together; a
    sales person needs "about 480,000", not the last digit. A result that fits on one page is
    counted exactly, however wrong the planner's estimate for it (a count that stops past one
    page, in the page's order, costs what the page does), and so is a result the planner puts
    under EXACT_BELOW rows, by a count that stops there. The estimate of a broader result can be
    off (after a big delete, until the statistics catch up); at worst its last page links lead
    to an empty page, and narrowing the search makes the count exact again.
    """

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):  # the admin always pages a queryset; anything else counts itself
            return super().count
        one_page_and_more = queryset[: self.per_page + 1].count()
        if one_page_and_more <= self.per_page:
            return one_page_and_more
        connection = connections[queryset.db]
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        if estimate >= EXACT_BELOW:
            return estimate
        return queryset.order_by()[:EXACT_BELOW].count()
