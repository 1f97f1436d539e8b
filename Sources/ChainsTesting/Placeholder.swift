enum _PlaceholderChainsTesting {}
