"""The Map page: the canvas (basemap, territories, 100,000 markers), its layers and tools, the day's route."""
