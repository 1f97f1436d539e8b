enum _PlaceholderProvenance {}
