"""The run report: terminal summary (rich) and HTML page, on realistic synthetic run results."""

from __future__ import annotations

import copy
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from migrator.errors import RunStateError
from migrator.run import report

XSS = '<script>alert("pwned")</script>'


def _step(step_id: str, obj: str, *, wave: int, rows: int, created: int, updated: int = 0, failed: int = 0,
          skipped: int = 0, retried: int = 0, jobs: int = 1, seconds: float = 1.0, level: int = 0, pass_: int = 1,
          operation: str = "upsert", codes: dict[str, int] | None = None) -> dict[str, Any]:
    folder = step_id.replace(":", ".")
    assert created + updated + failed + skipped == rows, step_id
    return {
        "id": step_id, "step": step_id.split(":")[0], "object": obj, "operation": operation, "api": "bulk2",
        "pass": pass_, "level": level, "wave": wave, "rows": rows, "sent": created + updated + failed,
        "succeeded": created + updated, "created": created, "updated": updated, "deleted": 0, "failed": failed,
        "skipped": skipped, "in_flight": 0, "not_sent": 0, "retried": retried,
        "jobs": jobs, "seconds": seconds, "error_codes": codes or {},
        "files": {kind: f"steps/{folder}/{kind}.csv" for kind in ("success", "failed", "skipped")},
    }


def realistic_results(status: str = "completed_with_failures") -> dict[str, Any]:
    """A run of a CRM plan: a two-level Account hierarchy, contacts, opportunities and a pass-2 update.

    Counts add up the way the executor guarantees: per plan step, source_rows - filtered =
    rejected + to_send, to_send = sent + skipped + not_sent and sent = succeeded + failed + in_flight;
    totals are sums over plan steps.
    """
    steps = [
        _step("Account:L0", "Account", wave=0, rows=10, created=9, failed=1, retried=2, jobs=3, seconds=1.2,
              codes={"DUPLICATE_VALUE": 1}),
        _step("Account:L1", "Account", wave=1, rows=7, created=5, updated=2, level=1, seconds=0.8),
        _step("Contact:L0", "Contact", wave=2, rows=40, created=35, updated=2, failed=1, skipped=2, retried=5,
              jobs=4, seconds=2.9, codes={"INVALID_FIELD": 1}),
        _step("Opportunity:L0", "Opportunity", wave=2, rows=20, created=19, failed=1, seconds=2.1,
              operation="insert", codes={"FIELD_CUSTOM_VALIDATION_EXCEPTION": 1}),
        _step("Account:P2", "Account", wave=3, rows=7, created=0, updated=7, pass_=2, operation="update",
              seconds=0.5),
    ]
    sources = [
        {"step": "Account", "object": "Account", "files": ["data/crm/accounts.csv"], "source_rows": 22,
         "filtered": 1, "rejected": 4, "to_send": 17, "sent": 17, "succeeded": 16, "failed": 1, "skipped": 0},
        {"step": "Contact", "object": "Contact", "files": ["data/crm/contacts.csv", "data/crm/contacts_2.csv"],
         "source_rows": 45, "filtered": 0, "rejected": 5, "to_send": 40, "sent": 38, "succeeded": 37, "failed": 1,
         "skipped": 2},
        {"step": "Opportunity", "object": "Opportunity", "files": ["data/crm/deals.csv"], "source_rows": 23,
         "filtered": 0, "rejected": 3, "to_send": 20, "sent": 20, "succeeded": 19, "failed": 1, "skipped": 0},
    ]
    for source in sources:
        source |= {"created": 0, "updated": 0, "deleted": 0, "in_flight": 0, "not_sent": 0, "selected": True}
    pass1 = [s for s in steps if s["pass"] == 1]
    totals = {key: sum(s[key] for s in sources) for key in ("source_rows", "filtered", "rejected", "to_send")}
    totals |= {key: sum(s[key] for s in pass1) for key in ("sent", "succeeded", "created", "updated", "deleted",
                                                           "failed", "skipped", "in_flight", "not_sent")}
    totals |= {key: sum(s[key] for s in steps) for key in ("retried", "jobs")}
    return {
        "run_results_version": 2, "run_id": "20261129-093012-4f1a", "migrator_version": "0.1.0",
        "plan": {"name": "crm-migration", "file": "plans/crm.yaml", "checksum": "ab12cd34ef56ab12cd34ef56",
                 "description": "Legacy CRM export -> Salesforce"},
        "target": {"name": "local", "kind": "local", "instance_url": "https://127.0.0.1:51234",
                   "api_version": "62.0"},
        "started_at": "2026-11-29T09:30:12Z", "finished_at": "2026-11-29T09:30:25Z", "elapsed_seconds": 12.3,
        "status": status, "exit_code": {"succeeded": 0, "completed_with_failures": 1}.get(status, 2),
        "error": None, "resume_command": None,
        "options": {"max_retries": 3, "select": None, "send_orphans": False, "strict": False},
        "steps": steps, "sources": sources, "totals": totals,
        "top_errors": [
            {"code": "INVALID_FIELD", "count": 1,
             "message": "Foreign key external ID: ACC-9 not found for field Legacy_Id__c in entity Account",
             "examples": [{"step": "Contact:L0", "key": "CON-3", "source_file": "data/crm/contacts.csv",
                           "source_row": "4",
                           "message": "Foreign key external ID: ACC-9 not found for field Legacy_Id__c"}]},
            {"code": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "count": 1, "message": f"Amount must be positive {XSS}",
             "examples": [{"step": "Opportunity:L0", "key": "OPP-17", "source_file": "data/crm/deals.csv",
                           "source_row": "18", "message": f"Amount must be positive {XSS}"}]},
            {"code": "DUPLICATE_VALUE", "count": 1, "message": "duplicate value found: Name duplicates value",
             "examples": [{"step": "Account:L0", "key": "ACC-4", "source_file": "data/crm/accounts.csv",
                           "source_row": "5", "message": "duplicate value found: Name duplicates value"}]},
        ],
        "reject_reasons": [
            {"reason": "not a number", "count": 2,
             "examples": [{"step": "Account", "key": "ACC-14", "field": "AnnualRevenue", "value": "$2.4M",
                           "source_file": "data/crm/accounts.csv", "source_row": "15"}]},
            {"reason": "missing key", "count": 7,
             "examples": [{"step": "Contact", "key": "", "field": "Legacy_Id__c", "value": "",
                           "source_file": "data/crm/contacts.csv", "source_row": "31"}]},
            {"reason": "not a date (expected %d/%m/%Y)", "count": 3,
             "examples": [{"step": "Opportunity", "key": "OPP-2", "field": "CloseDate", "value": "2026-13-45",
                           "source_file": "data/crm/deals.csv", "source_row": "3"}]},
        ],
        "files": {"rejects": "plan/rejects.csv", "missing_parents": "plan/missing_parents.csv",
                  "report": "report.html", "run_results": "run_results.json"},
    }


def _recorded(renderable: Any, width: int = 200) -> str:
    console = Console(record=True, width=width, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


# --- terminal --------------------------------------------------------------------------------


def test_summary_table_has_a_row_per_step_and_the_totals() -> None:
    results = realistic_results()
    text = _recorded(report.summary_table(results))
    lines = text.splitlines()
    for step in results["steps"]:
        row = next(line for line in lines if f" {step['id']} " in line)
        assert step["object"] in row and step["operation"] in row
        assert f"{step['succeeded']} ({step['created']}/{step['updated']})" in row
    total = next(line for line in lines if " Total " in line)
    totals = results["totals"]
    assert re.search(rf"\b{totals['to_send']}\b.*\b{totals['succeeded']} \({totals['created']}/{totals['updated']}\)"
                     rf".*\b{totals['failed']}\b.*\b{totals['skipped']}\b.*\b{totals['retried']}\b.*12\.3 s", total)
    assert "Completed with failures" in text
    assert "pass-2 steps update rows already loaded" in text
    assert "Rejected before sending: 12" in text and "missing key (7)" in text
    assert "Top errors: INVALID_FIELD (1)" in text


def test_summary_table_colours_failed_and_skipped_cells_only_when_non_zero() -> None:
    table = report.summary_table(realistic_results())
    failed = table.columns[7]._cells
    skipped = table.columns[8]._cells
    assert failed[0].style == "bold red" and str(failed[0]) == "1"
    assert failed[1].style == "dim" and str(failed[1]) == "0"
    assert skipped[2].style == "yellow" and str(skipped[2]) == "2"


def test_summary_lines_point_at_failed_files_rejects_and_the_report(tmp_path: Path) -> None:
    lines = report.summary_lines(realistic_results(), run_dir=tmp_path)
    assert lines[0] == "Run 20261129-093012-4f1a: completed with failures in 12.3 s (exit code 1)"
    assert "90 source rows, 1 filtered out, 12 rejected before sending, 75 sent: 72 succeeded (68 created, " \
           "4 updated), 3 failed; 2 skipped" in lines[1]
    failed = next(line for line in lines if line.startswith("Failed rows: "))
    assert str(tmp_path / "steps/Contact.L0/failed.csv") in failed
    assert "Account.L1" not in failed  # no failures there
    assert f"Rejected rows: {tmp_path / 'plan/rejects.csv'}" in lines
    assert f"Report: {tmp_path / 'report.html'}" in lines
    assert not any(line.startswith("Resume") for line in lines)


def test_summary_lines_of_an_interrupted_run_give_the_resume_command() -> None:
    results = realistic_results("interrupted")
    results["resume_command"] = "migrator run plans/crm.yaml --resume 20261129-093012-4f1a"
    lines = report.summary_lines(results)
    assert lines[0].startswith("Run 20261129-093012-4f1a: interrupted")
    assert lines[-1] == "Resume with: migrator run plans/crm.yaml --resume 20261129-093012-4f1a"
    assert "Report: report.html" in lines


def test_partial_results_of_a_run_that_failed_early_still_render() -> None:
    results = {"run_results_version": 1, "run_id": "20261129-000000-beef", "status": "error",
               "error": "AuthError: invalid_grant [expired]", "elapsed_seconds": 0.4}
    text = _recorded(report.summary_table(results))
    assert "Total" in text and "run 20261129-000000-beef · Error" in text
    assert text.rstrip().splitlines()[-1].startswith("└")  # no caption: nothing was rejected or failed
    assert "Error: AuthError: invalid_grant [expired]" in report.summary_lines(results)
    html = report.render_html(results)
    assert "No step ran." in html and "invalid_grant [expired]" in html


# --- HTML ------------------------------------------------------------------------------------


class _Page(HTMLParser):
    """Collects what the assertions need: elements with attributes, link targets, visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.stack: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self.scripts += tag == "script"

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def having(self, tag: str, attr: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.elements if name == tag and attr in attrs]


def _page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def test_html_lists_every_step_with_its_counts() -> None:
    results = realistic_results()
    html = report.render_html(results)
    page = _page(html)
    assert [a["data-step"] for a in page.having("tr", "data-step")] == [s["id"] for s in results["steps"]]
    assert [a["data-source"] for a in page.having("tr", "data-source")] == ["Account", "Contact", "Opportunity"]
    assert "<title>crm-migration · run 20261129-093012-4f1a · migrator report</title>" in html
    assert 'class="badge badge-completed_with_failures"' in html
    assert re.search(r'id="kpi-source">90<', html) and re.search(r'id="kpi-rejected">12<', html)
    assert re.search(r'id="kpi-loaded">72<', html) and re.search(r'id="kpi-failed">3<', html)
    assert html.count("✓ adds up") == 3 and "unaccounted" not in html


def test_html_flags_a_plan_step_whose_counts_do_not_add_up() -> None:
    results = realistic_results()
    results["sources"][1]["succeeded"] -= 2  # two contact rows lost somewhere
    assert "⚠ 2 rows unaccounted" in report.render_html(results)


def test_html_shows_error_codes_reject_reasons_and_their_examples() -> None:
    results = realistic_results()
    page = _page(report.render_html(results))
    assert [a["data-code"] for a in page.having("div", "data-code")] == [e["code"] for e in results["top_errors"]]
    assert [a["data-reason"] for a in page.having("div", "data-reason")] == [
        r["reason"] for r in results["reject_reasons"]]
    text = "".join(page.text)
    for needle in ("CON-3", "data/crm/contacts.csv:4", "OPP-17", "data/crm/deals.csv:18", "ACC-14", "$2.4M",
                   "AnnualRevenue", "data/crm/accounts.csv:15", "not a date (expected %d/%m/%Y)"):
        assert needle in text


def test_html_links_every_result_file_relatively() -> None:
    results = realistic_results()
    hrefs = {a["href"] for a in _page(report.render_html(results)).having("a", "href")}
    for step in results["steps"]:
        assert set(step["files"].values()) <= hrefs
    assert {"plan/rejects.csv", "plan/missing_parents.csv", "run_results.json"} <= hrefs
    assert all(not h.startswith(("/", "http:", "https:", "file:")) for h in hrefs)


def test_html_escapes_everything_and_runs_no_script() -> None:
    results = realistic_results()
    results["plan"]["description"] = "<b>bold</b> & co"
    results["steps"][0]["files"]["failed"] = "javascript:alert(1)"
    html = report.render_html(results)
    page = _page(html)
    assert page.scripts == 0 and "<script" not in html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html
    assert XSS in "".join(page.text)  # shown to the reader as text
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in html
    assert 'href="javascript:' not in html and 'href="javascript%3Aalert%281%29"' in html


def test_html_is_self_contained() -> None:
    html = report.render_html(realistic_results())
    page = _page(html)
    assert not page.having("link", "href") and not page.having("img", "src") and not page.having("script", "src")
    assert "@import" not in html and "url(http" not in html
    assert "<style>" in html


def test_svg_chart_has_one_bar_group_per_step_with_titled_segments() -> None:
    results = realistic_results()
    html = report.render_html(results)
    svg = html[html.index("<svg"): html.index("</svg>")]
    page = _page(svg)
    assert page.having("svg", "role")[0]["aria-labelledby"] == "chart-title chart-desc"
    bars = [a["data-step"] for a in page.having("g", "data-step")]
    assert bars == [s["id"] for s in results["steps"]] + ["Account"]  # its levels' rejects, apart
    fills = {a["fill"] for a in page.having("rect", "fill")}
    assert {color for name, (_, color) in report.OUTCOMES.items() if name not in ("pending", "unchanged")} <= fills
    assert "<title>Contact:L0 · Failed: 1 row (2.2%)</title>" in svg  # 1 of 40 sent + 5 rejected
    assert "<title>Contact:L0 · Rejected before sending: 5 rows (11.1%)</title>" in svg


def test_chart_draws_rejects_of_a_hierarchy_apart_from_its_levels() -> None:
    """Account loads in two levels; its 4 rejected rows belong to neither, so L0 is 90% ok, not 64%."""
    chart = report.outcome_chart(realistic_results())
    bars = {bar.step_id: bar for bar in chart.bars}
    assert [s.outcome for s in bars["Account:L0"].segments] == ["succeeded", "failed"]
    assert bars["Account:L0"].succeeded_percent == 90.0 and bars["Account:L0"].total == 10
    assert [(s.outcome, s.count) for s in bars["Account"].segments] == [("rejected", 4)]
    assert bars["Account"].sublabel == "Account · rejected before sending"


def test_chart_segments_fill_the_bar_and_small_counts_stay_visible() -> None:
    results = realistic_results()
    results["steps"][2] |= {"rows": 100_000, "succeeded": 99_999, "created": 99_999, "failed": 1, "skipped": 0}
    chart = report.outcome_chart(results)
    for bar in chart.bars:
        assert sum(seg.width for seg in bar.segments) == pytest.approx(chart.bar_width, abs=0.05)
        assert bar.segments[0].x == chart.bar_x
    contact = next(bar for bar in chart.bars if bar.step_id == "Contact:L0")
    failed = next(seg for seg in contact.segments if seg.outcome == "failed")
    assert failed.width >= 3 and failed.percent == 0.0


def test_chart_gives_a_bar_to_a_plan_step_whose_rows_were_all_rejected() -> None:
    results = realistic_results()
    results["sources"].append({"step": "Case", "object": "Case", "files": ["data/crm/cases.csv"],
                               "source_rows": 5, "filtered": 0, "rejected": 5, "sent": 0, "succeeded": 0,
                               "failed": 0, "skipped": 0})
    bar = report.outcome_chart(results).bars[-1]
    assert bar.step_id == "Case" and bar.total == 5 and [s.outcome for s in bar.segments] == ["rejected"]


def test_write_report_writes_next_to_run_results(tmp_path: Path) -> None:
    (tmp_path / "run_results.json").write_text(json.dumps(realistic_results()), encoding="utf-8")
    path = report.write_report(tmp_path)
    assert path == tmp_path / "report.html"
    assert path.read_text(encoding="utf-8") == report.render_html(realistic_results())
    assert {p.name for p in tmp_path.iterdir()} == {"run_results.json", "report.html"}  # no temp file left


def test_write_report_refuses_an_unknown_results_version(tmp_path: Path) -> None:
    results = copy.deepcopy(realistic_results())
    results["run_results_version"] = 99
    (tmp_path / "run_results.json").write_text(json.dumps(results), encoding="utf-8")
    with pytest.raises(RunStateError, match="version 99"):
        report.write_report(tmp_path)
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize(("seconds", "text"), [(0.04, "0.0 s"), (12.34, "12.3 s"), (245, "4 min 05 s"),
                                               (7380, "2 h 03 min")])
def test_durations_read_naturally(seconds: float, text: str) -> None:
    assert report.fmt_duration(seconds) == text


def test_reject_summary_says_how_many_reasons_it_did_not_list() -> None:
    results = realistic_results()
    results["reject_reasons"] += [{"reason": f"odd value {n}", "count": 1, "examples": []} for n in range(4)]
    results["top_errors"] += [{"code": f"CODE_{n}", "count": 1, "message": "", "examples": []} for n in range(3)]
    text = _recorded(report.summary_table(results), width=400)
    assert "not a number (2), missing key (7), not a date (expected %d/%m/%Y) (3), and 4 other reasons" in text
    assert "DUPLICATE_VALUE (1), CODE_0 (1), CODE_1 (1), and 1 other error code" in text


def test_a_delete_step_shows_deleted_rows_not_updated_ones() -> None:
    results = realistic_results("succeeded")
    gone = _step("Account:DEL", "Account", wave=4, rows=5, created=0, updated=5, operation="delete")
    gone |= {"updated": 0, "deleted": 5}
    results["steps"] = [gone]
    results["totals"] |= {"succeeded": 5, "created": 0, "updated": 0, "deleted": 5}
    text = _recorded(report.summary_table(results))
    row = next(line for line in text.splitlines() if " Account:DEL " in line)
    assert "5 (5 deleted)" in row and "updated" not in row
    assert "(0 created, 0 updated, 5 deleted)" in report.summary_lines(results)[1]
    html = report.render_html(results)
    assert "<th class=\"num\">Deleted</th>" in html and "5 deleted" in html


def test_a_run_that_sent_nothing_is_labelled_so() -> None:
    results = realistic_results("nothing_sent")
    results["exit_code"] = 1
    assert "Nothing sent" in _recorded(report.summary_table(results))
    assert report.summary_lines(results)[1].startswith("Nothing was sent: every row was rejected")
    assert 'class="badge badge-nothing_sent"' in report.render_html(results)


def test_version_1_results_still_render_with_sent_read_as_planned() -> None:
    results = realistic_results()
    results["run_results_version"] = 1
    for counts in (results["totals"], *results["sources"]):
        counts["sent"] = counts.pop("to_send")  # version 1 counted every planned row as sent
    data = report.normalize(results)
    assert (data["totals"]["to_send"], data["totals"]["sent"]) == (77, 75)
    assert "✓ adds up" in report.render_html(results) and "unaccounted" not in report.render_html(results)


def test_a_stopped_run_shows_the_rows_with_no_outcome_yet() -> None:
    results = realistic_results("interrupted")
    contact = results["steps"][2]
    contact |= {"succeeded": 20, "created": 20, "updated": 0, "failed": 0, "skipped": 0, "sent": 25,
                "in_flight": 5, "not_sent": 15}
    results["sources"][1] |= {"succeeded": 20, "failed": 0, "skipped": 0, "sent": 25, "in_flight": 5, "not_sent": 15}
    results["totals"] |= {"in_flight": 5, "not_sent": 15}
    results["resume_command"] = "migrator run --resume 20261129-093012-4f1a"
    text = _recorded(report.summary_table(results), width=240)
    assert "Not done" in text
    assert "15 not sent yet, 5 sent with no result yet" in report.summary_lines(results)[1]
    html = report.render_html(results)
    assert "15 rows not sent yet, 5 rows sent with no result yet." in html
    assert html.count("✓ adds up") == 3
    pending = next(s for s in report.outcome_chart(results).bars if s.step_id == "Contact:L0").segments
    assert ("pending", 20) in [(s.outcome, s.count) for s in pending]
