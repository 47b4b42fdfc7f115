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


def _codes(frames: list[pd.Series]) -> list[np.ndarray]:
    """Integer codes for key values across several Series (one factorize, no Python per row).

    A value's n-th repeat within one Series gets its own code, so identical keyless rows pair off
    one to one between the rows sent and the result rows.
    """
    joined = pd.concat(frames, ignore_index=True) if frames else pd.Series(dtype="str")
    codes = pd.factorize(joined)[0].astype(np.int64)
    width = np.int64(len(codes) + 1)
    out, start = [], 0
    for frame in frames:
        part = codes[start:start + len(frame)]
        start += len(frame)
        repeat = pd.Series(part).groupby(part).cumcount().to_numpy()
        out.append(part + repeat * width)
    return out


def _positions(lookup: pd.Series, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For result rows: which ones match a sent row (mask), and the sent row's position."""
    found = lookup.reindex(codes).to_numpy()
    mask = ~np.isnan(found)
    return mask, found[mask].astype(np.int64)


def classify(sent: pd.DataFrame, columns: list[str], key: str | None, success: pd.DataFrame,
             failed: pd.DataFrame, unprocessed: pd.DataFrame, *, job_state: str,
             job_error: str | None, attempt: int, permanent: bool | None = None) -> Outcome:
    """Join one job's result files to the rows it carried.

    `sent` has the uploaded `columns` plus SOURCE_FILE and SOURCE_ROW; result frames are the server's
    CSVs as text. Keys are unique within a job (the planner rejects repeats); for keyless inserts,
    identical rows are interchangeable, so they are matched in order of appearance. Matching goes
    through integer codes of the keys: no Python loop over rows. Rows the server did not answer for
    are retried, unless the job's error is one that would happen again (`permanent`, or by default
    an error message naming a broken file such as "InvalidBatch : Field name not found").
    """
    sent = sent.reset_index(drop=True)
    sent_codes, ok_codes, bad_codes, unprocessed_codes = _codes(
        [match_key(frame, key, columns) for frame in (sent, success, failed, unprocessed)])
    lookup = pd.Series(np.arange(len(sent), dtype=np.float64), index=sent_codes)
    key_values = (sent[key] if key and key in sent else pd.Series("", index=sent.index, dtype="str")).to_numpy()
    files, lines = sent[SOURCE_FILE].to_numpy(), sent[SOURCE_ROW].to_numpy()

    ok_rows, ok_at = _positions(lookup, ok_codes)
    answered = np.zeros(len(sent), dtype=bool)
    answered[ok_at] = True
    ok = success[ok_rows]
    succeeded = pd.DataFrame({
        "source_file": files[ok_at], "source_row": lines[ok_at], "key": key_values[ok_at],
        "sf_id": ok["sf__Id"].to_numpy() if "sf__Id" in ok else "",
        "created": ok["sf__Created"].str.lower().to_numpy() if "sf__Created" in ok else "",
    })

    bad_rows, bad_at = _positions(lookup, bad_codes)
    fresh = ~answered[bad_at]
    bad_at, bad = bad_at[fresh], failed[bad_rows][fresh]
    answered[bad_at] = True
    errors = parse_error(bad["sf__Error"] if "sf__Error" in bad else pd.Series("", index=bad.index, dtype="str"))
    errors = errors.reset_index(drop=True)
    transient = is_transient(errors["error_code"], errors["message"]).to_numpy()

    silent = np.flatnonzero(~answered)
    permanent_job = job_error_is_permanent(job_error) if permanent is None else permanent
    listed, _ = _positions(lookup, unprocessed_codes)
    why_silent = (f"not processed: job {job_state}" + (f" ({job_error})" if job_error else "")
                  if listed.any() or job_state != "JobComplete" else "no result returned for this row")

    job_failed = silent if permanent_job else silent[:0]
    failed_at = np.concatenate([bad_at[~transient], job_failed])
    failed_frame = pd.DataFrame({
        "source_file": files[failed_at], "source_row": lines[failed_at], "key": key_values[failed_at],
        "error_code": np.concatenate([errors["error_code"].to_numpy()[~transient], ["JOB_FAILED"] * len(job_failed)]),
        "message": np.concatenate([errors["message"].to_numpy()[~transient], [job_error or ""] * len(job_failed)]),
        "fields": np.concatenate([errors["fields"].to_numpy()[~transient], [""] * len(job_failed)]),
        "attempts": str(attempt),
    })
    for column in columns:
        failed_frame[column] = sent[column].to_numpy()[failed_at]

    retry_silent = silent[:0] if permanent_job else silent
    retry = sent.iloc[np.concatenate([bad_at[transient], retry_silent])].reset_index(drop=True)
    reasons = (errors["error_code"][transient] + ": " + errors["message"][transient]).tolist()
    retry["reason"] = pd.Series(reasons + [why_silent] * len(retry_silent), dtype="str")
    return Outcome(succeeded=succeeded.astype("str"), failed=failed_frame.astype("str"), retry=retry.astype("str"))


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
