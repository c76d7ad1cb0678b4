"""Shared pieces: a local HTTP server on 127.0.0.1 and a fast keyword scorer."""

import http.server
import re
import threading

import numpy as np
import pytest

UP = re.compile(r"\b(climbs?|jumps?|rall(y|ies)|surges?|soars?|gains?|record)\b", re.I)
DOWN = re.compile(r"\b(falls?|slides?|sinks?|plunges?|tumbles?|hack(ed)?|drops?)\b", re.I)


class KeywordScorer:
    """A stand-in for the transformer: fixed keyword rules, and a log of every batch it scored."""

    name = "keyword stand-in"
    loaded = True

    def __init__(self):
        self.calls: list[list[str]] = []

    def load(self):
        pass

    def score(self, texts, *, batch_size=32):
        self.calls.append(list(texts))
        out = np.tile([0.1, 0.8, 0.1], (len(texts), 1))
        for i, text in enumerate(texts):
            if UP.search(text):
                out[i] = [0.05, 0.15, 0.8]
            elif DOWN.search(text):
                out[i] = [0.8, 0.15, 0.05]
        return out


@pytest.fixture
def keyword_scorer():
    return KeywordScorer()


@pytest.fixture
def serve_dir(tmp_path):
    """Serve `tmp_path` over HTTP on 127.0.0.1; yields the base URL and the directory."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", tmp_path
    httpd.shutdown()
    httpd.server_close()
