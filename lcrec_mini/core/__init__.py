"""The generic machinery: config overrides and presets, stage runner, CLI, run reader."""
