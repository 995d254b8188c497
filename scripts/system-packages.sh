# Sourced by test.sh: make sure the Debian packages the test suite needs are installed.
#
# Missing packages are installed with apt-get when that is possible (root, apt-get
# present); otherwise the script stops with one line naming them. Each check looks
# where the tests look: tests/net/i2p_testnet.py runs $I2PD (default /usr/sbin/i2pd)
# and needs `ip` on PATH; tests/web/conftest.py launches /usr/bin/chromium.
#
# For testing this script only: CLIQUECLIQUE_NO_APT=1 acts as if apt-get could not
# be used, and CLIQUECLIQUE_SYSROOT=DIR looks for the fixed paths under DIR.

# Print the missing Debian packages, space-separated (nothing when all are there).
system_packages_missing() {
    local root="${CLIQUECLIQUE_SYSROOT:-}" missing=()
    if [ -n "${I2PD:-}" ]; then
        [ -x "$I2PD" ] || command -v "$I2PD" >/dev/null 2>&1 || missing+=(i2pd)
    else
        [ -x "$root/usr/sbin/i2pd" ] || missing+=(i2pd)
    fi
    [ -x "$root/usr/bin/chromium" ] || missing+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || [ -x "$root/usr/bin/chromedriver" ] ||
        missing+=(chromium-driver)
    command -v ip >/dev/null 2>&1 || missing+=(iproute2)
    echo "${missing[*]}"
}

# Install what is missing, or exit 1 with one line on stderr saying what to do.
system_packages_ensure() {
    local me missing log=test-artifacts/apt-install.log
    me="$(basename "$0")"
    missing="$(system_packages_missing)"
    [ -n "$missing" ] || return 0
    if [ -n "${CLIQUECLIQUE_NO_APT:-}" ] || [ "$(id -u)" -ne 0 ]; then
        echo "$me: missing system packages $missing: install them (apt-get install $missing) or run as root" >&2
        exit 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "$me: missing system packages $missing: install them (Debian: apt-get install $missing)" >&2
        exit 1
    fi
    echo "$me: installing system packages $missing (first run only)..." >&2
    mkdir -p "$(dirname "$log")"
    # shellcheck disable=SC2086  # $missing is a list of package names
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
           DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing; } >"$log" 2>&1; then
        cat "$log" >&2
        echo "$me: apt-get install $missing failed; the log above is also in $log" >&2
        exit 1
    fi
    missing="$(system_packages_missing)"
    if [ -n "$missing" ]; then
        echo "$me: still missing system packages $missing after apt-get install (log: $log)" >&2
        exit 1
    fi
}
