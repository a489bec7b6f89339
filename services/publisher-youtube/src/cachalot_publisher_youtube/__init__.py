"""publisher-youtube: queued videos → YouTube, by resumable upload, once per target."""
