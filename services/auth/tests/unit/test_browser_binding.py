"""The sign-in attempt cookie and the same-origin ``next`` rule."""

from __future__ import annotations

import pytest

from cachalot_auth.browser_binding import Attempt, AttemptSigner, BindingError, safe_next


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "https://evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "evil.com",
        "javascript:alert(1)",
        "/ok\nSet-Cookie: x",
        "",
        None,
    ],
)
def test_anything_but_a_same_origin_path_falls_back_to_the_dashboard(target):
    assert safe_next(target) == "/"


@pytest.mark.parametrize("target", ["/", "/posts", "/posts?id=3", "/a/b#frag"])
def test_same_origin_paths_are_kept(target):
    assert safe_next(target) == target


def test_an_attempt_round_trips_only_for_its_own_platform():
    signer = AttemptSigner("secret-0123456789", max_age_s=600)
    value = signer.dump(Attempt("tiktok", "state-1", "verifier-1", "/posts"))
    assert signer.load(value, platform="tiktok").state == "state-1"
    with pytest.raises(BindingError, match="state_invalid"):
        signer.load(value, platform="youtube")


def test_a_cookie_signed_with_another_secret_is_refused():
    value = AttemptSigner("other-secret-0123", max_age_s=600).dump(
        Attempt("tiktok", "s", None, "/")
    )
    with pytest.raises(BindingError, match="state_invalid"):
        AttemptSigner("secret-0123456789", max_age_s=600).load(value, platform="tiktok")


def test_an_expired_cookie_is_refused():
    signer = AttemptSigner("secret-0123456789", max_age_s=-1)
    value = signer.dump(Attempt("tiktok", "s", None, "/"))
    with pytest.raises(BindingError, match="state_expired"):
        signer.load(value, platform="tiktok")


def test_the_attempt_repr_hides_the_state():
    assert "state-1" not in repr(Attempt("tiktok", "state-1", "verifier-1", "/"))
