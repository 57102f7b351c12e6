"""The config document: TOML sections built by key, unique camera names, environment overrides."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from camwatch.config.fields import ConfigError, build, key_text
from camwatch.config.settings import (
    CameraConfig,
    Config,
    HooksConfig,
    MqttConfig,
    RetentionConfig,
    ServerConfig,
)


def config_from_mapping(data: Mapping[str, Any]) -> Config:
    """Validate a whole config document (as parsed from TOML)."""
    allowed = ("server", "cameras", "retention", "mqtt", "hooks")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ConfigError(f"{key_text(unknown[0])}: unknown section; allowed: {', '.join(allowed)}")
    cameras_data = data.get("cameras", [])
    if not isinstance(cameras_data, list):
        raise ConfigError("cameras: expected an array of tables ([[cameras]])")
    cameras = [build(CameraConfig, c, f"cameras[{i}].") for i, c in enumerate(cameras_data)]
    for i, camera in enumerate(cameras):
        if "name" not in cameras_data[i]:
            camera.name = "cam" if i == 0 else f"cam{i + 1}"
    names = [c.name for c in cameras]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"cameras[{i}].name: {name!r} is used twice; names must be unique")
    return Config(
        server=build(ServerConfig, data.get("server", {}), "server."),
        cameras=cameras,
        retention=build(RetentionConfig, data.get("retention", {}), "retention."),
        mqtt=build(MqttConfig, data["mqtt"], "mqtt.") if "mqtt" in data else None,
        hooks=build(HooksConfig, data.get("hooks", {}), "hooks."),
    )


def load_file(path: str | Path) -> Config:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"--config: cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"--config: {path} is not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--config: {path} is not UTF-8 text") from None
    except RecursionError:  # tomllib parses nested arrays and tables by recursion
        raise ConfigError(f"--config: {path} nests arrays or tables too deeply") from None
    try:
        return config_from_mapping(data)
    except RecursionError:
        raise ConfigError(f"--config: {path} nests values too deeply") from None


def apply_environment(config: Config, environ: Mapping[str, str] = os.environ) -> None:
    """CAMWATCH_USERNAME / CAMWATCH_PASSWORD override the file (keeps secrets out of it)."""
    if environ.get("CAMWATCH_USERNAME"):
        config.server.username = environ["CAMWATCH_USERNAME"]
    if environ.get("CAMWATCH_PASSWORD"):
        config.server.password = environ["CAMWATCH_PASSWORD"]
