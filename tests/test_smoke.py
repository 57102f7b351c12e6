"""A first end-to-end check that the server starts and serves a snapshot."""

import cv2
import numpy as np

from tests.support import ServerThread, demo_config, wait_until


def test_snapshot_is_a_jpeg_of_the_configured_size(tmp_path):
    with ServerThread(demo_config(str(tmp_path), width=320, height=240)) as server:
        wait_until(lambda: server.get("/snapshot.jpg")[0] == 200, message="first frame")
        status, headers, body = server.get("/snapshot.jpg")
        image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
        assert headers["Content-Type"] == "image/jpeg"
        assert image.shape == (240, 320, 3)
