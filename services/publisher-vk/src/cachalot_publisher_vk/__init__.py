"""publisher-vk: VK wall posts on the shared publishing runtime."""
