"""Pi Cockpit's headless engine: data, features, models, trading, runtime.

Nothing here imports textual or rich; heavy libraries load lazily.
"""
