"""Config: TOML loading, defaults from the contract, and errors that name the key and the range."""

from __future__ import annotations

from pathlib import Path

import pytest

from camwatch import config as cfg
from camwatch.config import ConfigError, MotionConfig

CONTRACT_EXAMPLE = """
[server]
host = "0.0.0.0"
port = 8100
data_dir = "recordings"

[[cameras]]
name = "front"
source = "auto"
width = 1280
height = 720
fps = 10
jpeg_quality = 80
loop = false

[cameras.motion]
enabled = true
threshold = 0.3
pixel_threshold = 25
stable_frames = 20
min_motion_frames = 5
pre_roll_seconds = 2.0
max_event_seconds = 600

[retention]
max_days = 30
max_bytes = "20GB"
min_free_bytes = "1GB"

[mqtt]
host = "127.0.0.1"
port = 1883
topic_prefix = "camwatch"
discovery = true
discovery_prefix = "homeassistant"

[hooks]
"""


def load(tmp_path: Path, text: str) -> cfg.Config:
    path = tmp_path / "camwatch.toml"
    path.write_text(text)
    return cfg.load_file(path)


def test_the_contract_example_loads(tmp_path: Path) -> None:
    config = load(tmp_path, CONTRACT_EXAMPLE)
    assert (config.server.host, config.server.port) == ("0.0.0.0", 8100)
    [camera] = config.cameras
    assert (camera.name, camera.source, camera.width, camera.height) == ("front", "auto", 1280, 720)
    assert camera.fps == 10.0 and isinstance(camera.fps, float)
    # the contract's example spells out its starting values; they load as written
    assert (camera.motion.threshold, camera.motion.pixel_threshold) == (0.3, 25)
    assert config.retention.max_bytes == 20 * 10**9
    assert config.retention.min_free_bytes == 10**9
    assert config.mqtt is not None and config.mqtt.topic_prefix == "camwatch"


def test_defaults_match_the_contract() -> None:
    config = cfg.config_from_mapping({})
    assert (config.server.host, config.server.port, config.server.data_dir) == (
        "0.0.0.0",
        8100,
        "recordings",
    )
    assert config.cameras == [] and config.mqtt is None
    motion = MotionConfig()
    assert (
        motion.threshold,
        motion.pixel_threshold,
        motion.stable_frames,
        motion.min_motion_frames,
        motion.pre_roll_seconds,
        motion.max_event_seconds,
    ) == (0.1, 12, 20, 5, 2.0, 600.0)  # threshold and pixel_threshold tuned: README
    assert (config.retention.max_days, config.retention.max_bytes) == (30.0, 20 * 10**9)


def test_cameras_without_names_are_numbered(tmp_path: Path) -> None:
    config = load(tmp_path, '[[cameras]]\nsource = "demo"\n[[cameras]]\nsource = "demo"\n')
    assert [c.name for c in config.cameras] == ["cam", "cam2"]


@pytest.mark.parametrize(
    "text,named",
    [
        ("[server]\nprot = 8100\n", "server.prot: unknown key"),
        ("[[cameras]]\ncolour = true\n", "cameras[0].colour: unknown key"),
        (
            "[[cameras]]\n[cameras.motion]\nthreshhold = 1\n",
            "cameras[0].motion.threshhold: unknown key",
        ),
        ("[retention]\nmax_age = 3\n", "retention.max_age: unknown key"),
        ("[mqtt]\nbroker = 'x'\n", "mqtt.broker: unknown key"),
        ("[recording]\nx = 1\n", "recording: unknown section"),
    ],
)
def test_unknown_keys_are_named(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match="^" + named.replace("[", r"\[").replace("]", r"\]")):
        load(tmp_path, text)


@pytest.mark.parametrize(
    "text,named,allowed",
    [
        ("[server]\nport = 70000\n", "server.port", "an integer from 1 to 65535"),
        ("[server]\nport = 0\n", "server.port", "an integer from 1 to 65535"),
        ("[[cameras]]\nfps = 0\n", "cameras[0].fps", "a number from 0.5 to 120"),
        ("[[cameras]]\njpeg_quality = 101\n", "cameras[0].jpeg_quality", "from 10 to 100"),
        ("[[cameras]]\nwidth = -1\n", "cameras[0].width", "from 0 to 7680"),
        (
            "[[cameras]]\n[cameras.motion]\nthreshold = 150\n",
            "cameras[0].motion.threshold",
            "a number from 0 to 100",
        ),
        (
            "[[cameras]]\n[cameras.motion]\npixel_threshold = 0\n",
            "cameras[0].motion.pixel_threshold",
            "from 1 to 255",
        ),
        ("[retention]\nmax_days = -1\n", "retention.max_days", "from 0 to 36500"),
        (
            "[server]\nlog_level = 'loud'\n",
            "server.log_level",
            "one of debug, info, warning, error",
        ),
        ("[[cameras]]\nname = 'Front Door'\n", "cameras[0].name", "a string matching"),
        ("[[cameras]]\nrecord = 'always'\n", "cameras[0].record", "one of events, continuous"),
        ("[[cameras]]\nsegment_seconds = 5\n", "cameras[0].segment_seconds", "from 10 to 600"),
        ("[[cameras]]\nsegment_seconds = 601\n", "cameras[0].segment_seconds", "from 10 to 600"),
        ("[retention]\ncontinuous_days = -1\n", "retention.continuous_days", "from 0 to 36500"),
        ("[[cameras]]\nrecord_crf = 0\n", "cameras[0].record_crf", "from 18 to 35"),
        ("[[cameras]]\nrecord_crf = 'high'\n", "cameras[0].record_crf", "from 18 to 35"),
    ],
)
def test_out_of_range_values_name_the_key_and_the_range(
    tmp_path: Path, text: str, named: str, allowed: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, text)
    message = str(error.value)
    assert message.startswith(named + ":") and allowed in message


@pytest.mark.parametrize(
    "text,named",
    [
        ("[server]\nport = '8100'\n", "server.port"),
        ("[server]\nport = true\n", "server.port"),
        ("[server]\nport = 8100.5\n", "server.port"),
        ("[[cameras]]\nfps = 'ten'\n", "cameras[0].fps"),
        ("[[cameras]]\nloop = 'yes'\n", "cameras[0].loop"),
        ("[[cameras]]\nsource = 0\n", "cameras[0].source"),
        ("[[cameras]]\nmotion = 3\n", "cameras[0].motion"),
        ("[retention]\nmax_bytes = 'lots'\n", "retention.max_bytes"),
        ("server = 1\n", "server"),
        ("cameras = 'front'\n", "cameras"),
    ],
)
def test_wrong_types_name_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, text)
    assert str(error.value).startswith(named + ":")


def test_duplicate_camera_names_are_an_error(tmp_path: Path) -> None:
    text = '[[cameras]]\nname = "front"\n[[cameras]]\nname = "back"\n[[cameras]]\nname = "front"\n'
    with pytest.raises(ConfigError, match=r"^cameras\[2\]\.name: 'front' is used twice"):
        load(tmp_path, text)


def test_bad_toml_is_an_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"camwatch\.toml is not valid TOML"):
        load(tmp_path, "[server\nport = 1\n")


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        cfg.load_file(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    "text,size",
    [
        ("0", 0),
        ("20GB", 20 * 10**9),
        ("1GB", 10**9),
        ("500MB", 500 * 10**6),
        ("1.5G", 1_500_000_000),
        ("512MiB", 512 * 2**20),
        ("2KiB", 2048),
        ("1TiB", 2**40),
        ("100", 100),
        (" 3 kb ", 3000),
        (12345, 12345),
    ],
)
def test_parse_size(text: str | int, size: int) -> None:
    assert cfg.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "GB", "-1GB", "1PB", "1.2.3G", "5iB"])
def test_parse_size_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        cfg.parse_size(text)


def test_environment_overrides_credentials() -> None:
    config = cfg.config_from_mapping({"server": {"username": "file", "password": "file"}})
    cfg.apply_environment(config, {"CAMWATCH_USERNAME": "env", "CAMWATCH_PASSWORD": "secret"})
    assert (config.server.username, config.server.password) == ("env", "secret")
    cfg.apply_environment(config, {})
    assert config.server.password == "secret"


def test_set_value_validates_with_the_given_key_name() -> None:
    motion = MotionConfig()
    cfg.set_value(motion, "threshold", 2, "threshold")
    assert motion.threshold == 2.0
    with pytest.raises(ConfigError, match=r"^threshold: expected a number from 0 to 100"):
        cfg.set_value(motion, "threshold", 101, "threshold")
    with pytest.raises(ConfigError, match=r"^sensitivity: unknown key"):
        cfg.set_value(motion, "sensitivity", 1, "sensitivity")
    assert motion.threshold == 2.0


def test_describe_gives_bounds_and_descriptions() -> None:
    described = cfg.describe(MotionConfig)
    assert described["threshold"]["min"] == 0.0 and described["threshold"]["max"] == 100.0
    assert described["pixel_threshold"]["type"] == "int"
    assert all(entry["description"] for entry in described.values())


def test_continuous_mode_keys_load_with_their_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, "[[cameras]]\nrecord = 'continuous'\nsegment_seconds = 30\n")
    assert (config.cameras[0].record, config.cameras[0].segment_seconds) == ("continuous", 30)
    assert config.retention.continuous_days == 3.0
    default = load(tmp_path, "[[cameras]]\n")
    assert (default.cameras[0].record, default.cameras[0].segment_seconds) == ("events", 60)


def test_record_crf_defaults_to_the_clip_writer_s_and_loads(tmp_path: Path) -> None:
    from camwatch.recording.clip_writer import DEFAULT_CRF

    assert load(tmp_path, "[[cameras]]\n").cameras[0].record_crf == DEFAULT_CRF == 28
    assert load(tmp_path, "[[cameras]]\nrecord_crf = 23\n").cameras[0].record_crf == 23


@pytest.mark.parametrize("section", ["server", "mqtt"])
def test_a_wrong_password_is_named_but_never_echoed(section: str) -> None:
    with pytest.raises(ConfigError) as error:
        cfg.config_from_mapping({section: {"password": 90210417}})
    assert str(error.value) == f"{section}.password: expected a string"
