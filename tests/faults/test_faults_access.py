"""Who may open the app: loopback by default, a password beyond it, checked on every page.

Before, Streamlit's default address served every network interface with no login: in a
meeting on the client's Wi-Fi anyone could open, download or delete an engagement by
its ``?engagement=<id>`` link.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from advisor.access import is_loopback, password_matches, serving_refusal

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "streamlit_app.py")
TIMEOUT = 60
SECRET = "correct horse battery staple"


@pytest.fixture
def served_on() -> Iterator[callable]:
    """Set the address the server was started with, as ``--server.address`` would."""
    before = config.get_option("server.address")

    def serve(address: str | None) -> None:
        config.set_option("server.address", address)

    yield serve
    config.set_option("server.address", before)


def _texts(at: AppTest) -> str:
    parts = [e.value for e in at.error] + [m.value for m in at.markdown]
    parts += [t.label for t in at.text_input] + [str(s.value) for s in at.subheader]
    return "\n".join(str(p) for p in parts)


def test_loopback_is_the_default_everywhere() -> None:
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text("utf-8"))
    assert cfg["server"]["address"] == "127.0.0.1"
    makefile = (ROOT / "Makefile").read_text("utf-8")
    assert re.search(r"^ADDRESS \?= 127\.0\.0\.1$", makefile, re.M)
    assert "--server.address $(ADDRESS)" in makefile


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("", False),
        (None, False),
        ("::", False),
        ("192.168.1.20", False),
        ("advisor.example.com", False),
    ],
)
def test_is_loopback(address, loopback) -> None:
    assert is_loopback(address) is loopback


def test_refusal_and_password_rules() -> None:
    assert serving_refusal("127.0.0.1", None) is None
    assert serving_refusal("0.0.0.0", SECRET) is None
    reason = serving_refusal("0.0.0.0", None)
    assert reason and "FEASIBILITY_PASSWORD" in reason and "127.0.0.1" in reason
    assert "every network interface" in serving_refusal(None, None)
    assert password_matches(SECRET, SECRET)
    assert not password_matches(SECRET + " ", SECRET)
    assert not password_matches("", "")
    assert not password_matches(None, SECRET)


def test_beyond_loopback_without_a_password_shows_nothing(data_dir, served_on) -> None:
    served_on("0.0.0.0")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["engagement"] = "1"
    at.run()
    assert not at.exception, at.exception
    shown = _texts(at)
    assert "FEASIBILITY_PASSWORD" in shown and "without a password" in shown
    assert len(at.error) == 1 and not at.text_input and not at.button
    assert not (data_dir / "feasibility.db").exists(), "nothing of the store was opened"


def test_beyond_loopback_with_a_password_asks_for_it_on_every_page(
    data_dir, served_on, monkeypatch
) -> None:
    monkeypatch.setenv("FEASIBILITY_PASSWORD", SECRET)
    served_on("0.0.0.0")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["engagement"] = "1"
    at.run()
    assert not at.exception, at.exception
    assert [t.label for t in at.text_input] == ["Password"]
    assert not (data_dir / "feasibility.db").exists()
    at.switch_page("app_pages/history.py").run()  # another page: the same gate
    assert [t.label for t in at.text_input] == ["Password"]
    assert not (data_dir / "feasibility.db").exists()
    at.text_input(key="access_password").input("wrong")
    at.button[0].click().run()
    assert "not right" in _texts(at)
    assert [t.label for t in at.text_input] == ["Password"]
    at.text_input(key="access_password").input(SECRET)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert "Password" not in [t.label for t in at.text_input]
    at.switch_page("app_pages/engagement.py").run()
    assert "Client" in [t.label for t in at.text_input], "the pages are drawn once signed in"
    # A new browser session (another person on the network) must sign in again.
    other = AppTest.from_file(APP, default_timeout=TIMEOUT)
    other.run()
    assert [t.label for t in other.text_input] == ["Password"]


def test_loopback_without_a_password_opens_directly(data_dir, served_on) -> None:
    served_on("127.0.0.1")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    assert "Password" not in [t.label for t in at.text_input]
    assert not at.error
