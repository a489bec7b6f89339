"""A strict fake of the VK API's publishing methods (``api.vk.com/method/*``) and uploads.

What it holds to, from shared/reference/platforms.md §4.2–4.4 and dev.vk.com:

* ``GET|POST /vk/method/<name>`` (uploads at ``/vk/upload/<ticket>``): parameters in the query or a
  (``application/x-www-form-urlencoded`` or ``multipart/form-data``); a JSON
  body is error 8. ``v`` is required (error 8 without it). The token comes as
  ``access_token`` or ``Authorization: Bearer``; a missing, expired or revoked
  one is error 5. Every error is an ``{"error": {"error_code", "error_msg",
  "request_params"}}`` body **with HTTP 200**.
* At most 3 requests per second per user token (a sliding one-second window):
  the fourth is error 6.
* Methods need their scope: ``video.save`` → ``video``; ``photos.*`` →
  ``photos``; ``wall.post`` → ``wall``; ``groups.get`` → ``groups``; a missing
  one is error 15 (access denied).
* ``video.save`` hands out a one-shot ``upload_url``; the upload is multipart
  with the file in ``video_file`` and answers without the API envelope.
  ``photos.getWallUploadServer`` → upload multipart ``photo`` → ``{server,
  photo, hash}`` → ``photos.saveWallPhoto``. ``wall.post`` checks the owner
  (the user's own id, or ``-<community>`` the user administers: else error
  214), the attachment syntax and that each attachment exists for its owner,
  and is idempotent on ``guid`` per owner (the same post id comes back).
* Injectable faults (``POST /sandbox/vk/faults``): the next ``times`` calls of
  a method answer error ``code`` (14 with ``captcha_sid``/``captcha_img``).

Everything published is kept with the SHA-256 of each uploaded file
(``GET /sandbox/vk/posts``), so tests compare bytes and count posts.
"""

from cachalot_sandbox.vk_api.server import STATE, create_router

__all__ = ["STATE", "create_router", "reset"]


def reset() -> None:
    """Forget every upload, post, community and armed fault (``POST /sandbox/reset``)."""
    STATE.reset()
