"""CSV tables published by departments (spreadsheets exported and served over HTTP), header-mapped.

Example (a district health centre's daily sheet, Vietnamese number format)::

    parser: csv_table
    options:
      delimiter: ";"
      decimal: ","                     # "1.234,5" = 1234.5 ("." groups thousands); default "."
      encoding: utf-8-sig              # a byte-order mark is accepted (Excel's "CSV UTF-8")
      entity_column: Mã cơ sở
      entity_map: {"TTYT-LNG": htc-lng}
      time_column: Ngày báo cáo
      time_format: "%d/%m/%Y %H:%M"
      timezone: Asia/Ho_Chi_Minh
      columns:
        Công suất giường (%): {metric: bed_occupancy}
        Ca sốt xuất huyết: {metric: dengue_cases}

The first row is the header; names are compared after trimming spaces. Time parsing is the json_mapping
helper (same formats, same time-zone rule, same `defaults: {time: received}`). Every problem names the
row number as a spreadsheet shows it (the header is row 1). A row with a different number of cells than
the header is rejected whole: an unquoted decimal comma or a truncated file shifts the columns, and a
shifted value must not become a reading.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from feeds.json_mapping import RecordOptions, RecordReader, Scaling, check_catalog, require_time_source, scaled
from ioc.models import Reading
from ioc.transports.contract import Parsed, ParseError, ParserContext, excerpt, register_parser


class ColumnSpec(Scaling):
    metric: str = Field(min_length=1)


class CsvTableOptions(RecordOptions):
    delimiter: str = Field(",", min_length=1, max_length=1)
    encoding: str = "utf-8-sig"
    entity_column: str = Field(min_length=1)
    time_column: str | None = Field(None, validate_default=True)
    columns: dict[str, ColumnSpec] = Field(min_length=1)
    decimal: Literal[".", ","] = "."
    empty: Literal["error", "skip"] = "error"  # an empty value cell: an error, or no reading and no error

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding '{value}'") from None
        return value

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str) -> str:
        if value in ('"', "\r", "\n"):
            raise ValueError("cannot be a quote or a line break")
        return value

    _time_source = field_validator("time_column")(require_time_source)


def number_pattern(decimal: str) -> re.Pattern[str]:
    """Numbers written with `decimal` as the decimal mark and the other of '.' ',' grouping thousands."""
    d, t = re.escape(decimal), re.escape("," if decimal == "." else ".")
    return re.compile(rf"[+-]?(?:(?:\d{{1,3}}(?:{t}\d{{3}})+|\d+)(?:{d}\d*)?|{d}\d+)(?:[eE][+-]?\d+)?")


class CsvTableParser:
    def __init__(self, options: CsvTableOptions, context: ParserContext):
        self.options = options
        self.reader = RecordReader(options, context.clock)
        self.clock = context.clock
        self.number = number_pattern(options.decimal)
        self.thousands = "," if options.decimal == "." else "."

    def to_number(self, cell: str) -> float | None:
        text = cell.strip()
        if not self.number.fullmatch(text):
            return None
        return float(text.replace(self.thousands, "").replace(self.options.decimal, "."))

    def __call__(self, source: str, payload: bytes) -> Parsed:
        out = Parsed()
        opts = self.options
        try:
            text = payload.decode(opts.encoding)
        except UnicodeDecodeError as exc:
            out.errors.append(ParseError(f"not valid {opts.encoding} at byte {exc.start}", excerpt(payload)))
            return out
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=opts.delimiter)
        try:
            header = [name.strip() for name in next(rows, [])]
        except csv.Error as exc:
            out.errors.append(ParseError(f"row 1: unreadable header: {exc}", excerpt(text)))
            return out
        if not any(header):
            out.errors.append(ParseError("empty table: no header row", excerpt(text)))
            return out
        positions: dict[str, int] = {}
        for i, name in enumerate(header):
            positions.setdefault(name, i)
        shown = excerpt(opts.delimiter.join(header), 256)
        for role, column in (("entity", opts.entity_column), ("time", opts.time_column)):
            if column is not None and column not in positions:
                out.errors.append(ParseError(f"{role} column '{column}' is not in the header", shown))
                return out
        columns = []
        for name, spec in opts.columns.items():
            if name in positions:
                columns.append((name, positions[name], spec))
            else:
                out.errors.append(ParseError(f"column '{name}' ({spec.metric}) is not in the header", shown))
        if not columns:
            return out
        received = self.clock()
        data_rows = 0
        try:
            for row in rows:
                if not any(cell.strip() for cell in row):
                    continue
                data_rows += 1
                self._row(rows.line_num, row, len(header), positions, columns, received, out)
        except csv.Error as exc:
            out.errors.append(ParseError(f"row {rows.line_num + 1}: unreadable CSV: {exc}", excerpt(text[-512:])))
        if data_rows == 0:
            out.errors.append(ParseError("empty table: a header and no rows", excerpt(text)))
        return out

    def _row(self, line: int, row: list[str], width: int, positions: dict[str, int],
             columns: list[tuple[str, int, ColumnSpec]], received: datetime, out: Parsed) -> None:
        opts = self.options
        shown = excerpt(opts.delimiter.join(row))
        if len(row) != width:
            out.errors.append(ParseError(f"row {line}: {len(row)} cells, the header has {width}", shown))
            return
        entity = self.reader.entity(row[positions[opts.entity_column]])
        if entity is None:
            out.errors.append(ParseError(f"row {line}: entity column '{opts.entity_column}' is empty", shown))
            return
        raw_time = row[positions[opts.time_column]] if opts.time_column is not None else None
        try:
            ts = self.reader.time(raw_time, received)
        except ValueError as exc:
            out.errors.append(ParseError(f"row {line}: {exc}", shown))
            return
        if ts is None:
            out.errors.append(ParseError(f"row {line}: time column '{opts.time_column}' is empty", shown))
            return
        for name, index, spec in columns:
            cell = row[index]
            if not cell.strip():
                if opts.empty == "error":
                    out.errors.append(ParseError(f"row {line}: {spec.metric}: column '{name}' is empty", shown))
                continue
            number = self.to_number(cell)
            if number is None:
                out.errors.append(ParseError(
                    f"row {line}: {spec.metric}: column '{name}' is not a number with decimal mark "
                    f"'{opts.decimal}': {excerpt(cell.strip(), 64)!r}", shown))
                continue
            out.readings.append(Reading(entity, spec.metric, ts, scaled(number, spec)))


@register_parser("csv_table", CsvTableOptions)
def csv_table_parser(options: CsvTableOptions, context: ParserContext) -> CsvTableParser:
    check_catalog(context, metrics=[(f"columns.{name}.metric", c.metric) for name, c in options.columns.items()],
                  entities=[(f"entity_map.{k}", e) for k, e in options.entity_map.items()])
    return CsvTableParser(options, context)
