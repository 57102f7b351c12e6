"""The websocket's ?format=mp4: a camera's live fMP4, each viewer reading the ring at its pace."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable

from camwatch.capture.camera import Camera
from camwatch.capture.fmp4 import FragmentHub, LiveMuxer
from camwatch.server.wire import OPCODE_BINARY, OPCODE_TEXT, websocket_frame

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0  # for the camera's next keyframe, where every viewer starts
IDLE_TIMEOUT_S = 30.0

Send = Callable[[bytes], Awaitable[bool]]
Close = Callable[[int, str], None]


class NotStreamable(Exception):
    """The camera does not send a codec browsers play: the client falls back to JPEG."""


def meta_message(camera: Camera) -> bytes:
    """The ?meta=1 side channel, as for JPEG viewers (without a frame's sequence number)."""
    text = json.dumps(
        {
            "type": "meta",
            "t": round(time.time(), 3),
            "delta": round(camera.latest_delta, 4),
            "threshold": camera.config.motion.threshold,
            "recording": camera.recording,
            "online": camera.state.online,
        }
    )
    return websocket_frame(OPCODE_TEXT, text.encode())


async def send_fragments(camera: Camera, send: Send, close: Close, *, with_meta: bool) -> None:
    """Send {"type": "init", "mime", "codec", "audio"} as text (audio: "aac" when the camera's
    sound is the stream's second track, else null), the init segment, then fragments.

    A viewer that falls behind skips to the newest keyframe (the ring holds a bounded number
    of fragments, shared by all viewers); when the camera's stream changes (reconnect, new
    resolution) the socket is closed with 1012 so the client starts over with the new init.
    """
    hub = camera.fragments
    video = camera.streams[0]
    if video is None or not video.browser_playable:
        codec = video.codec if video is not None else camera.codec
        raise NotStreamable(f"camera {camera.name} sends {codec}, not H.264")
    hub.join()
    try:
        muxer = await _first_muxer(hub)
        generation = hub.generation
        audio = muxer.audio.codec if muxer.audio is not None else None
        init = json.dumps(
            {"type": "init", "mime": muxer.mime, "codec": video.codec, "audio": audio}
        )
        message = websocket_frame(OPCODE_TEXT, init.encode())
        if not await send(message + websocket_frame(OPCODE_BINARY, muxer.init_segment)):
            return
        await _pump(camera, hub, generation, send, close, with_meta)
    finally:
        hub.leave()


async def _first_muxer(hub: FragmentHub) -> LiveMuxer:
    """The camera's live muxer once it has cut a keyframe's fragment (viewers start there)."""
    for _ in range(round(START_TIMEOUT_S / 0.5)):
        muxer = hub.muxer
        if muxer is not None and hub.newest_keyframe() is not None:
            return muxer
        if hub.closed:
            break
        try:
            await hub.wait(0.5)
        except TimeoutError:
            pass
    raise TimeoutError("no keyframe from the camera")


async def _pump(
    camera: Camera, hub: FragmentHub, generation: int, send: Send, close: Close, with_meta: bool
) -> None:
    seq = 0
    while not hub.closed:
        if hub.generation != generation:
            close(1012, "the camera's stream changed")
            return
        fragment = hub.next_after(seq)
        if fragment is None:
            await hub.wait(IDLE_TIMEOUT_S)
            continue
        seq = fragment.seq
        message = websocket_frame(OPCODE_BINARY, fragment.data)
        if with_meta and (fragment.keyframe or seq % 5 == 0):
            message = meta_message(camera) + message
        if not await send(message):
            return
    close(1001, "server stopping")
