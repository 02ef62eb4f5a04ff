#!/bin/sh
# .deb post-remove: drop /usr/bin/upkeep when it still points into the removed app.
set -e
if [ -L /usr/bin/upkeep ] && [ "$(readlink /usr/bin/upkeep)" = /opt/Upkeep/resources/bin/upkeep ]; then
  rm -f /usr/bin/upkeep
fi
