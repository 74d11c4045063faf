"""Every index costs each insert its upkeep, and a new lead inserts into several tables: none may be redundant."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db

# Each non-partial B-tree index on a table, with its columns in order, and whether it is plain: not unique,
# no expressions, default operator classes (Django's varchar_pattern_ops twin of a unique column serves
# LIKE, which the unique index cannot).
BTREE_INDEXES = """
    SELECT index_class.relname, array_agg(attribute.attname ORDER BY key.position),
        NOT index.indisunique AND index.indexprs IS NULL AND NOT EXISTS (
            SELECT FROM unnest(index.indclass) AS class(oid) JOIN pg_opclass ON pg_opclass.oid = class.oid
            WHERE NOT pg_opclass.opcdefault
        )
    FROM pg_index AS index
    JOIN pg_class AS index_class ON index_class.oid = index.indexrelid
    JOIN pg_am AS method ON method.oid = index_class.relam
    CROSS JOIN LATERAL unnest(index.indkey) WITH ORDINALITY AS key(attnum, position)
    JOIN pg_attribute AS attribute ON attribute.attrelid = index.indrelid AND attribute.attnum = key.attnum
    WHERE index.indrelid = %s::regclass AND method.amname = 'btree' AND index.indpred IS NULL
    GROUP BY index_class.relname, index.indisunique, index.indexprs, index.indclass
"""


@pytest.mark.parametrize("model", list(apps.get_app_config("leads").get_models()), ids=lambda model: model.__name__)
def test_no_plain_index_is_the_leading_columns_of_another(model):
    with connection.cursor() as cursor:
        cursor.execute(BTREE_INDEXES, [model._meta.db_table])
        indexes = cursor.fetchall()

    redundant = {
        name: other
        for name, columns, plain in indexes
        if plain
        for other, other_columns, _ in indexes
        if other != name and other_columns[: len(columns)] == columns
    }

    assert redundant == {}  # each key: an index whose columns lead the other index, which serves its lookups
