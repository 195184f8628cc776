"""Jobs: the long operations the API accepts (create, clone, backup, restore, delete), kept in
the catalog and run by the API process in a bounded pool of threads.

Accepting a job claims every tenant it touches in the same transaction (catalog.jobs): a second
operation on a tenant is refused with the first one's id. Several API processes share the queue:
each claims the oldest queued job with FOR UPDATE SKIP LOCKED. A job holds an advisory lock named
after it for its whole run, taken before it is marked running and given up after it is marked
finished; so a job marked running whose lock nobody holds has lost its process (kill -9, a lost
node). `recover()`, at start and every RECOVER_SECONDS, takes such a job's lock itself and ends
it: a create without a caller's password is queued again (provisioning finishes a half-made
tenant, tenants.unfinished), any other is concluded after `db sweep` put its leftovers right
(control.operations.conclude).

An admin password given by the caller is kept in this process's memory only, never in the
catalog: such a job is run by the process that accepted it (whose own lock says it is alive), and
fails if that process is gone before it ran.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from typing import Any

import psycopg2
import psycopg2.extensions

from odoo_saas_tools.catalog import jobs as catalog_jobs
from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog.jobs import Job
from odoo_saas_tools.control import audit, events, idempotency, operations
from odoo_saas_tools.control.errors import Held, NotFound
from odoo_saas_tools.core.errors import BusyError, SaasError, first_line
from odoo_saas_tools.core.reserved import RESERVED_PREFIX
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.locks import HeldLock, advisory_lock

log = logging.getLogger(__name__)

RECOVER_SECONDS = 15.0
POLL_SECONDS = 1.0
MAX_ATTEMPTS = 3  # runs of a resumed create before it is failed
INSTANCE = "_instance"  # params key: the process holding the job's secrets


def lock_name(job_id: str) -> str:
    return f"{RESERVED_PREFIX}job_{job_id}"


def instance_lock_name(instance: str) -> str:
    return f"{RESERVED_PREFIX}api_{instance}"


# --- reading -------------------------------------------------------------------------------
def get(settings: Settings, job_id: str) -> Job:
    try:
        uuid.UUID(job_id)
    except ValueError:
        raise NotFound(f"no job {job_id}") from None
    with store.session(settings) as cr:
        job = catalog_jobs.get(cr, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


def take_password(settings: Settings, job_id: str) -> str | None:
    """A create's generated admin password, handed out once (then gone from the catalog)."""
    with store.session(settings) as cr:
        return catalog_jobs.take_secret(cr, job_id, operations.GENERATED_PASSWORD)


def search(
    settings: Settings,
    *,
    tenant: str | None = None,
    state: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Job]:
    with store.session(settings) as cr:
        return catalog_jobs.search(cr, tenant=tenant, state=state, limit=limit, offset=offset)


# --- accepting -----------------------------------------------------------------------------
def submit(
    cr: psycopg2.extensions.cursor,
    *,
    kind: str,
    tenant: str,
    params: dict[str, Any],
    claims: list[str] | None = None,
    token: str | None = None,
    idempotency_key: str | None = None,
    runner: Runner | None = None,
    secrets: dict[str, str] | None = None,
) -> Job:
    """A queued job in cr's transaction, holding tenant (and claims); Held when one is taken.
    secrets stay in runner's memory (it must be given with them)."""
    if kind not in operations.KINDS:
        raise SaasError(f"unknown job kind {kind!r}")
    params = dict(params)
    if secrets:
        assert runner is not None, "a job with secrets needs the runner that keeps them"
        params[INSTANCE] = runner.instance
    try:
        job = catalog_jobs.insert(
            cr,
            kind=kind,
            tenant=tenant,
            params=params,
            claims=[tenant, *(claims or [])],
            token=token,
            idempotency_key=idempotency_key,
        )
    except catalog_jobs.Claimed as exc:
        raise Held(exc.tenant, exc.job) from None
    if secrets and runner is not None:
        runner.keep_secrets(job.id, secrets)
    return job


# --- running -------------------------------------------------------------------------------
class Runner:
    """Runs queued jobs in at most settings.api_jobs threads; recovers lost ones."""

    def __init__(self, settings: Settings, workers: int | None = None) -> None:
        self.settings = settings
        self.workers = workers or settings.api_jobs
        self.instance = uuid.uuid4().hex[:16]
        self._secrets: dict[str, dict[str, str]] = {}
        self._active: set[str] = set()
        self._mutex = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._alive = contextlib.ExitStack()

    # the accepting side
    def keep_secrets(self, job_id: str, secrets: dict[str, str]) -> None:
        with self._mutex:
            self._secrets[job_id] = dict(secrets)

    def wake(self) -> None:
        """Look at the queue now (a job was committed), not at the next poll."""
        self._wake.set()

    # life cycle
    def start(self) -> None:
        # held for this process's life: a job whose secrets are here is run by no one else
        self._alive.enter_context(
            advisory_lock(self.settings, instance_lock_name(self.instance), busy="instance taken")
        )
        self._thread = threading.Thread(target=self._loop, name="jobs", daemon=True)
        self._thread.start()

    def stop(self, wait_seconds: float = 20.0) -> list[str]:
        """Stop taking jobs; wait for running ones a while. Returns those still running: they
        end with the process and are recovered by the next one (as after a kill)."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            with self._mutex:
                if not self._active:
                    break
            time.sleep(0.1)
        with self._mutex:
            left = sorted(self._active)
        if not left:
            self._alive.close()
        return left

    def _loop(self) -> None:
        next_recovery = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_recovery:
                    self.recover()
                    next_recovery = time.monotonic() + RECOVER_SECONDS
                while not self._stop.is_set() and self._free() and self._start_next():
                    pass
            except (SaasError, psycopg2.Error, OSError) as exc:
                log.error("job queue: %s", first_line(exc))
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()

    def _free(self) -> bool:
        with self._mutex:
            return len(self._active) < self.workers

    def _start_next(self) -> bool:
        """Claim the oldest job this process may run, with its lock; False when none."""
        stack = contextlib.ExitStack()
        try:
            with store.session(self.settings) as cr:
                job = catalog_jobs.next_queued(cr, self.instance)
                if job is None:
                    return False
                try:
                    stack.enter_context(
                        advisory_lock(self.settings, lock_name(job.id), busy="being recovered")
                    )
                except BusyError:
                    return False  # a recovery queues it again just now: the next turn
                catalog_jobs.mark_running(cr, job.id)
        except BaseException:
            stack.close()
            raise
        with self._mutex:
            self._active.add(job.id)
        threading.Thread(
            target=self._run, args=(job, stack), name=f"job-{job.id[:8]}", daemon=True
        ).start()
        return True

    def _run(self, job: Job, stack: contextlib.ExitStack) -> None:
        with self._mutex:
            secrets = self._secrets.pop(job.id, {})
        job = catalog_jobs.Job(**{**job.__dict__, "attempts": job.attempts + 1})
        try:
            with stack:
                result, error = None, None
                try:
                    result = operations.run(self.settings, job, secrets)
                    state = "succeeded"
                except SaasError as exc:
                    state, error = "failed", first_line(exc)
                except Exception as exc:  # a bug must not leave the job running forever
                    log.exception("job %s (%s) failed", job.id, job.kind)
                    state, error = "failed", f"internal error: {first_line(exc)}"
                self._finish(job, state, result, error)
        finally:
            with self._mutex:
                self._active.discard(job.id)
            self._wake.set()

    def _finish(
        self, job: Job, state: str, result: dict[str, Any] | None, error: str | None
    ) -> None:
        """Mark the job finished with the events its end makes (retried while PostgreSQL is
        briefly away); the lock is held."""
        for attempt in range(5):
            try:
                with store.session(self.settings) as cr:
                    self._record_end(cr, job, state, result, error)
                break
            except (SaasError, psycopg2.Error) as exc:
                log.warning("job %s: recording its end failed: %s", job.id, first_line(exc))
                time.sleep(0.5 * (attempt + 1))
        audit.line(
            {"job": job.id, "kind": job.kind, "tenant": job.tenant, "state": state, "error": error}
        )

    def _record_end(
        self,
        cr: psycopg2.extensions.cursor,
        job: Job,
        state: str,
        result: dict[str, Any] | None,
        error: str | None,
    ) -> None:
        """The job's end and the events it makes (webhooks), in cr's transaction."""
        catalog_jobs.finish(cr, job.id, state=state, result=result, error=error)
        for kind, tenant, payload in operations.events_of(self.settings, job, state, result, error):
            events.emit(cr, kind, tenant, payload)

    # recovery
    def recover(self) -> None:
        """End the jobs whose process is gone (see the module's docstring)."""
        with store.session(self.settings) as cr:
            running = catalog_jobs.running(cr)
            orphaned = catalog_jobs.queued_with_instance(cr)
            idempotency.purge(cr)
        swept = False
        for job in running:
            with self._mutex:
                if job.id in self._active:
                    continue
            try:
                with advisory_lock(self.settings, lock_name(job.id), busy="running") as lock:
                    swept = self._recover_one(job, lock, swept)
            except BusyError:
                continue  # its process is alive and runs it
        for job in orphaned:
            if job.params.get(INSTANCE) == self.instance:
                continue
            try:
                with (
                    advisory_lock(
                        self.settings, instance_lock_name(job.params[INSTANCE]), busy="alive"
                    ),
                    store.session(self.settings) as cr,
                ):
                    self._record_end(
                        cr,
                        job,
                        "failed",
                        None,
                        "the API process that accepted it (and held the admin "
                        "password) stopped before it ran: nothing was done; send it again",
                    )
            except BusyError:
                continue

    def _recover_one(self, job: Job, lock: HeldLock, swept: bool) -> bool:
        with store.session(self.settings) as cr:
            current = catalog_jobs.get(cr, job.id)
            if current is None or current.state != "running":
                return swept  # it finished meanwhile
            if operations.resumable(current) and current.attempts < MAX_ATTEMPTS:
                catalog_jobs.requeue(cr, job.id, "resumed after its process was stopped")
                log.warning("job %s (%s of %s) lost its process: queued again", *_who(job))
                self._wake.set()
                return swept
        if not swept:
            operations.sweep(self.settings)
        lock.ensure_held("concluding a lost job")
        state, result, error = operations.conclude(self.settings, current)
        log.warning("job %s (%s of %s) lost its process: %s", *_who(job), error or state)
        self._finish(current, state, result, error)
        return True


def _who(job: Job) -> tuple[str, str, str | None]:
    return job.id, job.kind, job.tenant
