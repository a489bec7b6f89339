"""publisher-instagram: queued Reels, images and carousels → Instagram, once per target."""
