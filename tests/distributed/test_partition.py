"""The book's partitions: every account in one, no margin set across two, and ``--dask``."""

from __future__ import annotations

import socket
import threading

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book, load_demo_book
from marginlex.engine.distributed.cluster import (
    MAX_LOCAL_WORKERS,
    ClusterError,
    ClusterKind,
    ClusterSpec,
    open_client,
)
from marginlex.engine.distributed.partition import account_components, pack, split_book
from marginlex.engine.run import run_rulebook


def test_pack_puts_the_largest_component_first_into_the_lightest_partition() -> None:
    # sizes: component 0 has 3 accounts, 1 has 1, 2 has 2 -> 0 to p0, 2 to p1, 1 to p1
    labels = np.array([0, 1, 2, 0, 2, 0])
    assert pack(labels, 2).tolist() == [0, 1, 1, 0, 1, 0]
    assert pack(labels, 5).tolist() == [0, 2, 1, 0, 1, 0]
    with pytest.raises(ValueError, match="at least 1 partition, not 0"):
        pack(labels, 0)


def test_demo_components_join_one_owner_and_pledged_lots() -> None:
    book = load_demo_book()
    labels = pd.Series(account_components(book), index=book.accounts["account_id"].astype(str))
    # DELTA owns a PM and a futures account; ECHO a cross-margin and an SEC account
    assert labels["A04_DELTA_PM"] == labels["A05_DELTA_FUT"]
    assert labels["A06_ECHO_XM"] == labels["A07_ECHO_SEC"]
    # LIMA's account is rehypothecated to MIKE's, and MIKE's to the house account H_BD1
    assert labels["A14_LIMA_FIN"] == labels["A15_MIKE_MGN"] == labels["H_BD1"]
    assert labels["A01_ALICE_PM"] != labels["A02_BOB_PM"]


@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_every_account_and_row_is_in_exactly_one_partition(book: Book, k: int) -> None:
    parts = split_book(book, k)
    assert 1 <= len(parts) <= k
    for stem in ("accounts", "positions", "collateral"):
        rows = pd.concat([p.frame(stem) for p in parts], ignore_index=True)
        key = book.frame(stem).columns[0:3].tolist()
        merged = rows.sort_values(key, kind="stable").reset_index(drop=True)
        whole = book.frame(stem).sort_values(key, kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(merged, whole)
    for p in parts:  # the whole book's identity, its small tables whole
        assert (p.sha256, p.name, p.as_of) == (book.sha256, book.name, book.as_of)
        pd.testing.assert_frame_equal(p.parties, book.parties)
        pd.testing.assert_frame_equal(p.instruments, book.instruments)


def test_no_margin_set_spans_two_partitions(book: Book, rulebooks: list[ResolvedRulebook]) -> None:
    parts = split_book(book, 4)
    part_of = {a: i for i, p in enumerate(parts) for a in p.accounts["account_id"].astype(str)}
    for rulebook in rulebooks:
        sets = run_rulebook(rulebook, book).frames["sets"]
        spans = sets.groupby("margin_set_id", observed=True)["account_id"].agg(
            lambda ids: len({part_of[str(a)] for a in ids})
        )
        assert len(spans) and (spans == 1).all(), spans[spans > 1]


@pytest.mark.parametrize(
    ("text", "kind", "workers", "address"),
    [
        ("local:1", ClusterKind.LOCAL, 1, ""),
        ("local:16", ClusterKind.LOCAL, 16, ""),
        ("tcp://10.0.0.5:8786", ClusterKind.SCHEDULER, 0, "tcp://10.0.0.5:8786"),
    ],
)
def test_dask_values(text: str, kind: ClusterKind, workers: int, address: str) -> None:
    assert ClusterSpec.parse(text) == ClusterSpec(kind=kind, workers=workers, address=address)


@pytest.mark.parametrize("text", ["local:0", "local", "local:x", "tcp://", "10.0.0.5:8786"])
def test_a_dask_value_that_names_no_cluster_is_refused(text: str) -> None:
    with pytest.raises(ClusterError) as exc:
        ClusterSpec.parse(text)
    assert str(exc.value) == (
        f"--dask {text!r} names no cluster: give local:N (N worker processes on this machine, "
        "N >= 1) or the scheduler's address, tcp://HOST:8786"
    )


def test_more_local_workers_than_the_limit_are_refused() -> None:
    # local:999999999999 once tried to start that many worker processes
    assert ClusterSpec.parse(f"local:{MAX_LOCAL_WORKERS}").workers == MAX_LOCAL_WORKERS == 64
    with pytest.raises(ClusterError) as exc:
        ClusterSpec.parse("local:999999999999")
    assert str(exc.value) == (
        "--dask 'local:999999999999': at most local:64 (each worker is a process of this "
        "machine holding its partitions): for more, start workers on other machines and give "
        "the scheduler, tcp://HOST:8786"
    )


def test_run_refuses_a_dask_value_that_names_no_cluster() -> None:
    result = CliRunner().invoke(app, ["run", "--dask", "local:0", "-r", "sec"])
    assert result.exit_code == 1
    said = " ".join(result.stderr.split())
    assert "error: --dask 'local:0' names no cluster: give local:N" in said


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_run_says_at_once_that_no_scheduler_answers() -> None:
    # it retried for 30 s, after reading the book, then said "Timed out trying to connect"
    port = _closed_port()
    result = CliRunner().invoke(app, ["run", "--dask", f"tcp://127.0.0.1:{port}", "-r", "sec"])
    assert result.exit_code == 1
    said = " ".join(result.stderr.split())
    assert said == (
        f"error: --dask tcp://127.0.0.1:{port}: no scheduler answers there (connection "
        f"refused); start one on that machine with `dask scheduler --port {port}` and its "
        f"workers with `dask worker tcp://127.0.0.1:{port}`, or check the address"
    )


def test_a_scheduler_address_without_a_usable_port_is_refused() -> None:
    with pytest.raises(ClusterError, match="give the scheduler's host and port"):
        ClusterSpec.parse("tcp://127.0.0.1:99999").check_reachable()


def test_a_server_that_is_not_a_scheduler_is_said_so() -> None:
    # an HTTP server's reply was read as a Dask frame length: "Unable to allocate 3.07 EiB"
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n")

    def serve() -> None:
        answer()  # the probe's connection
        answer()  # the client's

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with (
            pytest.raises(ClusterError) as exc,
            open_client(ClusterSpec.parse(f"tcp://127.0.0.1:{port}")),
        ):
            pass
    finally:
        server.close()
    assert str(exc.value).startswith(
        f"--dask tcp://127.0.0.1:{port}: what answers there is not a Dask scheduler"
    )


def test_a_server_that_says_nothing_is_not_waited_for() -> None:
    # an HTTP server (the console, uvicorn) waits for a request and the Dask client waited for
    # its handshake: `run --dask tcp://127.0.0.1:8765` hung without end
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        with pytest.raises(ClusterError) as exc:
            ClusterSpec.parse(f"tcp://127.0.0.1:{port}").check_reachable(timeout=0.5)
    finally:
        server.close()
    assert str(exc.value).startswith(
        f"--dask tcp://127.0.0.1:{port}: what answers there is not a Dask scheduler (it said "
        "nothing within 0.5 s of the connection"
    )


def test_a_partition_a_rulebook_decides_nothing_in_has_no_decisions() -> None:
    # the demo's first three private clients hold SEC accounts only: cftc decides no set
    book = load_demo_book()
    sec_only = book.accounts["account_id"].isin(["A01_ALICE_PM", "A02_BOB_PM", "A03_CAROL_PM"])
    keep = book.accounts["account_id"][sec_only]
    part = book.model_copy(
        update={
            "accounts": book.accounts[sec_only].reset_index(drop=True),
            "positions": book.positions[book.positions["account_id"].isin(keep)].reset_index(
                drop=True
            ),
            "collateral": book.collateral[book.collateral["account_id"].isin(keep)].reset_index(
                drop=True
            ),
        }
    )
    ev = run_rulebook("cftc", part)
    assert len(ev.decisions) == 0 and ev.out_of_scope == 3
    assert all(len(frame) == 0 for name, frame in ev.frames.items() if name != "eligibility")
    assert len(run_rulebook("sec", part).decisions) == 3
