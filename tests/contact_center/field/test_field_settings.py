"""The field-service settings: the planning time zone and the automatic re-plans' solver time."""

from __future__ import annotations

from pathlib import Path

import pytest

from contact_center.settings import ConfigError, Settings


def test_field_settings_are_read_and_checked(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path), "SECRET_KEY": "x"}
    default = Settings.from_env(env)
    assert (default.field_time_zone, default.field_replan_seconds) == ("UTC", 5)
    chosen = Settings.from_env({**env, "FIELD_TIME_ZONE": "Europe/Amsterdam", "FIELD_REPLAN_SECONDS": "2"})
    assert (chosen.field_time_zone, chosen.field_replan_seconds) == ("Europe/Amsterdam", 2)
    with pytest.raises(ConfigError, match="FIELD_TIME_ZONE 'Mars/Olympus'"):
        Settings.from_env({**env, "FIELD_TIME_ZONE": "Mars/Olympus"})
    with pytest.raises(ConfigError, match="FIELD_REPLAN_SECONDS"):
        Settings.from_env({**env, "FIELD_REPLAN_SECONDS": "0"})
