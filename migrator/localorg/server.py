"""LocalOrgServer: a local org served by uvicorn on a background thread (for tests, the executor, serve).

    with LocalOrgServer(db_path, schema_files=(), host="127.0.0.1", port=0, https=True) as org:
        org.instance_url, org.access_token, org.username, org.password, org.ca_file
        org.client_id, org.client_secret, org.jwt_key_file     # the org's connected app
        org.set_faults({"lock_rate": 0.1, "seed": 7})
        org.set_pace("production,speed=10")

``port=0`` picks a free port. Plain HTTP is served on loopback interfaces only: on any other
interface tokens and passwords would cross the network in clear text (InsecureBindError). Start-up
waits until the server accepts connections; leaving the block stops uvicorn and the job workers and
closes the database. Instances are independent (each has its
own database, app and threads), so several can run in one process.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import uvicorn

from .app import create_app
from .certs import ensure_certificates
from .faults import FaultSpec
from .org import LocalOrg
from .orgschema import OrgSchema
from .pacing import PaceSpec
from .settings import OrgSettings

START_TIMEOUT_SECONDS = 30.0


class InsecureBindError(ValueError):
    """Plain HTTP asked for on an interface other hosts can reach."""


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # any other name may resolve to a reachable interface


class _Uvicorn(uvicorn.Server):
    """uvicorn, stopping at once: open connections are dropped rather than closed gracefully. Idle
    keep-alive TLS connections never answer the close handshake, and uvicorn would wait for them."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        await super().shutdown(sockets)


# Idle connections are kept this long (uvicorn's default is 5 s). A client polling a paced job every few
# seconds reuses its connection just as the server closes it, and requests does not resend: the
# client would see "Remote end closed connection without response". Salesforce keeps them longer.
KEEP_ALIVE_SECONDS = 120


class LocalOrgServer:
    def __init__(self, db_path: Path | str, schema_files: Iterable[Path | str] = (), host: str = "127.0.0.1",
                 port: int = 0, https: bool = True, token: str | None = None,
                 faults: FaultSpec | Mapping[str, object] | str | None = None, *,
                 settings: OrgSettings | None = None, log_level: str = "warning", schema: OrgSchema | None = None,
                 pace: PaceSpec | Mapping[str, object] | str | None = None):
        if not https and not is_loopback(host):
            raise InsecureBindError(f"refusing to serve plain HTTP on {host}: tokens and passwords would cross the "
                                    f"network unencrypted; serve HTTPS there, or plain HTTP on 127.0.0.1 only")
        self.db_path = Path(db_path)
        self.schema_files = tuple(schema_files)
        self.host = host
        self.port = port
        self.https = https
        self.token = token
        self.faults = faults
        self.settings = settings
        self.log_level = log_level
        self.schema = schema  # instead of the bundled objects + schema_files (an org shaped by a test)
        self.pace = pace
        self.org: LocalOrg | None = None
        self.ca_file: Path | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def __enter__(self) -> LocalOrgServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self.org = LocalOrg(self.db_path, self.schema_files, settings=self.settings, faults=self.faults,
                            token=self.token, schema=self.schema, pace=self.pace)
        try:
            self._serve(self.org)
        except BaseException:
            self.org.close()
            raise
        self.org.start()

    def _serve(self, org: LocalOrg) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY only then
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        tls: dict[str, str] = {}
        if self.https:
            files = ensure_certificates(org.key_folder, (self.host,))
            self.ca_file = files.ca_cert
            tls = {"ssl_certfile": str(files.server_cert), "ssl_keyfile": str(files.server_key)}
        config = uvicorn.Config(create_app(org), log_level=self.log_level, lifespan="off", access_log=False,
                                timeout_graceful_shutdown=5, timeout_keep_alive=KEEP_ALIVE_SECONDS,
                                **tls)  # type: ignore[arg-type]
        self._server = _Uvicorn(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"localorg-http-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._server.should_exit = True
                sock.close()
                raise RuntimeError(f"the local org could not start on {self.host}:{self.port}")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self.org is not None:
            self.org.close()
        self._server = self._thread = None

    # -- what clients need -----------------------------------------------------------------------------
    @property
    def _org(self) -> LocalOrg:
        if self.org is None:
            raise RuntimeError("the local org is not running")
        return self.org

    @property
    def instance_url(self) -> str:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        try:
            if ipaddress.ip_address(host).version == 6:
                host = f"[{host}]"
        except ValueError:
            pass
        return f"{'https' if self.https else 'http'}://{host}:{self.port}"

    @property
    def access_token(self) -> str:
        return self._org.sessions.startup_token

    @property
    def username(self) -> str:
        return self._org.username

    @property
    def password(self) -> str:
        return self._org.password

    @property
    def client_id(self) -> str:
        """The consumer key of the org's connected app (every OAuth grant names it)."""
        return self._org.identity.client_id

    @property
    def client_secret(self) -> str:
        return self._org.identity.client_secret

    @property
    def jwt_key_file(self) -> Path:
        """The connected app's private key: sign JWT bearer assertions with it (iss = `client_id`)."""
        return self._org.signing_key.private_key

    def set_faults(self, faults: FaultSpec | Mapping[str, object] | str | None) -> FaultSpec:
        """Change fault injection at run time (None turns every fault off)."""
        return self._org.faults.set(faults)

    def set_pace(self, pace: PaceSpec | Mapping[str, object] | str | None) -> PaceSpec:
        """Change pacing at run time (None turns it off); jobs already paced finish as they started."""
        return self._org.pacer.set(pace)
