"""SQL values to Arrow: which Arrow type each result column gets, and the conversion.

A column's Arrow type comes from, in order:

1. the mapping's ``types`` override (an Arrow cast of the column, ``safe``: a value
   that would change raises);
2. the declared SQLAlchemy type, when the query is a ``select()`` or typed ``text()``;
3. the PostgreSQL type of the result column (its OID and ``numeric(p, s)`` modifier);
4. otherwise (SQLite, other dialects), the values of the first batch of rows.

PostgreSQL mapping (the same on the ADBC path, which is normalized to it):

======================  ==========================================================
``numeric(p, s)``       ``decimal128(p, s)`` (``decimal256`` above 38 digits); a
                        value that does not fit (``NaN``) raises ``DataError``
``numeric``             ``string``: an unconstrained numeric has no fixed scale,
                        so its exact text is kept (cast in SQL to get a decimal)
``timestamptz``         ``timestamp[us, tz=UTC]`` (the instant; the session zone
                        does not matter)
``timestamp``           ``timestamp[us]``
``json``, ``jsonb``     the ``arrow.json`` extension type over the server's exact
                        JSON text (Parquet's JSON logical type; raw JSON in NDJSON)
``interval``            ``month_day_nano_interval`` (months, days and time kept
                        apart, as PostgreSQL keeps them)
``uuid``                the ``arrow.uuid`` extension type
``T[]``                 ``list<T>`` (one-dimensional; a deeper array raises)
``int2/4/8``, ``float4/8``, ``bool``, ``text``, ``bytea``, ``date``, ``time``:
                        ``int16/32/64``, ``float/double``, ``bool``, ``string``,
                        ``binary``, ``date32``, ``time64[us]``
anything else           ``string``: the value's text form (``inet``, enums, ``timetz``,
                        ``money`` …)
======================  ==========================================================

SQL ``NULL`` is an Arrow null in every type. A value that cannot take its column's
type (SQLite's dynamic typing: text in an integer column; a column that was NULL
throughout the first batch and then holds values) raises
:class:`~omnistorage.errors.DataError` naming the column and the fix: a ``types``
override or a ``CAST`` in the SQL.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import types as satypes

from omnistorage.errors import ConfigurationError, DataError

__all__ = [
    "PG_TEXT_TYPES",
    "ColumnPlan",
    "RowConverter",
    "normalize_table_types",
    "parse_arrow_type",
]

JSON = pa.json_()
UUID = pa.uuid()

# PostgreSQL type OIDs loaded as their exact text on the SQLAlchemy path (psycopg
# would parse JSON into floats, fold interval months into days, and so on).
PG_TEXT_TYPES = {
    "json": 114,
    "jsonb": 3802,
    "numeric": 1700,
    "interval": 1186,
    "timetz": 1266,
    "money": 790,
}

_PG_SCALARS: dict[int, pa.DataType] = {
    16: pa.bool_(),
    17: pa.binary(),
    18: pa.string(),
    19: pa.string(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    25: pa.string(),
    114: JSON,
    700: pa.float32(),
    701: pa.float64(),
    1042: pa.string(),
    1043: pa.string(),
    1082: pa.date32(),
    1083: pa.time64("us"),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
    1186: pa.month_day_nano_interval(),
    2950: UUID,
    3802: JSON,
}
# Array OID -> element OID (one-dimensional arrays of the scalars above).
_PG_ARRAYS = {
    1000: 16,
    1001: 17,
    1002: 18,
    1005: 21,
    1007: 23,
    1009: 25,
    1014: 1042,
    1015: 1043,
    1016: 20,
    1021: 700,
    1022: 701,
    1115: 1114,
    1182: 1082,
    1183: 1083,
    1185: 1184,
    1231: 1700,
    199: 114,
    3807: 3802,
    2951: 2950,
}
_ARRAY_ELEMENT_AS_TEXT = {1700, 114, 3802, 2950}  # numeric[], json[], uuid[]: list<string>

_ISO_INTERVAL = re.compile(
    r"P(?:(?P<y>-?\d+)Y)?(?:(?P<mo>-?\d+)M)?(?:(?P<w>-?\d+)W)?(?:(?P<d>-?\d+)D)?"
    r"(?:T(?:(?P<h>-?\d+)H)?(?:(?P<mi>-?\d+)M)?(?:(?P<s>-?\d+(?:\.\d+)?)S)?)?"
)

Prepare = Callable[[Sequence[Any]], Sequence[Any]]


# ---------------------------------------------------------------- type names


def parse_arrow_type(spec: Any, *, where: str = "types") -> pa.DataType:
    """An Arrow type from a ``pyarrow.DataType`` or its name.

    Names: what ``pyarrow.type_for_alias`` knows (``int64``, ``string``, ``float64``,
    ``date32``, ``timestamp[us]`` …), plus ``timestamp[us, tz=UTC]``,
    ``decimal128(18, 2)``, ``decimal256(40, 10)``, ``list<T>``, ``json`` and ``uuid``.
    """
    if isinstance(spec, pa.DataType):
        return spec
    if not isinstance(spec, str):
        raise ConfigurationError(f"{where}: an Arrow type name or pyarrow type, got {spec!r}")
    name = spec.strip()
    lowered = name.lower()
    if lowered == "json":
        return JSON
    if lowered == "uuid":
        return UUID
    decimal = re.fullmatch(r"decimal(128|256)\(\s*(\d+)\s*,\s*(-?\d+)\s*\)", lowered)
    if decimal:
        factory = pa.decimal128 if decimal.group(1) == "128" else pa.decimal256
        try:
            return factory(int(decimal.group(2)), int(decimal.group(3)))
        except (ValueError, pa.ArrowInvalid) as error:
            raise ConfigurationError(f"{where}: {name!r}: {error}") from None
    stamp = re.fullmatch(r"timestamp\[(s|ms|us|ns)\s*,\s*tz=([^\]]+)\]", name)
    if stamp:
        return pa.timestamp(stamp.group(1), tz=stamp.group(2).strip())
    listed = re.fullmatch(r"list<(.+)>", name)
    if listed:
        return pa.list_(parse_arrow_type(listed.group(1), where=where))
    try:
        return pa.type_for_alias(name)
    except (ValueError, KeyError):
        raise ConfigurationError(f"{where}: unknown Arrow type {name!r}") from None


# ---------------------------------------------------------------- column plans


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """How one result column becomes an Arrow array."""

    name: str
    type: pa.DataType | None
    """``None``: inferred from the first batch."""
    prepare: Prepare | None = None
    """Turns the driver's values into values ``pyarrow.array`` takes for ``type``."""
    override: pa.DataType | None = None
    from_text: bool = False
    """The values are exact text (PostgreSQL ``numeric``): cast, never rounded."""


def plan_columns(
    names: Sequence[str],
    *,
    declared: Sequence[Any] | None,
    description: Sequence[Any] | None,
    postgres: bool,
    overrides: Mapping[str, pa.DataType],
) -> list[ColumnPlan]:
    """The plan for each column (see the module docstring for the order of sources)."""
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise DataError(
            f"types names column(s) {', '.join(map(repr, unknown))} that the query does "
            f"not return (it returns {', '.join(map(repr, names))})"
        )
    plans = []
    for index, name in enumerate(names):
        plan = None
        if declared is not None and index < len(declared):
            plan = _plan_for_sqla(name, declared[index])
        if plan is None and postgres and description is not None:
            plan = _plan_for_pg(name, description[index])
        if plan is None:
            plan = ColumnPlan(name, None)
        override = overrides.get(name)
        if override is not None:
            plan = ColumnPlan(name, plan.type, plan.prepare, override, plan.from_text)
        plans.append(plan)
    return plans


def _plan_for_pg(name: str, column: Any) -> ColumnPlan | None:
    oid = getattr(column, "type_code", None)
    if not isinstance(oid, int):
        return None
    if oid == 1700:
        precision, scale = getattr(column, "precision", None), getattr(column, "scale", None)
        if precision:
            factory = pa.decimal128 if precision <= 38 else pa.decimal256
            return ColumnPlan(name, factory(precision, scale or 0), from_text=True)
        return ColumnPlan(name, pa.string())
    if oid in (114, 3802):
        return ColumnPlan(name, JSON)
    if oid == 1186:
        return ColumnPlan(name, pa.month_day_nano_interval(), _iso_intervals)
    if oid == 2950:
        return ColumnPlan(name, UUID, _uuid_bytes)
    scalar = _PG_SCALARS.get(oid)
    if scalar is not None:
        return ColumnPlan(name, scalar)
    element = _PG_ARRAYS.get(oid)
    if element is not None:
        if element in _ARRAY_ELEMENT_AS_TEXT:
            return ColumnPlan(name, pa.list_(pa.string()), _nested_text)
        return ColumnPlan(name, pa.list_(_PG_SCALARS[element]))
    return ColumnPlan(name, pa.string(), _as_text)


def _plan_for_sqla(name: str, declared: Any) -> ColumnPlan | None:
    kind = declared if isinstance(declared, satypes.TypeEngine) else None
    if kind is None or isinstance(kind, satypes.NullType):
        return None
    arrow = _sqla_arrow(kind)
    if arrow is None:
        return None
    if arrow == JSON:
        return ColumnPlan(name, JSON, _json_objects)
    if arrow == UUID:
        return ColumnPlan(name, UUID, _uuid_bytes)
    return ColumnPlan(name, arrow)


def _sqla_arrow(kind: satypes.TypeEngine[Any]) -> pa.DataType | None:
    if isinstance(kind, satypes.ARRAY):
        item = _sqla_arrow(kind.item_type)
        return pa.list_(item) if item is not None and item not in (JSON, UUID) else None
    if isinstance(kind, satypes.JSON):
        return JSON
    if isinstance(kind, satypes.Uuid):
        return UUID if kind.as_uuid else pa.string()
    if isinstance(kind, satypes.Boolean):
        return pa.bool_()
    if isinstance(kind, satypes.SmallInteger):
        return pa.int16()
    if isinstance(kind, satypes.Integer):
        return pa.int64()
    if isinstance(kind, satypes.Float):
        return pa.float64()
    if isinstance(kind, satypes.Numeric):
        if kind.asdecimal and kind.precision:
            factory = pa.decimal128 if kind.precision <= 38 else pa.decimal256
            return factory(kind.precision, kind.scale or 0)
        return pa.float64() if not kind.asdecimal else None
    if isinstance(kind, satypes.DateTime):
        return pa.timestamp("us", tz="UTC" if kind.timezone else None)
    if isinstance(kind, satypes.Date):
        return pa.date32()
    if isinstance(kind, satypes.Time):
        return pa.time64("us")
    if isinstance(kind, satypes.Interval):
        return pa.duration("us")
    if isinstance(kind, satypes.LargeBinary | satypes._Binary):
        return pa.binary()
    if isinstance(kind, satypes.String):
        return pa.string()
    return None


# ---------------------------------------------------------------- value preparation


def _as_text(values: Sequence[Any]) -> list[Any]:
    return [v if v is None or isinstance(v, str) else str(v) for v in values]


def _nested_text(values: Sequence[Any]) -> list[Any]:
    return [v if v is None else _as_text(v) if isinstance(v, list) else str(v) for v in values]


def _uuid_bytes(values: Sequence[Any]) -> list[Any]:
    return [
        None if v is None else v.bytes if isinstance(v, uuid.UUID) else uuid.UUID(str(v)).bytes
        for v in values
    ]


def _json_objects(values: Sequence[Any]) -> list[Any]:
    """Values SQLAlchemy's JSON type decoded into Python objects, back to JSON text."""
    out: list[str | None] = []
    for value in values:
        if value is None:
            out.append(None)
        else:
            try:
                out.append(orjson.dumps(value).decode())
            except orjson.JSONEncodeError as error:
                raise DataError(f"a JSON value cannot be written back as JSON: {error}") from None
    return out


def _iso_intervals(values: Sequence[Any]) -> list[Any]:
    return [
        None
        if v is None
        else (0, v.days, (v.seconds * 1_000_000 + v.microseconds) * 1000)
        if isinstance(v, timedelta)
        else _iso_interval(v)
        for v in values
    ]


def _iso_interval(text: str) -> tuple[int, int, int]:
    """PostgreSQL's ``iso_8601`` interval text → (months, days, nanoseconds)."""
    found = _ISO_INTERVAL.fullmatch(text)
    if found is None or text == "P":
        raise DataError(f"unexpected interval text {text!r} (IntervalStyle iso_8601 expected)")
    part = {k: v for k, v in found.groupdict().items() if v is not None}
    months = int(part.get("y", 0)) * 12 + int(part.get("mo", 0))
    days = int(part.get("w", 0)) * 7 + int(part.get("d", 0))
    seconds = (int(part.get("h", 0)) * 60 + int(part.get("mi", 0))) * 60
    nanos = seconds * 1_000_000_000 + int(Decimal(part.get("s", "0")) * 1_000_000_000)
    return months, days, nanos


# ---------------------------------------------------------------- rows to batches


class RowConverter:
    """Turns batches of row tuples into Arrow record batches of one fixed schema.

    The schema is fixed by :meth:`start` from the first batch (types that no source
    declared are inferred from its values); later batches must fit it. A column with
    a ``types`` override is converted as it comes and then cast to the override.
    """

    def __init__(self, plans: Sequence[ColumnPlan]) -> None:
        self._plans = list(plans)
        self.schema: pa.Schema | None = None
        self._struct: pa.DataType | None = None

    def start(self, rows: Sequence[Sequence[Any]]) -> pa.RecordBatch:
        arrays = []
        plans = []
        for plan, values in self._columns(rows):
            natural = self._natural(plan, values)
            if plan.type is None and plan.override is None:
                plan = ColumnPlan(plan.name, natural.type, plan.prepare)
            plans.append(plan)
            arrays.append(self._final(plan, natural))
        self._plans = plans
        self.schema = pa.schema(
            [pa.field(p.name, a.type) for p, a in zip(plans, arrays, strict=True)]
        )
        plain = all(
            p.prepare is None
            and not p.from_text
            and p.override is None
            and p.type not in (JSON, UUID)
            for p in plans
        )
        # Plain columns convert row tuples in one call (a struct array), with no Python
        # transposition; anything else goes column by column.
        self._struct = (
            pa.struct([pa.field(f"c{i}", f.type) for i, f in enumerate(self.schema)])
            if plain and plans
            else None
        )
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def convert(self, rows: Sequence[Sequence[Any]]) -> pa.RecordBatch:
        assert self.schema is not None, "start() first"
        if self._struct is not None:
            try:
                struct = pa.array(rows, type=self._struct)
            except _CONVERSION_ERRORS:
                pass  # converted column by column below, for an error naming the column
            else:
                return pa.RecordBatch.from_arrays(struct.flatten(), schema=self.schema)
        arrays = [
            self._final(plan, self._natural(plan, values)) for plan, values in self._columns(rows)
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _columns(self, rows: Sequence[Sequence[Any]]) -> Iterable[tuple[ColumnPlan, Sequence[Any]]]:
        if not rows:
            return [(plan, ()) for plan in self._plans]
        return zip(self._plans, zip(*rows, strict=True), strict=True)

    def _natural(self, plan: ColumnPlan, values: Sequence[Any]) -> pa.Array:
        """The column in its planned (or inferred) type, before any override."""
        try:
            if plan.prepare is not None:
                values = plan.prepare(values)
            if plan.from_text and plan.type is not None:
                return pa.array(_as_text(values), pa.string()).cast(plan.type, safe=True)
            if plan.type == JSON or (plan.type is None and plan.override == JSON):
                return pa.ExtensionArray.from_storage(
                    JSON, pa.array(_json_text(values), pa.string())
                )
            if plan.type == UUID:
                return pa.ExtensionArray.from_storage(UUID, pa.array(values, pa.binary(16)))
            return pa.array(values, plan.type)
        except DataError as error:
            raise DataError(f"column {plan.name!r}: {error}") from None
        except _CONVERSION_ERRORS as error:
            raise _unfit(plan, plan.type, error) from None

    def _final(self, plan: ColumnPlan, array: pa.Array) -> pa.Array:
        if plan.override is None or array.type == plan.override:
            return array
        try:
            return _cast(array, plan.override)
        except _CONVERSION_ERRORS as error:
            raise _unfit(plan, plan.override, error) from None


_CONVERSION_ERRORS = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    pa.ArrowNotImplementedError,
    OverflowError,
    ValueError,
    TypeError,
)


def _unfit(plan: ColumnPlan, expected: pa.DataType | None, error: BaseException) -> DataError:
    what = f"as {expected}" if expected is not None else "in one Arrow type"
    return DataError(
        f"column {plan.name!r}: a value cannot be stored {what} ({error}); declare the "
        "column's type with the mapping's 'types' or CAST it in the SQL"
    )


def _json_text(values: Sequence[Any]) -> list[Any]:
    """JSON text as it is; Python objects (SQLAlchemy's JSON type) encoded."""
    if all(v is None or isinstance(v, str) for v in values):
        return list(values)
    return [v if v is None or isinstance(v, str) else _json_objects([v])[0] for v in values]


def _cast(array: pa.Array, target: pa.DataType) -> pa.Array:
    """Arrow's safe cast, which also refuses float -> decimal casts that drop digits (Arrow
    truncates those silently)."""
    if target == JSON and pa.types.is_string(array.type):
        return pa.ExtensionArray.from_storage(JSON, array)
    result = array.cast(target, safe=True)
    if pa.types.is_floating(array.type) and pa.types.is_decimal(target):
        back = result.cast(array.type)
        if pc.all(pc.equal(back, array)).as_py() not in (True, None):
            index = pc.index(pc.equal(back, array), False).as_py()
            raise ValueError(f"{array[index].as_py()!r} does not fit {target} exactly")
    return result


def normalize_table_types(
    batch: pa.RecordBatch, overrides: Mapping[str, pa.DataType]
) -> pa.RecordBatch:
    """An ADBC batch in the mapping above: PostgreSQL ``numeric(p, s)`` (an opaque string
    with a type modifier) becomes a decimal, other opaque types their text, field metadata
    goes; then the ``types`` overrides are applied."""
    arrays = []
    fields = []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        array = _normalize_adbc(field, column)
        override = overrides.get(field.name)
        if override is not None and array.type != override:
            try:
                array = _cast(array, override)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
                raise DataError(
                    f"column {field.name!r}: a value cannot be stored as {override} ({error})"
                ) from None
        arrays.append(array)
        fields.append(pa.field(field.name, array.type))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _normalize_adbc(field: pa.Field, column: pa.Array) -> pa.Array:
    kind = field.type
    if isinstance(kind, pa.OpaqueType):
        storage = column.storage if isinstance(column, pa.ExtensionArray) else column
        meta = field.metadata or {}
        typmod = int(meta.get(b"POSTGRESQL:typmod", b"-1"))
        if kind.type_name == "numeric" and typmod >= 4:
            precision, scale = (typmod - 4) >> 16, (typmod - 4) & 0xFFFF
            factory = pa.decimal128 if precision <= 38 else pa.decimal256
            try:
                return storage.cast(factory(precision, scale), safe=True)
            except pa.ArrowInvalid as error:
                raise DataError(
                    f"column {field.name!r}: a value does not fit numeric({precision}, "
                    f"{scale}) as a decimal ({error})"
                ) from None
        if kind.type_name == "numeric":  # ADBC spells specials its own way; PostgreSQL's text
            for theirs, ours in (("nan", "NaN"), ("inf", "Infinity"), ("-inf", "-Infinity")):
                storage = pc.if_else(pc.equal(storage, theirs), ours, storage)
            return storage
        if pa.types.is_string(storage.type):
            return storage
        return pa.array([None if v is None else str(v) for v in storage.to_pylist()], pa.string())
    if pa.types.is_list(kind) and isinstance(kind.value_type, pa.OpaqueType):
        return pa.array(_nested_text(column.to_pylist()), pa.list_(pa.string()))
    if pa.types.is_list(kind) and kind.value_field.metadata:
        return column.cast(pa.list_(kind.value_field.remove_metadata()))
    return column
