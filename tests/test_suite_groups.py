"""The suite's own scheduling: ``make test`` runs ``pytest -n 2 --dist loadfile``, so a module's tests share one worker
process, in order, and its module fixtures (tests/web/test_jobs.py's second test draws the job its first test ran, from
the store of their module's server).

Not ``--dist loadgroup``: with pytest 9.2 its groups are silently ignored (xdist marks a group by rewriting each test's
id, which pytest 9.2 no longer reads: pytest-dev/pytest-xdist#1386), so every test was scheduled on its own and a
module's tests could run in two processes, each with a server and store of its own."""

from __future__ import annotations

import os

import pytest

worker_of_first: list[str] = []  # the worker process that ran the first test below, in this process


def test_the_first_test_of_a_module_notes_its_worker() -> None:
    worker_of_first.append(os.environ.get("PYTEST_XDIST_WORKER", "main"))


def test_the_second_test_of_a_module_runs_after_it_in_the_same_process(request: pytest.FixtureRequest) -> None:
    if not any(item.name == "test_the_first_test_of_a_module_notes_its_worker" for item in request.session.items):
        pytest.skip("the first test was not selected")
    assert worker_of_first == [os.environ.get("PYTEST_XDIST_WORKER", "main")]
