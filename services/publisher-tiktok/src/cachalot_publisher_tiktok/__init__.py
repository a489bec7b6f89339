"""publisher-tiktok: puts queued videos on TikTok (Content Posting API, Direct Post)."""
