"""SoundTail: a finished clip of frames still takes the microphone's sound of its last moments."""

from __future__ import annotations

from typing import Protocol

from camwatch.capture.packets import EncodedPacket

# How long a clip of frames takes the sound of its last moments once it has ended: a
# microphone's packet comes once its last sample has, later on a busy machine.
SOUND_LATE_S = 2.0


class _SoundWriter(Protocol):
    def submit_audio(self, packet: EncodedPacket) -> bool: ...

    def finish(self) -> None: ...


class SoundTail:
    """At most one writer whose pictures are all in, held open for the sound captured before
    `until` (monotonic seconds: where its pictures end). A packet that began later, or
    SOUND_LATE_S past `until`, finishes it. One thread at a time (its owner's lock)."""

    def __init__(self) -> None:
        self._writer: _SoundWriter | None = None
        self._until = 0.0

    def hold(self, writer: _SoundWriter, until: float) -> None:
        """Keep `writer` for the sound from before `until` (the one held before is finished)."""
        self.finish()
        self._writer, self._until = writer, until

    def offer(self, packet: EncodedPacket) -> None:
        """Sound as it comes: to the writer held if it began before its end, else the end."""
        if self._writer is None:
            return
        if packet.t < self._until:
            self._writer.submit_audio(packet)
        else:
            self.finish()

    def expire(self, now: float) -> None:
        """Finish the writer held once sound from before its end can no longer be on its way
        (the microphone stopped)."""
        if self._writer is not None and now - self._until > SOUND_LATE_S:
            self.finish()

    def finish(self) -> None:
        if self._writer is not None:
            self._writer.finish()
            self._writer = None
