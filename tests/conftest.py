"""Shared fixtures: where the real data live, tiny data the tests make, a local HTTP server."""

from __future__ import annotations

import http.server
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
# The real data beside the checkout; ECGREPRO_SHARED_DATA names another place (a worktree).
SHARED_DATA = Path(os.environ.get("ECGREPRO_SHARED_DATA") or REPO.parent / "shared" / "data")


@pytest.fixture
def shared_data() -> Path:
    """The genuine datasets beside the checkout, or a skip that says why."""
    if not (SHARED_DATA / "ucr" / "TwoLeadECG").is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA} (only CI and dev machines have them)")
    return SHARED_DATA


def write_ucr_tsv(path: Path, X: np.ndarray, y) -> Path:
    """Write a split in the UCR 2018 TSV format (label first, tab-separated)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join([str(label), *(f"{v:.8g}" for v in row)]) for label, row in zip(y, X)]
    path.write_text("\n".join(lines) + "\n")
    return path


def tiny_dataset(n_train=6, n_test=8, length=12, labels=("1", "2"), seed=0):
    """Random z-normalised series with the given labels, cycled."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_train + n_test, length))
    X = (X - X.mean(1, keepdims=True)) / X.std(1, ddof=1, keepdims=True)
    y = [labels[i % len(labels)] for i in range(n_train + n_test)]
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``routes``: path -> list of (status, body, declared_length) answers.

    Each request to a path takes the next answer; the last one repeats.
    """

    routes: dict = {}
    hits: dict = {}

    def do_GET(self):  # noqa: N802 (http.server's naming)
        answers = self.routes.get(self.path)
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        if answers is None:
            self.send_error(404)
            return
        status, body, declared = answers[min(self.hits[self.path], len(answers)) - 1]
        self.send_response(status)
        self.send_header("Content-Length", str(declared if declared is not None else len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if declared is not None and declared != len(body):
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    """A server on 127.0.0.1 with programmable answers; yields (base_url, routes, hits)."""

    class Handler(_Handler):
        routes: dict = {}
        hits: dict = {}

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", Handler.routes, Handler.hits
    finally:
        server.shutdown()
        server.server_close()


class _Directory(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve_directory():
    """Serve a directory over HTTP on 127.0.0.1; call with the directory, get its URL."""
    servers = []

    def start(directory: Path) -> str:
        handler = lambda *a, **k: _Directory(*a, directory=str(directory), **k)  # noqa: E731
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def snapshot_workflow(dest: Path) -> Path:
    """A copy of the workflow (Snakefile, workflow/, config/, profiles/, envs/) to run.

    Other work in the checkout (a config key added before its schema entry, say) cannot
    break a run half-way: every job re-reads the config and the code it runs.
    """
    dest.mkdir(parents=True, exist_ok=True)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    for name in ("workflow", "config", "profiles", "envs"):
        shutil.copytree(REPO / name, dest / name, ignore=skip)
    shutil.copy2(REPO / "Snakefile", dest / "Snakefile")
    # the committed MIT-BIH pilot curves: an input of every paper (rule pilot_figure)
    pilots = Path("results/reference/pilots")
    shutil.copytree(REPO / pilots, dest / pilots, ignore=skip)
    return dest
