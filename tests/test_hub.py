"""Hub and Subscription: latest-frame slots, skipping for slow viewers, closing and waking."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from camwatch import jpeg
from camwatch.capture.camera import Camera
from camwatch.capture.hub import Hub, SubscriptionClosed
from camwatch.config import CameraConfig
from camwatch.frame import Frame


def frame(seq: int) -> Frame:
    return Frame.from_image(np.full((8, 8, 3), seq % 256, np.uint8), seq)


async def settle() -> None:
    """Let callbacks scheduled with call_soon_threadsafe run."""
    for _ in range(3):
        await asyncio.sleep(0)


def test_a_slow_subscriber_gets_the_newest_frame_and_skips_the_rest() -> None:
    async def scenario() -> None:
        hub = Hub(asyncio.get_running_loop())
        slow, fast = hub.subscribe(), hub.subscribe()
        seen_by_fast = []
        for seq in range(1, 6):
            hub.publish(frame(seq))
            await settle()
            seen_by_fast.append((await fast.next(1)).seq)
        assert seen_by_fast == [1, 2, 3, 4, 5]
        assert (await slow.next(1)).seq == 5
        with pytest.raises(TimeoutError):  # nothing new: it waits instead of repeating frame 5
            await slow.next(0.1)
        hub.publish(frame(6))
        assert (await slow.next(1)).seq == 6

    asyncio.run(scenario())


def test_a_new_subscriber_starts_with_the_latest_frame() -> None:
    async def scenario() -> None:
        hub = Hub(asyncio.get_running_loop())
        hub.publish(frame(7))
        await settle()
        assert (await hub.subscribe().next(1)).seq == 7

    asyncio.run(scenario())


def test_a_frame_nobody_waits_for_is_the_latest_at_once() -> None:
    async def scenario() -> None:
        hub = Hub(asyncio.get_running_loop())
        hub.publish(frame(1))
        assert hub.latest is not None and hub.latest.seq == 1  # no turn of the loop needed
        watching = hub.subscribe()
        hub.publish(frame(2))  # handed over on the loop: someone waits for it
        watching.close()
        hub.publish(frame(3))  # nobody waits, but frame 2 is still on its way: 3 replaces it
        await settle()
        assert hub.latest.seq == 3
        assert (await hub.subscribe().next(1)).seq == 3

    asyncio.run(scenario())


def test_a_waiting_subscriber_is_woken_by_a_publish_from_another_thread() -> None:
    async def scenario() -> None:
        hub = Hub(asyncio.get_running_loop())
        subscription = hub.subscribe()
        waiter = asyncio.ensure_future(subscription.next(5))
        await settle()
        threading.Thread(target=hub.publish, args=(frame(1),)).start()
        assert (await waiter).seq == 1

    asyncio.run(scenario())


def test_publish_encodes_the_jpeg_once_only_when_someone_watches() -> None:
    async def scenario() -> None:
        hub = Hub(asyncio.get_running_loop())
        unwatched = frame(1)
        hub.publish(unwatched)
        assert not unwatched.has_jpeg
        hub.subscribe()
        watched = frame(2)
        hub.publish(watched)
        assert watched.has_jpeg

    asyncio.run(scenario())


def test_close_wakes_a_waiter_and_unsubscribes() -> None:
    async def scenario() -> None:
        hub = Hub(asyncio.get_running_loop())
        subscription = hub.subscribe()
        waiter = asyncio.ensure_future(subscription.next())
        await settle()
        assert hub.viewer_count == 1
        hub.close()
        with pytest.raises(SubscriptionClosed):
            await asyncio.wait_for(waiter, 1)
        assert hub.viewer_count == 0

    asyncio.run(scenario())


def test_closing_a_subscription_wakes_its_waiter_and_unsubscribes_it_alone() -> None:
    async def scenario() -> None:
        hub = Hub(asyncio.get_running_loop())
        leaving, staying = hub.subscribe(), hub.subscribe()
        waiter = asyncio.ensure_future(leaving.next())
        await settle()
        leaving.close()
        leaving.close()  # twice is harmless
        with pytest.raises(SubscriptionClosed):
            await asyncio.wait_for(waiter, 1)
        assert hub.viewer_count == 1
        hub.publish(frame(1))
        assert (await staying.next(1)).seq == 1
        assert leaving.frames_offered == 0

    asyncio.run(scenario())


@pytest.fixture
def running_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a thread of its own, idle unless something wakes it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_close_from_another_thread_wakes_the_waiter_on_the_loop(
    running_loop: asyncio.AbstractEventLoop,
) -> None:
    """Camera.stop runs off the loop; closing must still wake a viewer waiting on an idle loop."""
    hub = Hub(running_loop)

    async def wait_for_frame() -> str:
        subscription = hub.subscribe()
        try:
            await subscription.next()
        except SubscriptionClosed:
            return "closed"
        return "frame"

    outcome = asyncio.run_coroutine_threadsafe(wait_for_frame(), running_loop)
    asyncio.run_coroutine_threadsafe(settle(), running_loop).result(5)
    hub.close()
    assert outcome.result(2) == "closed"
    assert (
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0, hub.viewer_count), running_loop).result(5)
        == 0
    )


def test_subscribing_to_a_closed_hub_gives_a_closed_subscription() -> None:
    async def scenario() -> None:
        hub = Hub(asyncio.get_running_loop())
        hub.close()
        with pytest.raises(SubscriptionClosed):
            await asyncio.wait_for(hub.subscribe().next(), 1)
        assert hub.viewer_count == 0

    asyncio.run(scenario())


def test_without_a_loop_publish_just_keeps_the_latest_frame() -> None:
    hub = Hub()
    hub.publish(frame(3))
    assert hub.latest is not None and hub.latest.seq == 3


def test_while_the_loop_is_busy_only_the_newest_frame_waits_for_it(
    running_loop: asyncio.AbstractEventLoop,
) -> None:
    """Frames published during a loop stall are not queued up: memory stays at one frame."""
    import time

    hub = Hub(running_loop)
    subscription = asyncio.run_coroutine_threadsafe(
        asyncio.sleep(0, hub.subscribe()), running_loop
    ).result(5)
    running_loop.call_soon_threadsafe(time.sleep, 0.5)  # the loop is stuck for a while
    for seq in range(1, 51):
        hub.publish(frame(seq))
    got = asyncio.run_coroutine_threadsafe(subscription.next(5), running_loop).result(5)
    assert got.seq == 50
    assert subscription.frames_offered <= 2


def test_the_hub_encodes_at_its_cameras_jpeg_quality():
    camera = Camera(CameraConfig(name="a", source="demo", jpeg_quality=20))
    assert camera.hub.jpeg_quality == 20
    image = np.random.default_rng(1).integers(0, 256, (120, 160, 3), np.uint8)
    low = Hub(jpeg_quality=20).jpeg(Frame.from_image(image, 1))
    high = Hub(jpeg_quality=95).jpeg(Frame.from_image(image, 1))
    assert jpeg.dimensions(low) == jpeg.dimensions(high) == (160, 120)
    assert len(low) < len(high) / 2
