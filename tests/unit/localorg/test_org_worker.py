"""Work another API (Bulk 1.0) hands to the DML thread runs there, with the shared key indexes."""

from __future__ import annotations

import threading

import pyarrow as pa

from migrator.localorg.dml_engine import DmlContext
from migrator.localorg.org import LocalOrg


def test_calls_run_on_the_dml_thread_and_a_failing_call_does_not_stop_it(tmp_path):
    org = LocalOrg(tmp_path / "org.db")
    org.start()
    try:
        done = threading.Event()
        outcome = {}

        def broken() -> None:
            raise RuntimeError("a bug in the caller")

        def load() -> None:
            plan = org.ingest.engine.prepare("Account", "insert", ["Name"])
            ctx = DmlContext(org.store.conn(), org.identity.user_id, "2024-01-01T00:00:00.000Z",
                             org.ingest.indexes_for(2))
            result = org.ingest.engine.run_batch(plan, [pa.array(["A", "B"])], 2, ctx)
            outcome["thread"] = threading.current_thread().name
            outcome["ok"] = result.ok.tolist()
            done.set()

        org.ingest_worker.call(broken)
        org.ingest_worker.call(load)
        assert done.wait(30)
        assert outcome == {"thread": "localorg-ingest", "ok": [True, True]}
        assert org.store.conn().execute('SELECT count(*) FROM "Account"').fetchone() == (2,)
    finally:
        org.close()
