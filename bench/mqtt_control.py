#!/usr/bin/env python3
"""Home Assistant control over MQTT: how long a switch command takes to come back as state,
and how a flood of commands is absorbed.

Starts a mosquitto and the real server (`python3 -m camwatch`, demo source, 127.0.0.1), then
publishes `recordings/set` commands like Home Assistant does (QoS 1, not retained) and times each
one until its state arrives on `recordings`. Commands are spaced more than camwatch's command
interval apart, so each is the first after a quiet spell. Then a flood of alternating commands
and one last command: how long until that last one is applied and how many changes it cost.
Loopback only, bounded in time (about commands x 0.7 s + 20 s).

    python3 bench/mqtt_control.py                 # 40 commands, a flood of 5000
    python3 bench/mqtt_control.py --commands 10 --flood 1000
"""

from __future__ import annotations

import argparse
import getpass
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from processes import free_port, stop_process, wait_for_health  # bench/ is sys.path[0]

ROOT = Path(__file__).resolve().parent.parent
MOSQUITTO = "/usr/sbin/mosquitto"
STATE, COMMAND = "camwatch/cam/recordings", "camwatch/cam/recordings/set"
DETECT_COMMAND = "camwatch/cam/detect/set"
SPACING_S = 0.7  # more than camwatch's MIN_COMMAND_INTERVAL_S (0.5 s)


class StateWatcher:
    """Subscribes to the recordings state and wakes waiters on each message."""

    def __init__(self, port: int) -> None:
        self.states: list[tuple[float, str]] = []
        self._changed = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *_: c.subscribe(STATE, qos=1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._changed:
            self.states.append((time.perf_counter(), msg.payload.decode()))
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> tuple[float, str]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.states) < count:
                if not self._changed.wait(max(0.0, deadline - time.monotonic())):
                    raise RuntimeError(f"no state message {count} within {timeout} s")
            return self.states[count - 1]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def start_broker(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        f"user {getpass.getuser()}\n"
    )
    broker = subprocess.Popen([MOSQUITTO, "-c", str(config)], stderr=subprocess.DEVNULL)
    return broker, port


def start_camwatch(workdir: Path, broker_port: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    config = workdir / "camwatch.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\ndata_dir = "{workdir / "data"}"\n'
        '[[cameras]]\nname = "cam"\nsource = "demo"\nwidth = 320\nheight = 240\nfps = 5\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {broker_port}\n'
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "camwatch", "--config", str(config), "--log-level", "warning"],
        cwd=ROOT,
    )
    wait_for_health(port, server)
    return server, port


def switches_of(port: int) -> tuple[bool, bool]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/cameras/cam", timeout=5) as reply:
        camera = json.loads(reply.read())
    return bool(camera["detect"]), bool(camera["recordings"])


def round_trips(publisher: mqtt.Client, watcher: StateWatcher, commands: int) -> list[float]:
    """Milliseconds from publishing each command to its state arriving."""
    times = []
    for i in range(commands):
        seen = len(watcher.states)
        payload = "OFF" if i % 2 == 0 else "ON"
        sent = time.perf_counter()
        publisher.publish(COMMAND, payload, qos=1)
        arrived, state = watcher.wait_for(seen + 1)
        if state != payload:
            raise RuntimeError(f"sent {payload}, state says {state}")
        times.append((arrived - sent) * 1000)
        time.sleep(SPACING_S)
    return times


def flood(publisher: mqtt.Client, watcher: StateWatcher, count: int, port: int) -> str:
    seen = len(watcher.states)
    started = time.perf_counter()
    for i in range(count):  # QoS 1 keeps them in order (QoS 0 may overtake the last one)
        publisher.publish(COMMAND, "ON" if i % 2 else "OFF", qos=1)
    publisher.publish(COMMAND, "OFF", qos=1)
    # detection off marks the end: the flood passes through recordings OFF on its way
    publisher.publish(DETECT_COMMAND, "OFF", qos=1).wait_for_publish(60)
    deadline = time.monotonic() + 30
    while switches_of(port) != (False, False) and time.monotonic() < deadline:
        time.sleep(0.05)
    applied = time.perf_counter() - started
    time.sleep(1.0)  # let the last state messages arrive before counting them
    states = len(watcher.states) - seen
    return (
        f"| {count} alternating commands (QoS 1), then OFF | last one applied after "
        f"{applied:.2f} s | {states} state messages |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=40)
    parser.add_argument("--flood", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="camwatch-bench-") as tmp:
        workdir = Path(tmp)
        broker, broker_port = start_broker(workdir)
        server, port = start_camwatch(workdir, broker_port)
        watcher = StateWatcher(broker_port)
        publisher = mqtt.Client(CallbackAPIVersion.VERSION2)
        publisher.connect("127.0.0.1", broker_port)
        publisher.loop_start()
        try:
            watcher.wait_for(1, timeout=30)  # camwatch is connected and said its state
            times = round_trips(publisher, watcher, args.commands)
            flood_row = flood(publisher, watcher, args.flood, port)
        finally:
            publisher.disconnect()
            publisher.loop_stop()
            watcher.close()
            stop_process(server)
            stop_process(broker)
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print("| what | result | |\n| --- | --- | --- |")
    print(
        f"| {len(times)} commands, {SPACING_S} s apart | command to state: median "
        f"{statistics.median(times):.1f} ms, p95 {p95:.1f} ms, max {max(times):.1f} ms | |"
    )
    print(flood_row)


if __name__ == "__main__":
    main()
