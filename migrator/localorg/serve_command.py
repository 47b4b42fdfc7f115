"""``migrator serve``: run the local org in the foreground until Ctrl-C (or SIGTERM).

On start it prints what a client needs: the instance URL, the access token (the one place the local
org prints a token: it is this dev server's own), the dev username/password, the org's connected
app (client id and secret, and the private key file JWT bearer assertions are signed with) and the CA
file to trust. ``--print-env`` prints shell-sourceable ``KEY=value`` lines instead (on stdout; the
banner then goes to stderr), e.g. ``migrator serve --print-env > .env & sleep 2; set -a; . ./.env``.
"""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from pathlib import Path

import click

from .certs import public_key_pem
from .faults import FaultSpec, FaultSpecError
from .orgschema import SchemaError
from .pacing import PaceSpec, PaceSpecError
from .server import InsecureBindError, LocalOrgServer
from .settings import OrgSettings

DEFAULT_DB = Path(".migrator") / "local-org.db"


def _jwt_cert(ctx: click.Context, param: click.Parameter, value: Path | None) -> str | None:
    if value is None:
        return None
    text = value.read_text(encoding="utf-8", errors="replace")
    try:
        public_key_pem(text)
    except ValueError:
        raise click.BadParameter(f"{value} is not a PEM certificate or public key") from None
    return text


def _faults(ctx: click.Context, param: click.Parameter, value: str | None) -> FaultSpec | None:
    if value is None:
        return None
    try:
        return FaultSpec.parse(value)
    except FaultSpecError as exc:
        raise click.BadParameter(str(exc)) from None


def _pace(ctx: click.Context, param: click.Parameter, value: str | None) -> PaceSpec | None:
    if value is None:
        return None
    try:
        return PaceSpec.parse(value)
    except PaceSpecError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8443, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0 picks a free one).")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB,
              show_default=True, help="SQLite file of the org (created on first start; data persists).")
@click.option("--schema", "schema_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Org schema YAML adding custom objects/fields (repeatable; see docs/local-org.md).")
@click.option("--http", "plain_http", is_flag=True, help="Serve plain HTTP instead of HTTPS.")
@click.option("--token", help="Use this access token instead of the org's own (not stored).")
@click.option("--print-env", is_flag=True, help="Print SF_INSTANCE_URL / SF_ACCESS_TOKEN / CA lines for a shell.")
@click.option("--faults", callback=_faults, metavar="SPEC",
              help="Fault injection, e.g. lock_rate=0.1,seed=7,upload_503=2 (see docs/local-org.md).")
@click.option("--pace", callback=_pace, metavar="SPEC",
              help="Process jobs at Salesforce's pace, e.g. production or rate=1000,max_jobs=5 "
                   "(see docs/local-org.md).")
@click.option("--jwt-cert", callback=_jwt_cert, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Certificate (or public key) PEM JWT bearer assertions must be signed for, instead of the "
                   "org's own connected-app key.")
def serve(host: str, port: int, db_path: Path, schema_files: tuple[Path, ...], plain_http: bool,
          token: str | None, print_env: bool, faults: FaultSpec | None, pace: PaceSpec | None,
          jwt_cert: str | None) -> None:
    """Run the local org: a Bulk API 2.0 server over SQLite that Salesforce clients can use."""
    try:
        server = LocalOrgServer(db_path, schema_files=schema_files, host=host, port=port, https=not plain_http,
                                token=token, faults=faults, log_level="info", pace=pace,
                                settings=OrgSettings(jwt_public_key=jwt_cert) if jwt_cert else None)
    except InsecureBindError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        server.start()
    except SchemaError as exc:
        raise click.ClickException(f"invalid org schema: {exc}") from None
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        _announce(server, print_env)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        click.echo("local org stopped", err=True)


def _announce(server: LocalOrgServer, print_env: bool) -> None:
    banner = [f"Local org running at {server.instance_url}",
              f"  database       {server.db_path}",
              f"  username       {server.username}",
              f"  password       {server.password}",
              f"  access token   {server.access_token}",
              f"  client id      {server.client_id}",
              f"  client secret  {server.client_secret}",
              f"  JWT key file   {server.jwt_key_file}  (sign assertions with it, iss = the client id)"]
    if server.ca_file is not None:
        banner.append(f"  trust CA file  {server.ca_file}  (e.g. REQUESTS_CA_BUNDLE={server.ca_file})")
    pace = server.org.pacer.spec if server.org is not None else None
    if pace is not None and pace.active:
        settings = ", ".join(f"{k}={v}" for k, v in pace.as_dict().items())
        banner.append(f"  paced          {settings}")
    banner.append("Press Ctrl-C to stop.")
    click.echo("\n".join(banner), err=print_env)
    if print_env:
        lines = [f"SF_INSTANCE_URL={shlex.quote(server.instance_url)}",
                 f"SF_ACCESS_TOKEN={shlex.quote(server.access_token)}",
                 f"SF_USERNAME={shlex.quote(server.username)}",
                 f"SF_PASSWORD={shlex.quote(server.password)}",
                 f"SF_CLIENT_ID={shlex.quote(server.client_id)}",
                 f"SF_CLIENT_SECRET={shlex.quote(server.client_secret)}",
                 f"SF_JWT_KEY_FILE={shlex.quote(str(server.jwt_key_file.resolve()))}"]
        if server.ca_file is not None:
            ca = shlex.quote(str(server.ca_file.resolve()))
            lines += [f"REQUESTS_CA_BUNDLE={ca}", f"SSL_CERT_FILE={ca}"]
        click.echo("\n".join(lines))
    sys.stdout.flush()
