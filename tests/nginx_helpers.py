"""The shipped nginx configuration run for real: Debian's /usr/sbin/nginx on loopback, its `auth_request` sent
to the session-check stand-in of pipeline.serve (in a thread). Shared by tests/test_access.py and
tests/test_csp.py."""

from __future__ import annotations

import http.client
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipeline.serve import SESSION_COOKIE, session_check_server

ROOT = Path(__file__).resolve().parent.parent
NGINX = Path("/usr/sbin/nginx")
NGINX_MISSING = f"{NGINX} is absent: apt-get install nginx-light (.ci/run does)"
SHIPPED_CONF = ROOT / "deploy" / "nginx" / "statistiques.conf"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


CHECK_ORIGIN = "http://127.0.0.1:8090"  # the session check's address in the shipped configuration


def shipped_config(site: Path, port: int, check_origin: str) -> str:
    """deploy/nginx/statistiques.conf with its documented values set: listen, root, and the session check's
    address in its two proxy_pass lines (the access check, `/_me`)."""
    text = SHIPPED_CONF.read_text(encoding="utf-8")
    for directive, value in (("listen", f"127.0.0.1:{port}"), ("root", str(site))):
        text, count = re.subn(rf"(?m)^(\s*){directive}\s+[^;]+;", rf"\g<1>{directive} {value};", text)
        assert count == 1, f"{SHIPPED_CONF}: expected one `{directive}` line to set"
    text, count = re.subn(rf"(?m)^(\s*proxy_pass ){re.escape(CHECK_ORIGIN)}/", rf"\g<1>{check_origin}/", text)
    assert count == 2, f"{SHIPPED_CONF}: expected two proxy_pass lines to the session check"
    return text


@contextmanager
def running_nginx(site: Path, directory: Path, prefix: Path) -> Iterator[int]:
    """nginx with the shipped configuration serving `site`, the stand-in reading `directory`/users.csv;
    yields nginx's port. Skips (with the install hint) when nginx is absent."""
    if not NGINX.is_file():
        pytest.skip(NGINX_MISSING)
    check = session_check_server(site, directory, "127.0.0.1", 0)
    threading.Thread(target=check.serve_forever, daemon=True).start()
    port = free_port()
    (prefix / "statistiques.conf").write_text(
        shipped_config(site, port, f"http://127.0.0.1:{check.server_address[1]}"),
        encoding="utf-8",
    )
    temp = " ".join(
        f"{k}_temp_path {prefix}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    mime = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").is_file() else ""
    (prefix / "nginx.conf").write_text(
        f"error_log {prefix}/error.log;\npid {prefix}/nginx.pid;\nevents {{}}\n"
        f"http {{\n access_log {prefix}/access.log;\n {temp}\n {mime}\n"
        f" include {prefix}/statistiques.conf;\n}}\n",
        encoding="utf-8",
    )
    command = [str(NGINX), "-p", str(prefix), "-e", f"{prefix}/error.log", "-c", str(prefix / "nginx.conf")]
    process = None
    try:
        subprocess.run([*command, "-t"], check=True, capture_output=True)
        # one process, no worker switching to `nobody` (which could not read the test's temporary site)
        foreground = [*command, "-g", "daemon off; master_process off;"]
        process = subprocess.Popen(foreground, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                pytest.fail(f"nginx exited: {process.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("nginx did not listen within 10 s")
                time.sleep(0.05)
        yield port
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)
        check.shutdown()
        check.server_close()


def fetch(
    port: int, uri: str, uid: str | None = None, method: str = "GET", headers: dict[str, str] | None = None
) -> http.client.HTTPResponse:
    """One request to nginx as user `uid` (the stand-in's session cookie), the URI sent as written."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {**({"Cookie": f"lang=fr; {SESSION_COOKIE}={uid}"} if uid else {}), **(headers or {})}
    connection.request(method, uri, headers=headers)  # sent as written: no client-side normalisation
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response
