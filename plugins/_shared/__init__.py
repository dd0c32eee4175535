"""Helpers the plugins share (model parts, schedules, monitor buffers); no plugin lives here."""
