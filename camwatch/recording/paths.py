"""Where recordings live under the data directory: the clips folder and each clip's names."""

from __future__ import annotations

import os
import time
from pathlib import Path

CLIPS_DIR = "clips"  # data_dir/clips/{camera}/{YYYY-MM-DD}/...


def clips_dir(data_dir: Path) -> Path:
    return data_dir / CLIPS_DIR


def clip_paths(data_dir: Path, camera: str, started_at: float, event_id: str) -> tuple[Path, Path]:
    """clips/{camera}/{YYYY-MM-DD}/{camera}-{YYYYmmdd-HHMMSS}-{id}.mp4 and the .jpg beside it."""
    moment = time.gmtime(started_at)
    folder = clips_dir(data_dir) / camera / time.strftime("%Y-%m-%d", moment)
    stem = f"{camera}-{time.strftime('%Y%m%d-%H%M%S', moment)}-{event_id}"
    return folder / f"{stem}.mp4", folder / f"{stem}.jpg"


def clip_folder_files(data_dir: Path) -> list[Path]:
    """Every file under the clips folder (videos, thumbnails, leftovers), in name order; the
    one walk of the folder that reconciliation and retention share."""
    files = [
        Path(folder) / name for folder, _, names in os.walk(clips_dir(data_dir)) for name in names
    ]
    return sorted(files)
