"""What the fake OAuth servers share: grants, PKCE, consent page, controls.

Each platform module (``tiktok_auth``, ``google_auth``, ``instagram_auth``,
``vk_auth``) keeps its own wire format (paths, parameter names, error shapes)
and delegates the bookkeeping that every OAuth server needs to this package:
single-use short-lived codes, grants with refresh-token rotation and re-use
detection, PKCE verification, the clickable consent page, and the test
controls under ``/sandbox/oauth/<platform>/`` (lifetimes, fault queue, call
counters).
"""

from cachalot_sandbox.oauthkit.errors import OAuthError
from cachalot_sandbox.oauthkit.state import AuthCode, Fault, Grant, PlatformState, RefreshToken

__all__ = ["AuthCode", "Fault", "Grant", "OAuthError", "PlatformState", "RefreshToken"]
