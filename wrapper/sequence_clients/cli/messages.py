"""Every sentence the campaign commands (bulk-enroll, bulk-undo, bulk-pause, …) print about a
run, in one table: the wording is reviewed here, and a golden test holds it."""

from __future__ import annotations

from typing import Final


def count(n: int, singular: str, plural: str | None = None) -> str:
    """'1 row', '2 rows', '1,204 enrollments': counts that read right in the singular."""
    word = singular if n == 1 else (plural or singular + "s")
    return f"{n:,} {word}"


# str.format templates; `{rows}` and similar take `count(...)` results.
MESSAGES: Final[dict[str, str]] = {
    # One campaign, one journal.
    "campaign_mismatch": (
        "{journal} belongs to another campaign: {differences}. Nothing was sent. Re-run with "
        "the campaign's settings to resume it, or pass --new-campaign to set that journal "
        "aside and start a new campaign."
    ),
    "campaign_set_aside": "new campaign: the earlier campaign's journal is now {path}",
    "no_mailbox": (
        "preflight: {rows} without a mailbox (first: line {lines}); give --mailbox or fill "
        "the {column} column. Nothing was sent."
    ),
    # Dry run.
    "dry_run_heading": "Dry run: {rows} read from {file}; nothing will be sent",
    "dry_run_would_send": "{rows} would be sent to {vendor} sequence {sequence}",
    "dry_run_done_earlier": "{rows} already finished by this campaign's journal (skipped)",
    "dry_run_duplicates": "{rows} with the id of an earlier row (skipped)",
    "dry_run_invalid": "{rows} invalid (not sent; listed below)",
    "dry_run_problems": "Invalid rows ({shown}; a real run lists them all in its report)",
    "problems": "Problems ({shown}; all in the report)",
    "dry_run_end": "No request that changes anything was sent (dry run).",
    # Files.
    "report_not_written": (
        "could not write {path}: {reason}. The journal {journal} keeps every row's state; "
        "`sequence-clients bulk-report` writes the files once there is room."
    ),
    "journal_not_written": (
        "could not write the journal {path}: {reason}. Rows caught mid-request stay marked "
        "in it; free some space and re-run the same command to resume (nobody is enrolled "
        "twice)."
    ),
    "files_written": "Report: {report}   Journal: {journal}",
    "not_enrolled": (
        "{rows} not enrolled; {failed_rows} in {failed} with the file's columns. Re-running "
        "the same command retries them (enrolled rows are skipped); or fix that file and run "
        "it as a new campaign."
    ),
    "unsent": (
        "{rows} not sent or caught mid-request ({in_flight} mid-request, {not_attempted} "
        "never attempted): re-running the same command sends them, without enrolling anyone "
        "twice."
    ),
    # Undo, pause.
    "undo_heading": "Bulk undo: {rows} of this campaign",
    "undo_dry_run": (
        "Dry run: {rows} of {vendor} sequence {sequence} would be undone; {kept} of the "
        "journal stay untouched (enrolled beforehand, skipped, failed or already undone). "
        "Nothing was sent."
    ),
    "undo_nothing": "nothing to undo: the journal {journal} holds no enrollment of this campaign",
    "pause_heading": "Bulk {action}: {rows} of this campaign",
    "pause_unsupported": "{vendor} has no pausing of single enrollments; nothing was sent",
    "no_journal": "no bulk-enroll journal at {journal}; give --journal",
    "stopped": (
        "stopped: {reason}. Every row's state is in the journal; re-run the same command to resume."
    ),
    "interrupted": (
        "interrupted; the report covers every row (rows caught mid-request are marked). "
        "Re-run the same command to resume."
    ),
    "interrupted_early": "interrupted before the first row; nothing was sent.",
    "crashed": (
        "{command} crashed; the journal {journal} keeps every finished row. Re-running the "
        "same command resumes."
    ),
}


def say(key: str, **values: object) -> str:
    return MESSAGES[key].format(**values)
