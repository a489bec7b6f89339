"""Lease latency, p50/p99, with and without a refresh at the platform.

Starts the sandbox and the auth service as real processes (SQLite by default,
or ``--database-url postgresql+asyncpg://…``), signs a client in with the
sandbox TikTok through the real consent redirects, then times
``POST /internal/v1/accounts/{id}/lease`` through the publishers' own
``LeaseClient``:

* *no refresh*: the held access token is valid (decrypt + audit row);
* *refresh*: ``force_refresh=true``, so every lease refreshes at the sandbox
  (token endpoint round trip, rotated refresh token sealed and stored).

Run: ``uv run python bench/lease_latency.py [-n 300] [--postgres | --database-url URL]``
(``--postgres`` starts a private PostgreSQL cluster for the run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from cachalot_common.crypto import generate_key
from cachalot_common.grants import generate_signing_key, mint_grant
from cachalot_common.leases import LeaseClient
from cachalot_testing.processes import ServiceProcess

SECRET = "bench-publisher-secret-0123456789abcdef"
GRANT_KEY = generate_signing_key("bench")  # the queue's: signs the publish grants


def sandbox_env(base: str) -> dict[str, str]:
    return {
        "CACHALOT_TIKTOK_AUTH_BASE": f"{base}/tiktok",
        "CACHALOT_TIKTOK_API_BASE": f"{base}/tiktok",
        "CACHALOT_TIKTOK_CLIENT_KEY": "sandbox-tiktok-client-key",
        "CACHALOT_TIKTOK_CLIENT_SECRET": "sandbox-tiktok-client-secret",
    }


async def sign_in(auth: str) -> tuple[str, str]:
    """Sign in with the sandbox TikTok; the account id and the client id."""
    async with httpx.AsyncClient(base_url=auth, timeout=30) as browser:
        start = await browser.get("/api/v1/auth/tiktok/login")
        consent_url = httpx.URL(start.headers["location"]).copy_merge_params(
            {"sandbox_auto": "allow"}
        )
        consent = await browser.get(consent_url)
        await browser.get(consent.headers["location"])
        answer = await browser.post(
            "/api/v1/me/consent", json={"adult": True, "email": "bench@example.com"}
        )
        answer.raise_for_status()
        account = str((await browser.get("/api/v1/accounts")).json()[0]["id"])
        return account, str((await browser.get("/api/v1/me")).json()["client_id"])


def granted(account_id: str, client_id: str) -> tuple[uuid.UUID, str]:
    """A lease's post and the grant the queue would have signed for it (not timed)."""
    post_id = uuid.uuid4()
    grant = mint_grant(
        post_id=post_id,
        target_id=uuid.uuid4(),
        client_id=uuid.UUID(client_id),
        account_id=uuid.UUID(account_id),
        platform="tiktok",
        attempt=1,
        key=GRANT_KEY,
        lifetime_s=3600,
    )
    return post_id, grant


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(
    auth: str, account_id: str, client_id: str, n: int, *, refresh: bool
) -> list[float]:
    async with httpx.AsyncClient() as http:
        client = LeaseClient(base_url=auth, service="publisher-tiktok", secret=SECRET, client=http)
        account = uuid.UUID(account_id)
        for _ in range(10):  # warm up connections and caches
            post_id, grant = granted(account_id, client_id)
            await client.lease(account, post_id=post_id, grant=grant)
        samples = []
        for _ in range(n):
            post_id, grant = granted(account_id, client_id)
            started = time.perf_counter()
            await client.lease(account, post_id=post_id, grant=grant, force_refresh=refresh)
            samples.append((time.perf_counter() - started) * 1000)
        return samples


async def run(n: int, database_url: str | None, workdir: Path) -> None:
    sandbox = ServiceProcess(
        "cachalot_sandbox", env={"CACHALOT_LOG_LEVEL": "WARNING"}, log_path=workdir / "sandbox.log"
    )
    auth = ServiceProcess(
        "cachalot_auth",
        env={
            **sandbox_env(sandbox.base_url),
            "CACHALOT_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{workdir}/auth.db",
            "CACHALOT_TOKEN_KEYS": f"v1:{generate_key()}",
            "CACHALOT_SESSION_SECRET": "bench-session-secret-0123456789",
            "CACHALOT_COOKIE_SECURE": "false",
            "CACHALOT_SERVICE_CREDENTIALS": json.dumps({"publisher-tiktok": SECRET}),
            "CACHALOT_GRANT_PUBLIC_KEYS": GRANT_KEY.public_setting(),
            "CACHALOT_KAFKA_BOOTSTRAP": "127.0.0.1:1",
            "CACHALOT_LOG_LEVEL": "WARNING",
            "CACHALOT_AUTH_RATE_LIMIT": "10000/minute",
        },
        log_path=workdir / "auth.log",
    )
    auth.env["CACHALOT_PUBLIC_URL"] = auth.base_url
    # the fake consent page accepts only the callbacks registered on this origin
    sandbox.env["CACHALOT_PUBLIC_URL"] = auth.base_url
    sandbox.start(timeout=90)
    try:
        auth.start(timeout=90)
        account_id, client_id = await sign_in(auth.base_url)
        async with httpx.AsyncClient() as http:  # the HTTP floor on this machine
            probe = []
            for _ in range(n):
                started = time.perf_counter()
                await http.get(f"{auth.base_url}/healthz")
                probe.append((time.perf_counter() - started) * 1000)
            print(
                f"GET /healthz        n={n}: p50={statistics.median(probe):6.1f} ms  "
                f"p99={percentile(probe, 0.99):6.1f} ms"
            )
        for label, refresh in (("no refresh", False), ("refresh", True)):
            samples = await measure(auth.base_url, account_id, client_id, n, refresh=refresh)
            print(
                f"lease ({label:10}) n={n}: p50={statistics.median(samples):6.1f} ms  "
                f"p99={percentile(samples, 0.99):6.1f} ms  max={max(samples):6.1f} ms"
            )
    finally:
        auth.stop()
        sandbox.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--postgres", action="store_true", help="start a private PostgreSQL")
    args = parser.parse_args()
    cluster = None
    url = args.database_url
    if args.postgres:
        from cachalot_testing.postgres import PostgresCluster

        cluster = PostgresCluster().start()
        url = cluster.create_database("lease_bench")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(run(args.n, url, Path(tmp)))
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
