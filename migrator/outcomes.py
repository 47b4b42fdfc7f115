"""What happened to each row of a job: join the server's result files to the rows sent, by key.

Bulk API does not promise result order, and Data Loader's history of success and error files on
the wrong rows shows what trusting positions costs. So rows are matched on their key column (the
external id or Id; for keyless inserts, the whole row as sent), and every sent row ends in exactly
one of: succeeded, failed (permanent, with the server's code and message), or to retry (transient:
lock contention, rows left unprocessed by a failed or aborted job, server errors). Pure pandas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

SOURCE_FILE, SOURCE_ROW = "__file", "__row"
MATCH = "__match"

# Per-row error codes worth another attempt: the row itself is fine, the moment was not.
TRANSIENT_CODES = frozenset(
    {
        "UNABLE_TO_LOCK_ROW",
        "TOOMANYLOCKFAILURE",
        "TOO_MANY_LOCK_FAILURE",
        "SERVER_UNAVAILABLE",
        "UNKNOWN_EXCEPTION",
        "QUERY_TIMEOUT",
        "TIMEOUT",
        "REQUEST_LIMIT_EXCEEDED",
        "INTERNAL_SERVER_ERROR",
    }
)
# Job-level failures that will happen again whatever we do: the file itself is wrong.
PERMANENT_JOB_ERRORS = (
    "InvalidBatch",
    "Field name not found",
    "ClientInputError",
    "InvalidJob",
    "InvalidOperation",
    "InvalidEntity",
    "INVALIDENTITY",
    "FeatureNotEnabled",
)

SUCCESS_COLUMNS = ("source_file", "source_row", "key", "sf_id", "created")
FAILED_COLUMNS = ("source_file", "source_row", "key", "error_code", "message", "fields", "attempts")


@dataclass(frozen=True)
class Outcome:
    succeeded: pd.DataFrame  # SUCCESS_COLUMNS
    failed: pd.DataFrame  # FAILED_COLUMNS + the row as sent
    retry: pd.DataFrame  # the rows as sent (with source columns), plus `reason`


def parse_error(text: pd.Series) -> pd.DataFrame:
    """`CODE:message:F1,F2 --` -> code, message, fields. The message may itself contain colons."""
    text = text.astype("str").fillna("")
    full = text.str.extract(r"^(?P<code>[A-Za-z_]+):(?P<message>.*):(?P<fields>[^:]*?)\s*--\s*$", flags=re.S)
    loose = text.str.extract(r"^(?P<code>[A-Za-z_]+):(?P<message>.*)$", flags=re.S)
    code = full["code"].fillna(loose["code"]).fillna("UNKNOWN").str.upper()
    message = full["message"].fillna(loose["message"]).fillna(text).str.strip()
    return pd.DataFrame(
        {"error_code": code, "message": message, "fields": full["fields"].fillna("").str.strip()}, index=text.index
    ).astype("str")


def is_transient(codes: pd.Series, messages: pd.Series) -> pd.Series:
    """Transient codes, plus trigger errors that only wrap a lock failure."""
    upper = codes.str.upper()
    wrapped_lock = messages.str.contains("UNABLE_TO_LOCK_ROW", regex=False)
    return upper.isin(TRANSIENT_CODES) | wrapped_lock


def job_error_is_permanent(message: str | None) -> bool:
    return bool(message) and any(marker in message for marker in PERMANENT_JOB_ERRORS)


def match_key(frame: pd.DataFrame, key: str | None, columns: list[str]) -> pd.Series:
    """What identifies a row in result files: its key value, or all its sent values joined."""
    if key and key in frame:
        return frame[key].astype("str").fillna("")
    present = [c for c in columns if c in frame]
    joined = pd.Series("", index=frame.index, dtype="str")
    for position, column in enumerate(present):
        text = frame[column].astype("str").fillna("")
        joined = text if position == 0 else joined + "\x1f" + text
    return joined


def classify(
    sent: pd.DataFrame,
    columns: list[str],
    key: str | None,
    success: pd.DataFrame,
    failed: pd.DataFrame,
    unprocessed: pd.DataFrame,
    *,
    job_state: str,
    job_error: str | None,
    attempt: int,
) -> Outcome:
    """Join one job's result files to the rows it carried.

    `sent` has the uploaded `columns` plus SOURCE_FILE and SOURCE_ROW; result frames are the server's
    CSVs as text. Keys are unique within a job (the planner rejects repeats); for keyless inserts,
    identical rows are interchangeable, so they are matched in order of appearance.
    """
    sent = sent.assign(**{MATCH: _occurrence_key(match_key(sent, key, columns))})
    by_key = sent.set_index(MATCH)

    ok = success.assign(**{MATCH: _occurrence_key(match_key(success, key, columns))})
    ok = ok[ok[MATCH].isin(by_key.index)]
    succeeded = pd.DataFrame(
        {
            "source_file": by_key.loc[ok[MATCH], SOURCE_FILE].to_numpy(),
            "source_row": by_key.loc[ok[MATCH], SOURCE_ROW].to_numpy(),
            "key": by_key.loc[ok[MATCH], key].to_numpy() if key and key in by_key else "",
            "sf_id": ok["sf__Id"].to_numpy() if "sf__Id" in ok else "",
            "created": ok["sf__Created"].str.lower().to_numpy() if "sf__Created" in ok else "",
        }
    )

    bad = failed.assign(**{MATCH: _occurrence_key(match_key(failed, key, columns))})
    bad = bad[bad[MATCH].isin(by_key.index) & ~bad[MATCH].isin(ok[MATCH])]
    errors = parse_error(bad["sf__Error"] if "sf__Error" in bad else pd.Series("", index=bad.index, dtype="str"))
    transient = is_transient(errors["error_code"], errors["message"]).to_numpy()

    answered = set(ok[MATCH]) | set(bad[MATCH])
    silent = by_key.index[~by_key.index.isin(answered)]
    if job_error_is_permanent(job_error):
        no_answer = pd.DataFrame({"error_code": "JOB_FAILED", "message": job_error or "", "fields": ""}, index=silent)
        permanent_silent, retry_silent = silent, silent[:0]
    else:
        no_answer = pd.DataFrame(columns=["error_code", "message", "fields"], index=silent[:0])
        permanent_silent, retry_silent = silent[:0], silent
    in_unprocessed = set(_occurrence_key(match_key(unprocessed, key, columns)))
    why_silent = (
        f"not processed: job {job_state}" + (f" ({job_error})" if job_error else "")
        if len(in_unprocessed) or job_state != "JobComplete"
        else "no result returned for this row"
    )

    failed_keys = list(bad[MATCH][~transient]) + list(permanent_silent)
    failed_info = pd.concat([errors[~transient].set_index(bad[MATCH][~transient].to_numpy()), no_answer])
    failed_rows = by_key.loc[failed_keys]
    failed_frame = pd.DataFrame(
        {
            "source_file": failed_rows[SOURCE_FILE].to_numpy(),
            "source_row": failed_rows[SOURCE_ROW].to_numpy(),
            "key": failed_rows[key].to_numpy() if key and key in failed_rows else "",
            "error_code": failed_info["error_code"].to_numpy(),
            "message": failed_info["message"].to_numpy(),
            "fields": failed_info["fields"].to_numpy(),
            "attempts": str(attempt),
        }
    )
    for column in columns:
        failed_frame[column] = failed_rows[column].to_numpy()

    retry_keys = list(bad[MATCH][transient]) + list(retry_silent)
    retry_reasons = [
        f"{c}: {m}" for c, m in zip(errors["error_code"][transient], errors["message"][transient], strict=True)
    ] + [why_silent] * len(retry_silent)
    retry = by_key.loc[retry_keys].reset_index(drop=True)
    retry["reason"] = pd.Series(retry_reasons, dtype="str")
    return Outcome(succeeded=succeeded.astype("str"), failed=failed_frame.astype("str"), retry=retry.astype("str"))


def _occurrence_key(keys: pd.Series) -> pd.Series:
    """Make repeated keys distinct (k, k#1, k#2...) so identical keyless rows pair off one to one."""
    counts = keys.groupby(keys, sort=False).cumcount()
    if not counts.any():
        return keys.astype("str")
    return (keys.astype("str") + np.where(counts > 0, "#" + counts.astype(str), "")).astype("str")


def exhausted(retry: pd.DataFrame, columns: list[str], key: str | None, attempts: int) -> pd.DataFrame:
    """Rows still failing transiently after the last attempt become failures, with the last reason."""
    reasons = retry["reason"] if "reason" in retry else pd.Series("", index=retry.index, dtype="str")
    code = reasons.str.extract(r"^([A-Z_]+):", expand=False).fillna("NOT_PROCESSED")
    frame = pd.DataFrame(
        {
            "source_file": retry[SOURCE_FILE].to_numpy(),
            "source_row": retry[SOURCE_ROW].to_numpy(),
            "key": retry[key].to_numpy() if key and key in retry else "",
            "error_code": code.to_numpy(),
            "message": ("gave up after " + str(attempts) + " attempts: " + reasons).to_numpy(),
            "fields": "",
            "attempts": str(attempts),
        }
    )
    for column in columns:
        frame[column] = retry[column].to_numpy() if column in retry else ""
    return frame.astype("str")
