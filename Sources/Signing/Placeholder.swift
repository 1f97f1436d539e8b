enum _PlaceholderSigning {}
