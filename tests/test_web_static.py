"""The UI's static files as the server serves them: every module import resolves, CSP-clean HTML."""

from __future__ import annotations

import re
from urllib.parse import urljoin

from tests.helpers.support import ServerThread, demo_config

IMPORT = re.compile(r'^import .*? from "(\.[^"]+)";', re.MULTILINE | re.DOTALL)


def test_every_module_import_resolves_with_a_script_type(tmp_path):
    with ServerThread(demo_config(str(tmp_path))) as server:
        status, headers, page = server.get("/")
        assert status == 200
        html = page.decode()
        assert "style=" not in html and "<script>" not in html  # nothing inline for the CSP
        entry = re.search(r'<script type="module" src="([^"]+)"', html)
        assert entry and not entry.group(1).startswith("/")  # relative: works behind a prefix
        pending, seen = [urljoin(server.url + "/", entry.group(1))], set()
        while pending:
            url = pending.pop()
            if url in seen:
                continue
            seen.add(url)
            status, headers, body = server.get(url[len(server.url) :])
            assert status == 200, url
            assert "javascript" in headers["Content-Type"], url
            assert headers["Cache-Control"] == "no-cache"
            pending += [urljoin(url, path) for path in IMPORT.findall(body.decode())]
        assert len(seen) >= 8
        for asset in ("/static/app.css", "/static/icon.svg"):
            assert server.get(asset)[0] == 200
