"""Live wire format: MJPEG part headers (X-Timestamp, X-Sequence), HTTP/1.0 plain vs HTTP/1.1
chunked parts, websocket meta + base64, and a stalled viewer not holding back the others."""

from __future__ import annotations

import asyncio
import json
import time

from tests.helpers.live_clients import read_messages, read_mjpeg_parts, wait_until_stalled
from tests.helpers.support import ServerThread, demo_config, wait_until


def test_meta_message_before_each_frame_carries_seq_and_capture_time(tmp_path):
    with ServerThread(demo_config(str(tmp_path))) as server:
        url = server.url.replace("http", "ws") + "/webcam?meta=1"
        messages = asyncio.run(read_messages(url, 6))
    assert [type(m) for m in messages] == [str, bytes] * 3
    metas = [json.loads(m) for m in messages[::2]]
    assert all(m["type"] == "meta" for m in metas)
    assert [m["seq"] for m in metas] == sorted(m["seq"] for m in metas)
    assert len({m["seq"] for m in metas}) == 3
    assert all(abs(m["t"] - time.time()) < 30 for m in metas)
    assert all(isinstance(m, bytes) and m[:2] == b"\xff\xd8" for m in messages[1::2])


def test_mjpeg_parts_carry_length_timestamp_and_sequence(tmp_path):
    with ServerThread(demo_config(str(tmp_path))) as server:
        wait_until(lambda: server.get("/snapshot.jpg")[0] == 200, message="first frame")
        parts = read_mjpeg_parts(server.port, "/stream.mjpg", 4)
    seqs = [int(headers["x-sequence"]) for headers, _ in parts]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    for headers, data in parts:
        assert headers["content-type"] == "image/jpeg"
        assert int(headers["content-length"]) == len(data)
        assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
        assert abs(float(headers["x-timestamp"]) - time.time()) < 30


def test_http10_client_gets_plain_parts_and_http11_gets_them_chunked(tmp_path):
    import socket

    with ServerThread(demo_config(str(tmp_path))) as server:
        wait_until(lambda: server.get("/snapshot.jpg")[0] == 200, message="first frame")
        heads = {}
        for version in ("1.0", "1.1"):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(f"GET /stream.mjpg HTTP/{version}\r\nHost: x\r\n\r\n".encode())
                received = b""
                while received.count(b"\r\n\r\n") < 2:
                    received += sock.recv(65536)
                heads[version] = received
    head, _, body = heads["1.0"].partition(b"\r\n\r\n")
    assert b"chunked" not in head.lower() and body.startswith(b"--camwatchframe\r\n")
    head, _, body = heads["1.1"].partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    size, _, chunk = body.partition(b"\r\n")
    assert chunk.startswith(b"--camwatchframe\r\n") and int(size, 16) > 1000


def test_opencv_reads_the_mjpeg_stream(tmp_path):
    import cv2

    with ServerThread(demo_config(str(tmp_path), width=320, height=240)) as server:
        wait_until(lambda: server.get("/snapshot.jpg")[0] == 200, message="first frame")
        capture = cv2.VideoCapture(server.url + "/stream.mjpg", cv2.CAP_FFMPEG)
        try:
            shapes = [capture.read()[1].shape for _ in range(3)]
        finally:
            capture.release()
    assert shapes == [(240, 320, 3)] * 3


def test_base64_with_meta_alternates_meta_and_base64_jpeg(tmp_path):
    import base64

    with ServerThread(demo_config(str(tmp_path))) as server:
        url = server.url.replace("http", "ws") + "/webcam?format=base64&meta=1"
        messages = asyncio.run(read_messages(url, 4))
    assert all(isinstance(m, str) for m in messages)
    assert [json.loads(m)["type"] for m in messages[::2]] == ["meta", "meta"]
    assert all(base64.b64decode(m)[:2] == b"\xff\xd8" for m in messages[1::2])


def test_a_stalled_viewer_does_not_hold_back_the_others(tmp_path):
    import socket

    with ServerThread(demo_config(str(tmp_path), fps=20)) as server:
        wait_until(lambda: server.get("/snapshot.jpg")[0] == 200, message="first frame")
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", server.port))
        stalled.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")  # and never reads
        try:
            wait_until_stalled([stalled])  # its socket buffers fill up
            started = time.monotonic()
            parts = read_mjpeg_parts(server.port, "/stream.mjpg", 40)
            elapsed = time.monotonic() - started
        finally:
            stalled.close()
    seqs = [int(headers["x-sequence"]) for headers, _ in parts]
    assert elapsed < 2.0 + 40 / 20  # about 2 s of frames at 20 fps, not held back
    assert seqs[-1] - seqs[0] <= 45  # the fast viewer skipped (almost) nothing
