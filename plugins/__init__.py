"""Built-in plugins, imported as ``harness.plugins.*``, in three families.

``fixes/`` change training, ``monitors/`` observe it and record findings, ``bugs/`` inject
a real mistake. Each family lists its own built-ins; :data:`BUILTINS` is all of them, and
the plugin manager loads it by name (the core names no plugin). ``_shared/`` holds helpers.
"""

from harness.plugins import bugs, fixes, monitors

#: family -> the kind its plugins must declare (checked when plugins are registered)
FAMILY_KINDS: dict[str, str] = {"fixes": "fix", "monitors": "monitor", "bugs": "bug"}

BUILTINS: tuple[str, ...] = fixes.BUILTINS + monitors.BUILTINS + bugs.BUILTINS
