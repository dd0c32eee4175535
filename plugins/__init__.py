"""Built-in fixes and monitors, one module each (imported as ``harness.plugins.*``).

Every module's docstring names the pathology, the signal and the fix; the list of
built-ins is :data:`harness.pluginmanager.DEFAULT_PLUGINS`.
"""
