"""Who may open the app: loopback by default, a password to serve anyone else.

The app holds client data, and any engagement opens by its ``?engagement=<id>`` link,
so it serves this machine only (``127.0.0.1``, set in ``.streamlit/config.toml`` and by
``make run``) unless told otherwise. Serving a team (``make run ADDRESS=0.0.0.0``) needs
``FEASIBILITY_PASSWORD`` in the environment; without it the app refuses to show anything
beyond loopback and says why.

Why a password rather than Streamlit's ``st.login`` (OIDC): the app is used in client
meetings, often offline or on the client's network, where no identity provider is
reachable and no redirect URL is registered; a shared secret set in the environment
works everywhere with nothing to install. A team with an identity provider can put the
app behind one (a reverse proxy with OIDC) and keep the password as a second lock.

Never imports streamlit: the pages call these functions.
"""

from __future__ import annotations

import hmac
import ipaddress

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(address: str | None) -> bool:
    """Whether a server address listens on this machine only.

    An empty address is Streamlit's default, every interface: not loopback. A host name
    other than ``localhost`` may resolve to any interface: not loopback either.
    """
    if address is None or not str(address).strip():
        return False
    host = str(address).strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serving_refusal(address: str | None, password: str | None) -> str | None:
    """Why the app must not serve on ``address``, or None when it may.

    Args:
        address: The address the server was started with (``server.address``).
        password: The configured password (``FEASIBILITY_PASSWORD``), if any.

    Returns:
        None on loopback, or beyond it when a password is configured; else the
        reason, with what to do.

    """
    if is_loopback(address) or password:
        return None
    where = f"'{address}'" if address else "every network interface (no server.address)"
    return (
        f"This app is serving on {where} without a password, so anyone on the network "
        "could open, download or delete client engagements. It shows nothing until "
        "either FEASIBILITY_PASSWORD is set in its environment, or it is started on "
        "this machine only (make run, or --server.address 127.0.0.1)."
    )


def password_matches(given: str | None, expected: str | None) -> bool:
    """Compare a typed password with the configured one in constant time.

    An empty or missing password never matches.
    """
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
