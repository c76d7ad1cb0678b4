import pytest


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory, monkeypatch):
    """No test writes to the user's real data directory."""
    monkeypatch.setenv("PI_COCKPIT_HOME", str(tmp_path_factory.mktemp("cockpit-home")))
