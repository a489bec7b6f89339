"""Local fakes of the platforms' APIs, faithful to their documented behaviour.

Each platform is served under its own path prefix (``/telegram``, ``/tiktok``,
``/google``, ``/youtube``, ``/instagram``, ``/vk``), which stands in for its
host: point ``CACHALOT_TIKTOK_API_BASE`` at ``http://127.0.0.1:8090/tiktok``
and the client uses TikTok's real paths below it. Controls for people and
tests (what was sent, fault switches) live under ``/sandbox/<platform>/``.
"""
