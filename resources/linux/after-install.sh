#!/bin/sh
# .deb post-install: put the `upkeep` command line on PATH. The package installs the app under
# /opt/Upkeep; the command is the shim in its resources (runs the app's Electron as Node).
set -e
target=/opt/Upkeep/resources/bin/upkeep
if [ -x "$target" ]; then
  ln -sf "$target" /usr/bin/upkeep
fi
