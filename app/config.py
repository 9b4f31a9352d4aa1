"""Settings: one class, read from environment variables (prefix ``LANES_``; ``PORT`` and ``WORKERS`` also work)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob an operator can turn. The "Settings" table of docs/operations.md lists them with their defaults."""

    model_config = SettingsConfigDict(env_prefix="LANES_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address to bind.")
    port: int = Field(8000, ge=1, le=65535, validation_alias=AliasChoices("LANES_PORT", "PORT"),
                      description="Port to bind.")
    workers: int = Field(1, ge=1, le=64, validation_alias=AliasChoices("LANES_WORKERS", "WORKERS"),
                         description="uvicorn worker processes.")
    keep_alive_s: int = Field(75, ge=1, le=3600,
                              description="Seconds an idle keep-alive connection stays open: longer than the proxy's own "
                                          "upstream idle timeout (nginx here: 60 s), or the proxy may reuse a connection "
                                          "the app has just closed and answer 502.")
    graceful_shutdown_s: int = Field(30, ge=1, le=3600,
                                     description="Seconds a draining server (after SIGTERM) lets requests in flight "
                                                 "finish before cutting them: below the orchestrator's own grace "
                                                 "period (deploy/k8s: 40 s), or the pod is killed mid-drain.")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field("info", description="uvicorn log level.")
    cache_entries: int = Field(256, ge=0, description="Responses kept per worker (LRU), by count ...")
    cache_bytes: int = Field(64 * 2**20, ge=0, description="... and by total size in bytes.")
    result_cache_entries: int = Field(8, ge=0, description="Computed experiments kept as arrays, to answer other views of them.")
    store_url: str = Field("sqlite:var/results.sqlite3", description="Where finished experiments are kept for every "
                           "worker process and across restarts (app/api/store.py): 'sqlite:<path>', a SQLite file "
                           "(a relative path is from the working directory; its folder is made), 'redis://host:port/db' "
                           "(shared by every replica), or '' for none (each worker keeps its own, in memory only).")
    store_bytes: int = Field(2**30, ge=0, description="Most bytes of experiments the store keeps; past it the least "
                             "recently used go (the default experiment takes ~6.3 MiB).")
    store_lease_s: float = Field(150.0, gt=0, description="How long a worker's claim to compute an experiment lasts: "
                                 "the other workers wait for its result meanwhile, and take over if it expires (its "
                                 "worker died). Above compute_wall_limit_s.")
    warm_presets: str = Field("all", description="The scenarios whose experiments each worker computes in the "
                              "background at start-up (unless the store keeps them already) and encodes for the page's "
                              "first visit (app/api/warmup.py): 'all' (every scenario that is not a job), '' none, or "
                              "scenario ids separated by commas.")
    compute_budget_s: float = Field(6.0, gt=0,
                                    description="Largest estimated CPU time of a drift experiment or an empirical kernel, "
                                    "in seconds of one core of the reference machine (app/ntk/cost.py, docs/performance.md); "
                                    "over it: 422 before anything runs. Estimates are within 2× of measured times, so "
                                    "keep it under half of compute_timeout_s (scaled by this machine's speed).")
    max_parameters: int = Field(2**25, gt=0, description="Largest number of network parameters held at once by one request.")
    max_result_numbers: int = Field(4_000_000, gt=0, description="Largest number of values one experiment may return.")
    max_concurrent: int = Field(1, ge=1, le=64, description="Computations running at once per worker.")
    max_queued: int = Field(4, ge=0, le=1000, description="Computations waiting per worker; beyond that: 503 + Retry-After.")
    compute_timeout_s: float = Field(30.0, gt=0, description="Most CPU time one computation may use (its own thread's "
                                     "CPU clock: other processes' load does not count); then 503.")
    compute_wall_limit_s: float = Field(120.0, gt=0, description="Longest a request waits for its computation in "
                                        "wall-clock time, queue included, however busy the machine; then 503.")
    compute_in: Literal["processes", "threads"] = Field("processes", description="Where computations run: "
                                                       "'processes', a pool of max_concurrent processes beside each web "
                                                       "worker (the event loop never shares a core's interpreter with "
                                                       "them, so /healthz stays fast), or 'threads' in the web worker "
                                                       "itself, at niceness 10 (lighter: for tests and one-off runs).")
    machine_speed: float = Field(1.0, gt=0, le=100, description="This machine's speed relative to the reference machine "
                                 "of the cost model (make bench-cost prints the fitted speed): estimated seconds on this "
                                 "server are reference seconds divided by it.")
    job_budget_s: float = Field(600.0, gt=0, description="Largest estimated CPU time of an experiment run as a job (same "
                                "unit as compute_budget_s); between the two budgets an experiment runs only as a job "
                                "(POST /api/v1/jobs), over it: 422.")
    max_job_parameters: int = Field(2**28, gt=0, description="Largest number of network parameters one job holds at "
                                    "once. A job's process peaks at about 46 bytes per parameter (Jacot et al.'s "
                                    "widths, 2.0e8 parameters: 9.3 GiB): size it to the job workers' memory.")
    queue_url: str = Field("", description="Where jobs wait and run: '' in this server's own processes (job_workers per "
                           "web worker; jobs' state in the result store's SQLite file, or in memory without one), or "
                           "'redis://host:port/db': an RQ queue on Redis, run by `python -m app worker` processes.")
    job_workers: int = Field(1, ge=0, le=64, description="Processes running jobs beside each web worker when queue_url "
                             "is ''; 0: this server runs no jobs itself (only `python -m app worker` does).")
    max_jobs: int = Field(8, ge=0, le=10_000, description="Jobs waiting or running at once (the whole queue); beyond "
                          "that a new job is refused with 503 + Retry-After.")
    max_jobs_per_client: int = Field(2, ge=1, le=1000, description="Jobs one client address may have waiting or running; "
                                     "beyond that 429 + Retry-After.")
    max_body_bytes: int = Field(2**20, ge=1024, description="Largest request body accepted; larger: 413.")
    max_header_bytes: int = Field(32 * 2**10, ge=1024, le=2**20, description="Largest request head (the URL and "
                                  "header lines) accepted; larger: 431, and the connection closes.")
    header_timeout_s: float = Field(10.0, gt=0, le=3600, description="Seconds a client has to send a request's head, "
                                    "from connecting or from the first byte of a later request; then 408 and close.")
    body_timeout_s: float = Field(30.0, gt=0, le=3600, description="Seconds a client has to send a request's body once "
                                  "the request is being processed; then 408 and close.")
    send_timeout_s: float = Field(30.0, gt=0, le=3600, description="Seconds a client may leave the answer unread (the "
                                  "server has bytes to send and the client takes none); then the connection is dropped.")
    fallback_dir: Path | None = Field(None, description="An exported site's data/ folder (python -m app export): served at "
                                      "/data/, where the page finds saved scenario results when the API cannot answer.")
    public_origin: str | None = Field(None, description="The site's public address (https://lanes.example.org), written "
                                      "into the examples of /docs; unset, they use a placeholder (never the Host header).")
    frame_ancestors: str = Field("*", description="Who may frame /embed/*: '*' or space-separated origins (https://lms.example.edu).")
    cors_origins: str = Field("", description="Whose pages' scripts may call the whole API across origins, POSTs included "
                              "(app/serving/cors.py): '' none, '*' any, or space-separated origins. GETs of /api/v1, "
                              "/static, /vendor and /data are readable by every origin regardless.")

    @field_validator("fallback_dir")
    @classmethod
    def _exported(cls, value: Path | None) -> Path | None:
        if value is not None and not (value / "presets.json").is_file():
            raise ValueError(f"fallback_dir must be the data/ folder of a static export (python -m app export DIR "
                             f"writes DIR/data/presets.json); {value} has no presets.json")
        return value

    @field_validator("warm_presets")
    @classmethod
    def _presets(cls, value: str) -> str:
        # The names are checked against the scenarios by app/api/warmup.py warmed_presets(), when the app is made.
        names = [name.strip() for name in value.split(",") if name.strip()]
        return "all" if names == ["all"] else ",".join(names)

    @field_validator("store_url")
    @classmethod
    def _store(cls, value: str) -> str:
        sqlite = value.startswith("sqlite:") and len(value) > len("sqlite:")
        if value and not (sqlite or re.fullmatch(r"rediss?://\S+", value)):
            raise ValueError("store_url must be 'sqlite:<path>' (a SQLite file), 'redis://host:port/db' (Redis, shared "
                             "by replicas) or '' (no shared store)")
        return value

    @model_validator(mode="after")
    def _lease_outlives_a_wait(self) -> Settings:
        if self.store_lease_s <= self.compute_wall_limit_s:
            raise ValueError(f"store_lease_s ({self.store_lease_s:g}) must be above compute_wall_limit_s "
                             f"({self.compute_wall_limit_s:g}): a claim must outlive the computation it covers")
        return self

    @model_validator(mode="after")
    def _queue_needs_a_shared_store(self) -> Settings:
        if self.queue_url and not self.store_url.startswith(("redis://", "rediss://")):
            raise ValueError(f"queue_url ({self.queue_url}) needs store_url on Redis too ('redis://host:port/db', now "
                             f"{self.store_url!r}): job workers keep their results where every web worker finds them")
        return self

    @field_validator("queue_url")
    @classmethod
    def _queue(cls, value: str) -> str:
        if value and not re.fullmatch(r"rediss?://\S+", value):
            raise ValueError("queue_url must be '' (jobs run by this server) or 'redis://host:port/db' (an RQ queue)")
        return value

    @field_validator("public_origin")
    @classmethod
    def _origin(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?", value):
            raise ValueError("public_origin must be an origin like https://lanes.example.org (no path)")
        return value

    @field_validator("frame_ancestors")
    @classmethod
    def _origins(cls, value: str) -> str:
        sources = value.split()
        if not sources or not (sources == ["*"] or all(re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?", s) for s in sources)):
            raise ValueError("frame_ancestors must be '*' or space-separated origins like https://lms.example.edu")
        return " ".join(sources)

    @field_validator("cors_origins")
    @classmethod
    def _cors_origins(cls, value: str) -> str:
        sources = value.split()
        if not (sources in ([], ["*"]) or all(re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?", s) for s in sources)):
            raise ValueError("cors_origins must be empty, '*' or space-separated origins like https://lms.example.edu")
        return " ".join(sources).lower()  # browsers send the Origin header in lower case


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once (tests override the dependency or build their own app)."""
    return Settings()
