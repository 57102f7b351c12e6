"""Camera-like H.264+AAC files made with ffmpeg: a still noisy scene, a figure walking at known
times, a sine tone; ffprobe's view of their packets, and their packets as a camera's."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path
from typing import Any

import av

from camwatch.capture.av_source import stream_info
from camwatch.capture.packets import EncodedPacket, StreamInfo


def walking_figure(
    path: Path,
    *,
    seconds: float = 30.0,
    size: str = "480x360",
    fps: int = 10,
    walks: tuple[tuple[float, float], ...] = ((4.0, 9.0),),
    gop: int = 20,
    audio: bool = True,
) -> Path:
    """An H.264 (Constrained Baseline, no B-frames, like a camera) file with AAC audio: a
    textured still scene with sensor noise and a dark figure crossing during each walk."""
    width = int(size.split("x")[0])
    moves = "+".join(f"between(t,{a},{b})*((t-{a})/({b}-{a}))*{width + 80}" for a, b in walks)
    visible = "+".join(f"between(t,{a},{b})" for a, b in walks)
    graph = (
        f"color=c=0x607080:s={size}:r={fps},noise=alls=5:allf=t[scene];"
        f"color=c=0x202020:s=60x{int(size.split('x')[1]) // 2}:r={fps}[figure];"
        f"[scene][figure]overlay=x='({moves})-80':y=H/3:enable='{visible}':shortest=1[v]"
    )
    args = ["ffmpeg", "-v", "error", "-y"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    args += ["-filter_complex", graph, "-map", "[v]"] + (["-map", "0:a"] if audio else [])
    args += [
        "-t",
        str(seconds),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-profile:v",
        "baseline",
        "-g",
        str(gop),
        "-bf",
        "0",
        "-pix_fmt",
        "yuv420p",
        "-x264-params",
        f"scenecut=0:keyint={gop}:min-keyint={gop}",  # keyframes every GOP only
    ]
    if audio:
        args += ["-c:a", "aac", "-b:a", "64k", "-ac", "1"]
    args.append(str(path))
    subprocess.run(args, check=True, timeout=120)
    return path


def packets(path: Path, stream: str = "v") -> list[dict[str, Any]]:
    """ffprobe's packets of the first stream of a kind: pts_time, flags, size, data_hash."""
    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            f"{stream}:0",
            "-show_packets",
            "-show_data_hash",
            "md5",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return list(json.loads(result.stdout).get("packets", []))


def sound_timeline(clip: Path, frame_s: float = 0.1) -> tuple[float, float, float, float, float]:
    """(first video packet, end of the video, where the sound starts, where it ends, the longest
    gap between audio packets), by ffprobe's packets. Sound before 0 s is cut by the clip's edit
    list (an AAC encoder's priming, a copied packet begun before the first frame)."""
    video = [float(p["pts_time"]) for p in packets(clip, "v")]
    audio = [(float(p["pts_time"]), float(p.get("duration_time", 0))) for p in packets(clip, "a")]
    starts = [t for t, _ in audio]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    video_end = max(video) + frame_s  # its last frame lasts a frame
    return min(video), video_end, max(starts[0], 0.0), max(t + d for t, d in audio), max(gaps)


def streams(path: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return list(json.loads(result.stdout).get("streams", []))


def decode_errors(path: Path) -> str:
    """What ffmpeg reports decoding the whole file ("" when nothing went wrong). Frames keep
    their own timestamps, in the file's time base (`-fps_mode passthrough -enc_time_base -1`):
    at a constant output rate ffmpeg reports an RTSP camera's timestamp jitter (a keyframe
    stamped 3.100 s, the next frame 3.142 s: seen under load, probably FFmpeg's RTP clock
    re-synced by an RTCP report) as two frames in one tick, while frames that really share
    a timestamp are still reported."""
    result = subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-i", str(path)),
            *("-fps_mode", "passthrough", "-enc_time_base", "-1", "-f", "null", "-"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    errors = result.stderr.strip()
    return errors if result.returncode == 0 else f"exit {result.returncode}: {errors}"


def decodes(path: Path) -> bool:
    """ffmpeg decodes the whole file without an error."""
    return decode_errors(path) == ""


def camera_packets(path: Path) -> tuple[StreamInfo, StreamInfo, list[EncodedPacket]]:
    """A file's H.264 and AAC packets as a camera's, timed by their timestamps."""
    with av.open(str(path)) as container:
        video, audio = (
            stream_info(s) for s in (container.streams.video[0], container.streams.audio[0])
        )
        found = []
        for packet in container.demux():
            if packet.dts is None or packet.pts is None:
                continue
            info = video if packet.stream.type == "video" else audio
            t = float(packet.dts * packet.stream.time_base)
            found.append(
                EncodedPacket(info, bytes(packet), packet.dts, packet.pts, t, t, packet.is_keyframe)
            )
    return video, audio, found


def switching_stream(
    path: Path, sizes: tuple[str, ...], *, codec: str = "libx264", seconds: float = 4.0
) -> Path:
    """MPEG-TS (headers in band, as cameras stream) whose picture size switches: `seconds` of
    a box moving all the time at each of `sizes` ("480x360"...) in turn, files back to back."""
    parts = []
    for size in sizes:
        part = path.with_name(f"{path.stem}-{size}.ts")
        encoder = ["-c:v", codec, "-g", "20", "-bf", "0", "-pix_fmt", "yuv420p"]
        if codec == "libx264":
            encoder += ["-preset", "veryfast", "-profile:v", "baseline"]
        subprocess.run(
            [
                "ffmpeg", "-v", "error", "-y",
                "-f", "lavfi", "-i", f"color=c=0x607080:s={size}:r=10,noise=alls=5:allf=t",
                "-f", "lavfi", "-i", "color=c=0x202020:s=60x150:r=10",
                "-filter_complex", "[0][1]overlay=x='mod(t*100,W)':y=H/3[v]", "-map", "[v]",
                "-t", str(seconds), *encoder, "-f", "mpegts", str(part),
            ],
            check=True,
            timeout=60,
        )  # fmt: skip
        parts.append(part)
    path.write_bytes(b"".join(part.read_bytes() for part in parts))
    return path
