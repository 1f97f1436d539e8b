enum _PlaceholderChainsCore {}
