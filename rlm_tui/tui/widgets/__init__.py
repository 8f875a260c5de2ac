"""The app's panes and bars, one widget per module."""
