#!/usr/bin/env python3
"""The API fuzzer against each example, from its own OpenAPI document (docs/openapi.md).

For each example (axum, actix, rocket; all three without an argument): start its binary on a
free port in a fresh directory (so a fresh SQLite database and JWT secret), fetch
`/api/users/openapi.json`, validate it against the OpenAPI 3.1 schema (openapi-spec-validator),
check that every route of the core's table is in it, sign an admin in (register, confirm with
the mailed link the example prints, log in), and run schemathesis twice with a bearer token:
first every operation that leaves the admin's session alive, then every operation (those that
end sessions included). Checks: no 5xx, every status documented, every body and content type
as documented. Exits non-zero on any finding.

Usage: python3 tests/fuzz/fuzz.py [axum|actix|rocket ...]
Env: AUTHX_FUZZ_MAX_EXAMPLES (default 15), AUTHX_FUZZ_SEED (default 1), SCHEMATHESIS (the
command, default `schemathesis`), AUTHX_FUZZ_BIN (the binaries' folder, default target/debug).
"""

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from openapi_spec_validator import validate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PREFIX = "/api/users"
ADMIN = {"email": "fuzz-admin@example.com", "username": "fuzzadmin", "password": "fuzz-admin-pw-1"}
# Operations that end the caller's session (or may): fuzzed in the second run only, so that the
# first one runs every other operation with a live admin session.
ENDS_SESSIONS = [
    "auth:logout",
    "auth:logout_all",
    "auth:revoke_session",
    "auth:revoke_other_sessions",
    "auth:refresh_access_token",
    "auth:password_change",
    "auth:password_reset",
    "admin:kick",
    "admin:set_blackout",
    "admin:toggle_blacklist",
    "admin:update_permissions",
    "auth:change_username",
]
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(base, method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class Example:
    """One example binary on a free port, in a directory of its own."""

    def __init__(self, adapter, bindir):
        self.adapter = adapter
        self.dir = tempfile.TemporaryDirectory(prefix=f"authx-fuzz-{adapter}-")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.lines = []
        env = dict(os.environ)
        env.update(
            {
                "AUTHX_ADDR": f"127.0.0.1:{self.port}",
                "AUTHX_BASE_URL": self.base,
                "AUTHX_ADMIN_EMAILS": ADMIN["email"],
                # Every request comes from one address.
                "AUTHX_LOGIN_LIMIT_PER_IP": "0",
                "RUST_LOG": "warn",
            }
        )
        for var in ["DATABASE_URL", "REDIS_URL", "SMTP_HOST"]:
            env.pop(var, None)
        binary = os.path.join(bindir, f"authx-example-{adapter}")
        self.process = subprocess.Popen(
            [binary],
            cwd=self.dir.name,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self):
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.adapter}: exited early:\n" + "\n".join(self.lines))
            try:
                status, _, body = request(self.base, "GET", PREFIX + "/openapi.json")
                if status == 200:
                    return json.loads(body)
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{self.adapter}: not listening after 60 s")

    def mailed_token(self, kind):
        deadline = time.time() + 30
        while time.time() < deadline:
            for line in self.lines:
                found = re.search(kind + r"\?token=([A-Za-z0-9_\-]+)", line)
                if found:
                    return found.group(1)
            time.sleep(0.2)
        raise SystemExit(f"{self.adapter}: no {kind} link in the output:\n" + "\n".join(self.lines))

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.dir.cleanup()


def check_document(adapter, doc):
    validate(doc)
    operations = {
        op["operationId"]: (method.upper(), path)
        for path, item in doc["paths"].items()
        for method, op in item.items()
    }
    # The route table, as the core's documentation lists it (docs/openapi.md keeps it).
    table = os.path.join(ROOT, "docs", "openapi.md")
    expected = re.findall(r"^\| `([a-z_]+:[a-z_]+)` \| (GET|POST|PUT|DELETE) \| `([^`]*)` \|", open(table).read(), re.M)
    missing = []
    for name, method, path in expected:
        if name == "auth:jwks":
            continue  # served with asymmetric keys only; the examples use HS256
        if name.startswith("social:"):
            continue  # the social router has a prefix of its own (/auth), with no document
        if operations.get(name) != (method, PREFIX + path):
            missing.append(f"{name} {method} {PREFIX + path}: {operations.get(name)}")
    if missing or not expected:
        raise SystemExit(f"{adapter}: routes missing from the document:\n" + "\n".join(missing))
    print(f"{adapter}: the document is valid OpenAPI {doc['openapi']}, {len(operations)} operations")


def admin_token(example):
    base = example.base
    status, _, body = request(
        base,
        "POST",
        PREFIX + "/register",
        {
            "email": ADMIN["email"],
            "username": ADMIN["username"],
            "password1": ADMIN["password"],
            "password2": ADMIN["password"],
        },
    )
    assert status == 200, (status, body)
    token = example.mailed_token("confirm")
    status, _, body = request(base, "POST", f"{PREFIX}/confirm/{token}")
    assert status == 200, (status, body)
    token = admin_login(example)
    if token is None:
        raise SystemExit(f"{example.adapter}: the admin could not log in")
    return token


def schemathesis(example, token, exclude, label):
    command = shlex.split(os.environ.get("SCHEMATHESIS", "schemathesis")) + [
        "run",
        f"{example.base}{PREFIX}/openapi.json",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        os.environ.get("AUTHX_FUZZ_MAX_EXAMPLES", "15"),
        "--seed",
        os.environ.get("AUTHX_FUZZ_SEED", "1"),
        "--workers",
        os.environ.get("AUTHX_FUZZ_WORKERS", "1"),
        "--request-timeout",
        "30",
        "--header",
        f"Authorization: Bearer {token}",
        "--suppress-health-check",
        "all",
    ]
    for operation_id in exclude:
        command += ["--exclude-operation-id", operation_id]
    print(f"{example.adapter}: schemathesis, {label}", flush=True)
    started = time.time()
    result = subprocess.run(command, cwd=example.dir.name)
    print(f"{example.adapter}: schemathesis {label}: exit {result.returncode}, {time.time() - started:.0f} s", flush=True)
    return result.returncode == 0


def main():
    adapters = sys.argv[1:] or ["axum", "actix", "rocket"]
    bindir = os.environ.get("AUTHX_FUZZ_BIN", os.path.join(ROOT, "target", "debug"))
    passed = failed = 0
    for adapter in adapters:
        example = Example(adapter, bindir)
        try:
            doc = example.wait_ready()
            check_document(adapter, doc)
            token = admin_token(example)
            for exclude, label in [(ENDS_SESSIONS, "with a live admin session"), ([], "every operation")]:
                if schemathesis(example, token, exclude, label):
                    passed += 1
                else:
                    failed += 1
                # The second run starts from a fresh admin session.
                token = admin_login(example) or token
        finally:
            example.stop()
    print(f"fuzz: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def admin_login(example):
    """The access token of a new admin session, or None when login is refused."""
    status, headers, _ = request(
        example.base,
        "POST",
        PREFIX + "/login",
        {"login": ADMIN["username"], "password": ADMIN["password"]},
    )
    if status != 200:
        return None
    for cookie in headers.get_all("Set-Cookie"):
        if cookie.startswith("access_token="):
            return cookie.split(";")[0].split("=", 1)[1]
    return None


if __name__ == "__main__":
    main()
