"""SoundTail: the sound captured before a finished clip's end reaches it; then the clip closes."""

from camwatch.capture.packets import EncodedPacket
from camwatch.recording.sound_tail import SOUND_LATE_S, SoundTail
from tests.helpers.microphone import tone_packet


class FakeWriter:
    """What SoundTail needs of a clip writer: the sound it was given, and whether it finished."""

    def __init__(self) -> None:
        self.sound: list[float] = []
        self.finished = 0

    def submit_audio(self, packet: EncodedPacket) -> bool:
        self.sound.append(packet.t)
        return True

    def finish(self) -> None:
        self.finished += 1


def test_sound_from_before_the_end_goes_in_and_the_first_from_after_finishes_the_clip():
    tail, writer = SoundTail(), FakeWriter()
    tail.hold(writer, until=1.0)
    for i in range(8, 12):  # 0.8 s to 1.1 s, each begun 0.1 s after the last
        tail.offer(tone_packet(i))
    assert writer.sound == [0.8, 0.9] and writer.finished == 1
    tail.offer(tone_packet(12))
    assert writer.finished == 1  # once


def test_a_clip_whose_sound_stopped_closes_once_late_sound_can_no_longer_come():
    tail, writer = SoundTail(), FakeWriter()
    tail.hold(writer, until=1.0)
    tail.expire(1.0 + SOUND_LATE_S)
    assert writer.finished == 0
    tail.expire(1.0 + SOUND_LATE_S + 0.1)
    assert writer.finished == 1


def test_holding_the_next_clip_finishes_the_last_one():
    tail, first, second = SoundTail(), FakeWriter(), FakeWriter()
    tail.hold(first, until=1.0)
    tail.hold(second, until=2.0)
    tail.offer(tone_packet(15))
    assert first.finished == 1 and first.sound == []
    assert second.sound == [1.5] and second.finished == 0
    tail.finish()
    assert second.finished == 1
