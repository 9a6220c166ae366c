"""The bulk-enroll engine: enroll (undo, pause) every row of a CSV once, resumably.

No CLI dependencies (typer, rich): the `sequence-clients bulk-*` commands, benchmarks and
services drive it alike. The layers, each a module:

- `rows`: read a campaign CSV the way people have it, a `Row` or a `BadRow` per record;
- `journal`: the SQLite journal that makes a run resumable without enrolling anyone twice;
- `engine`: the claim / send / record loop (`run_rows`) behind `run_bulk_enroll`,
  `run_bulk_undo` and `run_bulk_pause`, and its circuit breaker;
- `vendors`: the Unify and Boast adapters (`unify_enroller`, `boast_enroller`) on one pooled
  httpx client;
- `report`: the report and failed-rows CSVs, derived from the file and the journal alone.

The engine returns data (reports, counts, outcomes); printing them is the caller's job.
"""

from __future__ import annotations

from .engine import (
    ON_CONFLICT_CHOICES,
    OUTCOMES,
    EnrollFn,
    OnConflict,
    PauseFn,
    ProgressFn,
    Report,
    Result,
    RunStats,
    UndoFn,
    run_bulk_enroll,
    run_bulk_pause,
    run_bulk_undo,
    run_rows,
)
from .journal import Campaign, Journal, JournalBusy, JournalLock, ReportLine
from .report import ReportWriteError, Summary, default_paths, write_reports
from .rows import BOAST_ROWS, UNIFY_ROWS, BadRow, CsvFile, CsvInputError, Row, open_csv
from .vendors import (
    BoastKwargs,
    Enroller,
    PreflightError,
    WriteRefusedError,
    boast_enroller,
    pooled_http,
    unify_enroller,
)

__all__ = [
    "BOAST_ROWS",
    "ON_CONFLICT_CHOICES",
    "OUTCOMES",
    "UNIFY_ROWS",
    "BadRow",
    "BoastKwargs",
    "Campaign",
    "CsvFile",
    "CsvInputError",
    "EnrollFn",
    "Enroller",
    "Journal",
    "JournalBusy",
    "JournalLock",
    "OnConflict",
    "PauseFn",
    "PreflightError",
    "ProgressFn",
    "Report",
    "ReportLine",
    "ReportWriteError",
    "Result",
    "Row",
    "RunStats",
    "Summary",
    "UndoFn",
    "WriteRefusedError",
    "boast_enroller",
    "default_paths",
    "open_csv",
    "pooled_http",
    "run_bulk_enroll",
    "run_bulk_pause",
    "run_bulk_undo",
    "run_rows",
    "unify_enroller",
    "write_reports",
]
