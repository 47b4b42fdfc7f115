"""Files into the local org: 2,000 files of 50 KB to 5 MB as ContentVersions of accounts (not a test;
prints figures).

    python benchmarks/bench_files.py [--files 2000] [--min-kb 50] [--max-mb 5] [--keep DIR]

The sizes are spread log-uniformly between the bounds (many small scans and images, fewer large
PDFs), about 2 GB in all at the defaults; the bytes are random, so that compression gains nothing,
as with PDFs and JPEGs. The plan (Accounts, then Files linked to them by FirstPublishLocationId) runs
with `migrator run` against a local org over HTTPS on loopback, in this process: Bulk API 1.0 ZIP
batches (10 MB, 1,000 files at most) and the REST multipart insert for a file bigger than a batch
holds. It prints the plan's and the run's seconds, MB/s of file bytes, the batches sent, and
checks a sample of files read back through REST (`.../VersionData`) byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

import requests

from migrator import api
from migrator.localorg.server import LocalOrgServer

ROOT = Path(__file__).resolve().parents[1]
PLAN = """\
version: 1
name: bench-files
sources: {dir: data, files: data/files}
defaults: {operation: upsert, external_id: Legacy_Id__c}
objects:
  - object: Account
    source: accounts.csv
    fields: {Legacy_Id__c: id, Name: name}
  - object: ContentVersion
    name: Files
    operation: insert
    source: documents.csv
    fields:
      Title: title
      PathOnClient: path
      VersionData: {file: path}
    lookups:
      FirstPublishLocationId: {from: account, to: Account}
"""


def make_files(project: Path, count: int, smallest: int, largest: int, seed: int = 15) -> dict[str, str]:
    """The files (random bytes, log-uniform sizes) and the CSVs naming them; their digests by path."""
    rng = random.Random(seed)
    data = project / "data"
    (data / "files").mkdir(parents=True)
    accounts = max(1, count // 20)
    (data / "accounts.csv").write_text("id,name\n" + "".join(f"A{i},Account {i}\n" for i in range(accounts)))
    digests, rows = {}, []
    for i in range(count):
        size = int(math.exp(rng.uniform(math.log(smallest), math.log(largest))))
        path = f"{i % 50:02d}/doc-{i:05d}.{'pdf' if i % 3 else 'jpg'}"
        body = rng.randbytes(size)
        file = data / "files" / path
        file.parent.mkdir(exist_ok=True)
        file.write_bytes(body)
        digests[path] = hashlib.sha256(body).hexdigest()
        rows.append(f"D{i},Document {i},{path},A{rng.randrange(accounts)}\n")
    (data / "documents.csv").write_text("id,title,path,account\n" + "".join(rows))
    (project / "plan.yaml").write_text(PLAN)
    return digests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--min-kb", type=float, default=50)
    parser.add_argument("--max-mb", type=float, default=5)
    parser.add_argument("--sample", type=int, default=100, help="files read back and compared (default 100)")
    parser.add_argument("--keep", type=Path, help="keep the project and the org in this directory")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="migrator-bench-files-"))
    project = work / "project"
    start = time.perf_counter()
    digests = make_files(project, args.files, int(args.min_kb * 1024), int(args.max_mb * 1024 * 1024))
    total = sum((project / "data" / "files" / p).stat().st_size for p in digests)
    print(f"made {len(digests):,} files, {total / 1e6:,.0f} MB, in {time.perf_counter() - start:.1f}s")
    schema = ROOT / "plans" / "org" / "schema.yaml"
    with LocalOrgServer(work / "org.db", schema_files=(schema,), port=0, https=True) as server:
        (project / "migrator.toml").write_text(
            f'[targets.bench]\nauth = "token"\ninstance_url = "{server.instance_url}"\n'
            f'access_token_env = "BENCH_TOKEN"\nverify = "{server.ca_file}"\n')
        start = time.perf_counter()
        result = api.run(project / "plan.yaml", target="bench", home=project / ".migrator", project_dir=project,
                         env={"BENCH_TOKEN": server.access_token})
        elapsed = time.perf_counter() - start
        totals = result.results["totals"]
        manifest = json.loads((result.paths.root / "plan" / "manifest.json").read_text())
        print(f"migrator run (plan and load): {elapsed:6.1f}s  {total / 1e6 / elapsed:6.1f} MB/s of files  "
              f"{len(digests) / elapsed:6.1f} files/s  exit code {result.exit_code}")
        print(f"rows: sent {totals['sent']:,}, succeeded {totals['succeeded']:,}, failed {totals['failed']:,}, "
              f"rejected {totals['rejected']:,}")
        files_step = next(s for s in manifest["sources"] if s["step"] == "Files")
        print(f"files step: {json.dumps(files_step.get('binary_files'))}")
        http = requests.Session()
        http.trust_env = False
        http.verify = str(server.ca_file)
        http.headers["Authorization"] = f"Bearer {server.access_token}"
        base = f"{server.instance_url}/services/data/v62.0"
        found = http.get(f"{base}/query", params={"q": "SELECT Id, PathOnClient FROM ContentVersion"}).json()
        records = found["records"]
        while not found["done"]:
            found = http.get(server.instance_url + found["nextRecordsUrl"]).json()
            records += found["records"]
        sample = random.Random(1).sample(records, min(args.sample, len(records)))
        same = sum(hashlib.sha256(http.get(f"{base}/sobjects/ContentVersion/{r['Id']}/VersionData").content)
                   .hexdigest() == digests[r["PathOnClient"]] for r in sample)
        print(f"ContentVersions in the org: {len(records):,}; read back {len(sample)}: {same} byte-identical")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS (org and client in this process): {peak:,.0f} MB")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)  # twice the files' size: the files and the org's database


if __name__ == "__main__":
    main()
