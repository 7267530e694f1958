#!/usr/bin/env bash
# Installs what tern-load builds against when it is missing: OpenSSL's headers and libraries (--tls), zlib's
# (--deflate), and the openssl command (bench/run.sh makes its throwaway certificate with it). Debian/Ubuntu, as root;
# otherwise it says what to install. Called by the Makefile before building.
set -euo pipefail
missing=()
printf '#include <openssl/ssl.h>\n' | "${CC:-cc}" -E -x c - >/dev/null 2>&1 || missing+=(libssl-dev)
printf '#include <zlib.h>\n' | "${CC:-cc}" -E -x c - >/dev/null 2>&1 || missing+=(zlib1g-dev)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "tern-load needs ${missing[*]}: install them (apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "Installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2; do
    if apt-get update -q >&2 && apt-get install -y -q -o DPkg::Lock::Timeout=600 "${missing[@]}" >&2; then
        exit 0
    fi
    echo "apt-get install ${missing[*]} failed (attempt $attempt); retrying" >&2
    sleep 5
done
exit 1
