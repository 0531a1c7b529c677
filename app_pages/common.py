"""Shared by the pages: session keys, texts, the process-wide context, sidebar, errors.

Session state holds ids and small values only; everything that must survive a browser
reload lives in the store. The current engagement is also kept in the page URL
(``?engagement=<id>``), so a reload finds it again, and with it any running validation.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from advisor.i18n import LANGUAGES, t
from advisor.jobs import friendly_error
from advisor.session import (
    AppContext,
    create_context,
    environment_facts,
    warm_validation_engines,
)
from advisor.settings import Settings, load_settings

# Shared session keys (page-only keys carry the page's prefix).
LANGUAGE = "language"
ENGAGEMENT_ID = "engagement_id"  # the engagement the consultant works on
QUERY_ENGAGEMENT = "engagement"  # its name in the page URL
PENDING_LANGUAGE = "pending_language"  # applied before the language widget is drawn
PRESENTER = "presenter_mode"  # hide engineering detail, enlarge the key numbers

DEFAULTS: dict[str, Any] = {LANGUAGE: "en", ENGAGEMENT_ID: None, PRESENTER: False}

# Material icons (drawn from Streamlit's own icon font: no emoji font needed).
ICONS: dict[str, str] = {
    "engagement": ":material/handshake:",
    "data": ":material/folder_open:",
    "advice": ":material/explore:",
    "validate": ":material/science:",
    "report": ":material/description:",
    "history": ":material/history:",
    "knowledge": ":material/menu_book:",
    "settings": ":material/settings:",
}

# Metric values wrap instead of being cut off with an ellipsis at narrow widths.
STYLE = """<style>
[data-testid="stMetricValue"], [data-testid="stMetricValue"] *,
[data-testid="stMetricLabel"], [data-testid="stMetricLabel"] * {
  white-space: normal !important; overflow: visible !important;
  text-overflow: clip !important; line-height: 1.15; }
</style>"""
# Presenter mode: the key numbers readable from the back of a meeting room.
PRESENTER_STYLE = """<style>
[data-testid="stMetricValue"] { font-size: 3.2rem !important; }
[data-testid="stMetricLabel"] p { font-size: 1.15rem; }
[data-testid="stAlertContainer"] p { font-size: 1.2rem; }
</style>"""
LOG = logging.getLogger("feasibility_advisor.app")


def text(key: str, **kwargs: Any) -> str:
    """The page text ``key`` in the session's language."""
    language = st.session_state.get(LANGUAGE, "en")
    return t(key, language if language in LANGUAGES else "en", **kwargs)


def labeler(prefix: str) -> Callable[[Any], str]:
    """A ``format_func`` showing ``prefix.<value>`` in the language of this run.

    The language is bound now, so a widget's labels never change under it; widgets whose
    labels are localized carry the language in their key and are redrawn on a switch.
    """
    lang = language()
    return lambda value: t(f"{prefix}.{value}", lang)


def language() -> str:
    """The session's language ("en" or "ko")."""
    value = st.session_state.get(LANGUAGE, "en")
    return value if value in LANGUAGES else "en"


def settings() -> Settings:
    """The installation's settings (environment and config file, read each run)."""
    return load_settings()


@st.cache_resource(max_entries=4, show_spinner=False)
def _context(data_dir: str, database_url: str, device: str, budget: float) -> AppContext:
    return create_context(load_settings())


def context() -> AppContext:
    """The process-wide context: the store, the settings and the background runs."""
    s = settings()
    return _context(str(s.data_dir), s.database_url, s.device, s.budget_seconds)


class EnvironmentProbe:
    """Finds the device and the offline backbones in the background (loading torch is slow).

    Pages read :attr:`facts` (None until known) so that the first page appears at once.
    Then the validation engines are imported (:attr:`engines_warm` once done), so that
    the first run does not wait for them.
    """

    def __init__(self, ctx: AppContext) -> None:
        self.facts: dict[str, Any] | None = None
        self.error: str | None = None
        self.engines_warm = False
        self._known = threading.Event()
        self._thread = threading.Thread(
            target=self._probe, args=(ctx,), daemon=True, name="environment-probe"
        )
        self._thread.start()

    def _probe(self, ctx: AppContext) -> None:
        try:
            self.facts = environment_facts(ctx)
        except Exception as exc:  # noqa: BLE001 - reported on the settings page
            LOG.warning("environment facts unavailable: %s", exc)
            self.error = str(exc)
            return
        finally:
            self._known.set()
        try:
            # torch and timm are loaded by now: the rest of the validation's imports
            # follow, so that a meeting's first run starts without them
            cache = None if ctx.jobs.remote else ctx.jobs.feature_cache
            warm_validation_engines(cache, ctx.settings.device)
            self.engines_warm = True
        except Exception as exc:  # noqa: BLE001 - the run imports them again and says why
            LOG.warning("validation engines not preloaded: %s", exc)

    def wait(self, timeout: float = 120.0) -> dict[str, Any] | None:
        """Wait for the facts (up to ``timeout`` seconds) and return them."""
        self._known.wait(timeout)
        return self.facts


@st.cache_resource(max_entries=4, show_spinner=False)
def _environment(data_dir: str, database_url: str) -> EnvironmentProbe:
    return EnvironmentProbe(context())


def environment() -> EnvironmentProbe:
    """Device, offline backbones and runner, found once per process in the background."""
    s = settings()
    return _environment(str(s.data_dir), s.database_url)


def init_session() -> None:
    """Fill the session defaults and keep the engagement in step with the URL."""
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)
    if PENDING_LANGUAGE in st.session_state:
        st.session_state[LANGUAGE] = st.session_state.pop(PENDING_LANGUAGE)
    current = st.session_state[ENGAGEMENT_ID]
    if current is None and QUERY_ENGAGEMENT in st.query_params:
        try:
            wanted = int(st.query_params[QUERY_ENGAGEMENT])
            details = engagement_details(wanted)
        except (ValueError, LookupError):
            del st.query_params[QUERY_ENGAGEMENT]
        else:
            st.session_state[ENGAGEMENT_ID] = wanted
            st.session_state[LANGUAGE] = details["language"]
    current = st.session_state[ENGAGEMENT_ID]
    if current is not None and st.query_params.get(QUERY_ENGAGEMENT) != str(current):
        st.query_params[QUERY_ENGAGEMENT] = str(current)
    elif current is None and QUERY_ENGAGEMENT in st.query_params:
        del st.query_params[QUERY_ENGAGEMENT]


def engagement_details(engagement_id: int) -> dict[str, Any]:
    """The engagement's fields and answers (raises LookupError when it is gone)."""
    from advisor.session import engagement_details as details

    return details(context(), engagement_id)


def open_engagement(engagement_id: int | None) -> None:
    """Make an engagement the current one (None: none), in its own language.

    The language switches at the next run (the caller reruns the page).
    """
    st.session_state[ENGAGEMENT_ID] = engagement_id
    if engagement_id is not None:
        st.session_state[PENDING_LANGUAGE] = engagement_details(engagement_id)["language"]
        st.query_params[QUERY_ENGAGEMENT] = str(engagement_id)
    elif QUERY_ENGAGEMENT in st.query_params:
        del st.query_params[QUERY_ENGAGEMENT]


def page_header(page: str) -> None:
    """The page's title with its navigation icon (``page`` is a key of :data:`ICONS`)."""
    st.header(f"{ICONS[page]} {text(f'app.{page}.header')}", anchor=False)


def presenter_mode() -> bool:
    """Whether the sidebar's presenter mode is on (engineering detail hidden)."""
    return bool(st.session_state.get(PRESENTER, False))


def require_engagement() -> int:
    """Return the current engagement's id, or ask for one and stop the page."""
    current = st.session_state.get(ENGAGEMENT_ID)
    if current is None:
        st.info(text("app.common.need_engagement"))
        st.page_link(
            "app_pages/engagement.py", label=text("app.nav.engagement"), icon=ICONS["engagement"]
        )
        st.stop()
    return int(current)


def sidebar() -> None:
    """Language switch, the current engagement and where validations run."""
    with st.sidebar:
        st.selectbox(
            text("app.language"),
            options=list(LANGUAGES[::-1]),
            format_func=lambda code: {"en": "English", "ko": "한국어"}[code],
            key=LANGUAGE,
        )
        st.toggle(text("app.presenter"), key=PRESENTER, help=text("app.presenter_help"))
        st.html(STYLE + (PRESENTER_STYLE if presenter_mode() else ""))
        current = st.session_state.get(ENGAGEMENT_ID)
        if current is not None:
            try:
                details = engagement_details(int(current))
            except LookupError:
                open_engagement(None)
            else:
                st.caption(
                    text("app.common.current", client=details["client"], project=details["project"])
                )
        env = environment().facts
        if env is None:
            st.caption(text("app.common.probing"))
            return
        device = env["device"]
        st.caption(text("app.device", device=device.get("name") or device.get("type")))
        st.caption(text("app.runner", runner=env["runner"].get("runner", "?")))
        names = ", ".join(b["name"] for b in env["backbones"]) or text("app.common.none")
        st.caption(text("app.offline_backbones", names=names))


def show_error(exc: BaseException) -> None:
    """Show an exception as a sentence for the consultant; the traceback goes to the log.

    Errors raised on purpose for bad input (``ValueError`` and its kin, intake errors)
    carry a message meant for the consultant and are shown as they are.
    """
    LOG.error("page error: %s", "".join(traceback.format_exception(exc)))
    if isinstance(exc, ValueError | LookupError | FileNotFoundError) or _is_engine_error(exc):
        st.error(text("app.errors.user", message=str(exc)))
    else:
        st.error(
            text("app.errors.unexpected", message=friendly_error(f"{type(exc).__name__}: {exc}"))
        )


def _is_engine_error(exc: BaseException) -> bool:
    return any(c.__name__ in ("EngineError", "IntakeError") for c in type(exc).__mro__)


def run_page(page: Any) -> None:
    """Run the chosen page; any failure becomes a friendly message, never a traceback."""
    try:
        page.run()
    except Exception as exc:  # noqa: BLE001 - the last line of defence of every page
        show_error(exc)


def progress_reporter(bar: Any, stage_key: str = "app.stages") -> Callable[[Any], None]:
    """A progress callback that moves a ``st.progress`` bar with a localized stage name."""

    def report(p: Any) -> None:
        stage = text(f"{stage_key}.{p.stage}") if p.stage else ""
        if stage.startswith(stage_key):
            stage = p.stage
        bar.progress(
            min(max(float(p.fraction), 0.0), 1.0), text=f"{stage} · {100 * float(p.fraction):.0f}%"
        )

    return report


def image_path(root: Path, relative: str) -> Path | None:
    """The file of a relative path inside a sample root, or None (never outside it)."""
    try:
        path = (root / relative).resolve()
        path.relative_to(root.resolve())
    except (ValueError, OSError):
        return None
    return path if path.is_file() else None
