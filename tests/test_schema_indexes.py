"""Every index costs each insert its upkeep, and a new lead inserts into several tables: none may be redundant."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db

# Each plain B-tree index on a table (not unique, not partial, no expressions, default operator classes:
# Django's varchar_pattern_ops twin of a unique column serves LIKE, which the other cannot), with its columns.
PLAIN_INDEXES = """
    SELECT index_class.relname, array_agg(attribute.attname ORDER BY key.position)
    FROM pg_index AS index
    JOIN pg_class AS index_class ON index_class.oid = index.indexrelid
    JOIN pg_am AS method ON method.oid = index_class.relam
    CROSS JOIN LATERAL unnest(index.indkey) WITH ORDINALITY AS key(attnum, position)
    JOIN pg_attribute AS attribute ON attribute.attrelid = index.indrelid AND attribute.attnum = key.attnum
    WHERE index.indrelid = %s::regclass AND method.amname = 'btree'
        AND NOT index.indisunique AND index.indpred IS NULL AND index.indexprs IS NULL
        AND NOT EXISTS (
            SELECT FROM unnest(index.indclass) AS class(oid) JOIN pg_opclass ON pg_opclass.oid = class.oid
            WHERE NOT pg_opclass.opcdefault
        )
    GROUP BY index_class.relname
"""
ALL_INDEXES = """
    SELECT index_class.relname, array_agg(attribute.attname ORDER BY key.position)
    FROM pg_index AS index
    JOIN pg_class AS index_class ON index_class.oid = index.indexrelid
    JOIN pg_am AS method ON method.oid = index_class.relam
    CROSS JOIN LATERAL unnest(index.indkey) WITH ORDINALITY AS key(attnum, position)
    JOIN pg_attribute AS attribute ON attribute.attrelid = index.indrelid AND attribute.attnum = key.attnum
    WHERE index.indrelid = %s::regclass AND method.amname = 'btree' AND index.indpred IS NULL
    GROUP BY index_class.relname
"""


@pytest.mark.parametrize("model", list(apps.get_app_config("leads").get_models()), ids=lambda model: model.__name__)
def test_no_plain_index_is_the_leading_columns_of_another(model):
    with connection.cursor() as cursor:
        cursor.execute(PLAIN_INDEXES, [model._meta.db_table])
        plain = dict(cursor.fetchall())
        cursor.execute(ALL_INDEXES, [model._meta.db_table])
        every = dict(cursor.fetchall())

    redundant = {
        name: other
        for name, columns in plain.items()
        for other, other_columns in every.items()
        if other != name and other_columns[: len(columns)] == columns
    }

    assert redundant == {}  # each key: an index whose columns lead the other index, which serves its lookups
