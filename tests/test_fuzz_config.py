"""Property tests of config loading: any input is a valid Config or a ConfigError naming a key."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import string
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camwatch import config as cfg
from camwatch.config import (
    CameraConfig,
    Config,
    ConfigError,
    HooksConfig,
    MotionConfig,
    MqttConfig,
    RetentionConfig,
    ServerConfig,
)

SECTIONS: dict[str, type] = {
    "server": ServerConfig,
    "retention": RetentionConfig,
    "mqtt": MqttConfig,
    "hooks": HooksConfig,
}
SEGMENT = r'([A-Za-z0-9_-]+|"([^"\\]|\\.)*")'
KEY_PATH = re.compile(rf"^(--[a-z-]+|{SEGMENT}(\[\d+\])?(\.{SEGMENT})*): \S")


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "20GB",
            "500MiB",
            "0",
            "1e400",
            "9" * 400,
            "5iB",
            " 1 KB ",
            "-1",
            "1.5T",
            "auto",
            "demo",
            "0.0.0.0",
            "\x00",
            "../..",
            "a" * 300,
            math.nan,
            math.inf,
            -math.inf,
            10**400,
            -0.0,
            1e-320,
        ]
    ),
    st.dates(),
    st.datetimes(),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def table_for(cls: type) -> st.SearchStrategy[dict[str, Any]]:
    keys = st.one_of(
        st.sampled_from(field_names(cls)),
        st.text(string.ascii_lowercase + "_", min_size=1, max_size=12),
    )
    return st.dictionaries(keys, values, max_size=5)


cameras = st.lists(
    st.one_of(
        st.dictionaries(st.sampled_from(field_names(CameraConfig)), values, max_size=4),
        table_for(CameraConfig).map(lambda t: {**t, "motion": t.get("motion", {})}),
        st.fixed_dictionaries({"motion": table_for(MotionConfig)}),
        values,
    ),
    max_size=3,
)
documents = st.fixed_dictionaries(
    {},
    optional={
        **{name: st.one_of(table_for(cls), values) for name, cls in SECTIONS.items()},
        "cameras": st.one_of(cameras, values),
        "extra": values,
    },
)


def assert_within_bounds(obj: Any) -> None:
    """Every numeric setting of an accepted config is finite and inside its declared range."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            assert_within_bounds(value)
        elif isinstance(value, list):
            for item in value:
                if dataclasses.is_dataclass(item):
                    assert_within_bounds(item)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            assert math.isfinite(value), f.name
            low, high = f.metadata.get("low"), f.metadata.get("high")
            assert low is None or value >= low, f.name
            assert high is None or value <= high, f.name
        elif isinstance(value, str):
            assert "\x00" not in value, f.name


@settings(max_examples=600, deadline=None)
@given(documents)
def test_any_document_is_a_config_or_a_config_error_naming_a_key(document):
    try:
        config = cfg.config_from_mapping(document)
    except ConfigError as e:
        assert KEY_PATH.match(str(e)), str(e)
        return
    assert isinstance(config, Config)
    assert_within_bounds(config)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        [ServerConfig, RetentionConfig, MotionConfig, CameraConfig, MqttConfig, HooksConfig]
    ).flatmap(lambda cls: st.tuples(st.just(cls), st.sampled_from(field_names(cls)), values))
)
def test_set_value_validates_like_the_file(case):
    cls, name, value = case
    target = cls()
    try:
        cfg.set_value(target, name, value, f"--{name}")
    except ConfigError as e:
        assert str(e).startswith(f"--{name}: "), str(e)
        return
    assert_within_bounds(target)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_file_content_is_loaded_or_refused_with_config_error(tmp_path: Path, data: bytes):
    path = tmp_path / "fuzz.toml"
    path.write_bytes(data)
    try:
        config = cfg.load_file(path)
    except ConfigError as e:
        assert KEY_PATH.match(str(e)), str(e)
        return
    assert_within_bounds(config)


def test_secret_values_are_not_echoed():
    for document in ({"server": {"password": ["hunter2"]}}, {"mqtt": {"password": 424242}}):
        try:
            cfg.config_from_mapping(document)
        except ConfigError as e:
            assert "hunter2" not in str(e) and "424242" not in str(e)
            assert "password" in str(e)
        else:
            raise AssertionError("accepted a non-string password")


def test_dates_and_times_are_refused_by_key():
    for value in (dt.date(2020, 1, 1), dt.time(1, 2)):
        try:
            cfg.config_from_mapping({"retention": {"max_days": value}})
        except ConfigError as e:
            assert str(e).startswith("retention.max_days: ")
        else:
            raise AssertionError("accepted a date as a number")


def test_non_finite_and_huge_numbers_are_refused_by_key():
    cases = [
        ("threshold", float("nan")),
        ("threshold", float("inf")),
        ("pre_roll_seconds", float("-inf")),
        ("stable_frames", 10**400),
    ]
    for name, value in cases:
        try:
            cfg.set_value(MotionConfig(), name, value, f"--{name}")
        except ConfigError as e:
            assert str(e).startswith(f"--{name}: ")
        else:
            raise AssertionError(f"accepted {name} = {value}")
    for size in ("9" * 400, "1e400", float("nan")):
        try:
            cfg.set_value(RetentionConfig(), "max_bytes", size, "retention.max_bytes")
        except ConfigError as e:
            assert str(e).startswith("retention.max_bytes: ")
        else:
            raise AssertionError(f"accepted max_bytes = {size}")


def test_nul_in_a_path_is_refused_by_key():
    try:
        cfg.config_from_mapping({"server": {"data_dir": "rec\x00ordings"}})
    except ConfigError as e:
        assert str(e).startswith("server.data_dir: ")
    else:
        raise AssertionError("accepted a NUL in data_dir")
