"""The live socket's ?meta=1 side channel and GET /api/cameras/{name}/motion/history."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import tornado.websocket

from camwatch.config import MotionConfig
from camwatch.frame import Frame
from camwatch.service import Service
from tests.helpers.live_clients import read_messages
from tests.helpers.support import ServerThread, demo_config, wait_until


def plain_server(data_dir: str, **options: Any) -> ServerThread:
    """A server without recorders, so the only deltas are the ones a test feeds."""
    return ServerThread(demo_config(data_dir, **options), factory=Service)


def feed_deltas(server: ServerThread, value_of: Any) -> None:
    """Make the camera record value_of(frame) as its delta on every frame (like the recorder)."""
    camera = server.service.context.cameras["cam"]  # type: ignore[union-attr]

    def listener(frame: Frame) -> None:
        camera.record_delta(frame, value_of(frame))

    camera.listeners.append(listener)


def test_meta_message_precedes_each_binary_frame(tmp_path):
    with plain_server(str(tmp_path)) as server:
        feed_deltas(server, lambda frame: 1.5)
        url = server.url.replace("http", "ws") + "/cameras/cam/ws?meta=1"
        messages = asyncio.run(read_messages(url, 8))
    # the first frame may be the hub's latest from before the listener ran; pairs still alternate
    kinds = [type(m) for m in messages]
    assert kinds == [str, bytes] * 4
    metas = [json.loads(m) for m in messages if isinstance(m, str)]
    assert all(
        m["type"] == "meta" and m["online"] is True and m["recording"] is False for m in metas
    )
    assert metas[-1]["delta"] == 1.5
    assert metas[-1]["threshold"] == MotionConfig().threshold
    assert abs(metas[-1]["t"] - time.time()) < 30
    assert [m["seq"] for m in metas] == sorted(m["seq"] for m in metas)
    assert all(isinstance(m, bytes) and m[:2] == b"\xff\xd8" for m in messages[1::2])


def test_without_meta_every_message_is_a_jpeg(tmp_path):
    with ServerThread(demo_config(str(tmp_path))) as server:
        url = server.url.replace("http", "ws") + "/cameras/cam/ws"
        messages = asyncio.run(read_messages(url, 4))
    assert all(isinstance(m, bytes) and m[:2] == b"\xff\xd8" for m in messages)


def test_history_returns_recent_deltas_oldest_first(tmp_path):
    with plain_server(str(tmp_path), fps=20) as server:
        feed_deltas(server, lambda frame: float(frame.seq % 7))

        def history_of_ten() -> Any:
            body = server.get_json("/api/cameras/cam/motion/history")
            return body if len(body["points"]) >= 10 else None

        body = wait_until(history_of_ten, message="ten points")
        assert body["camera"] == "cam"
        assert body["threshold"] == MotionConfig().threshold
        times = [t for t, _ in body["points"]]
        assert times == sorted(times)
        assert {d for _, d in body["points"]} <= {float(v) for v in range(7)}
        assert len({d for _, d in body["points"]}) > 1
        short = server.get_json("/api/cameras/cam/motion/history?seconds=0.2")
        assert len(short["points"]) >= 1
        assert short["points"][-1][0] - short["points"][0][0] <= 0.2 + 0.002  # t rounded to ms


def test_history_errors_are_json(tmp_path):
    with ServerThread(demo_config(str(tmp_path))) as server:
        status, _, body = server.get("/api/cameras/nope/motion/history")
        assert status == 404 and "error" in json.loads(body)
        status, _, body = server.get("/api/cameras/cam/motion/history?seconds=abc")
        assert status == 400 and json.loads(body)["error"] == "seconds must be a number"


def test_socket_is_closed_when_the_server_stops(tmp_path):
    async def run() -> tuple[int | None, object]:
        server = ServerThread(demo_config(str(tmp_path))).start()
        connection = await tornado.websocket.websocket_connect(
            server.url.replace("http", "ws") + "/cameras/cam/ws"
        )
        assert isinstance(await asyncio.wait_for(connection.read_message(), 10), bytes)
        await asyncio.get_running_loop().run_in_executor(None, server.stop)
        while (message := await asyncio.wait_for(connection.read_message(), 10)) is not None:
            pass
        return connection.close_code, message

    close_code, _ = asyncio.run(run())
    assert close_code == 1001
