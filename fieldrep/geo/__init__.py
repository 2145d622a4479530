"""Geography that works offline: the gazetteer of postal-code and city centroids, distances, routing."""
