#!/usr/bin/env bash
# D-Bus activation target for org.freedesktop.secrets inside scripts/with-keyring.sh sessions (test sessions only).
# The stock service file starts gnome-keyring-daemon locked, and with no display it can never be unlocked: if the
# daemon the session unlocked exits (an upstream abort when a client is killed mid-call; twice seen in CI), every
# later keyring call fails with "Cannot create an item in a locked collection". This starts the replacement with the
# session's test password instead, and says so on stderr (it lands in the test log), so it is never silent.
echo "with-keyring: the Secret Service was gone; D-Bus activated a new gnome-keyring-daemon, started unlocked" >&2
printf 'pass' | exec /usr/bin/gnome-keyring-daemon --foreground --unlock --components=secrets
