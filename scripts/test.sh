#!/usr/bin/env bash
# The project's test command: installs what the tests need on a fresh Debian machine, then runs `swift test`.
#   scripts/test.sh            # everything
#   scripts/test.sh --filter X # passed on to swift test
# Idempotent: apt and pip skip what is already there. Needs root (or sudo) only for apt.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# 1. Debian packages the tests start or call: docker-registry (distribution 2.8, the real registry the tests
#    push to), apache2-utils (htpasswd, bcrypt users for it), ssh-keygen,
#    openssl (independent key and signature checks), python3-venv (for the verifiers below), and kubectl
#    (Debian's kubernetes-client: `kubectl kustomize` renders config/ for the manifest tests) unless one is there.
APT_PACKAGES=(openssh-client openssl python3-venv docker-registry apache2-utils)
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
if [ ${#missing[@]} -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    echo "== installing ${missing[*]}"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# 2. A Python venv with pinned independent verifiers (securesystemslib, cryptography, PyNaCl, sigstore, …).
venv="$root/.venv-test"
stamp="$venv/.requirements.sha256"
want=$(sha256sum Tests/Interop/requirements.txt | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "== creating $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r Tests/Interop/requirements.txt
    echo "$want" > "$stamp"
fi
export CHAINS_TEST_PYTHON="$venv/bin/python"

# 2b. The AWS doubles (moto's server) and botocore's SigV4 reference, in a venv of their own: botocore pins
#     python-dateutil below 3, the Kubernetes client in the first one above.
aws_venv="$root/.venv-aws"
aws_stamp="$aws_venv/.requirements.sha256"
aws_want=$(sha256sum Tests/Interop/requirements-aws.txt | cut -d' ' -f1)
if [ ! -x "$aws_venv/bin/python" ] || [ "$(cat "$aws_stamp" 2>/dev/null)" != "$aws_want" ]; then
    echo "== creating $aws_venv"
    python3 -m venv "$aws_venv"
    "$aws_venv/bin/pip" install -q --disable-pip-version-check -r Tests/Interop/requirements-aws.txt
    echo "$aws_want" > "$aws_stamp"
fi
export CHAINS_TEST_AWS_PYTHON="$aws_venv/bin/python"

# 3. Package hygiene: every target declares what it imports (SwiftPM builds undeclared imports that arrive
#    transitively, so this is checked against `swift package dump-package`).
echo "== import check"
python3 scripts/check-imports.py
#    The public surface: only the products' API is `public`, each declaration documented.
echo "== public API check"
python3 scripts/check-public-api.py
#    The mutation probes still find their text (the probes themselves run by hand).
python3 scripts/mutation-probe.py --check

# 4. The tests. The command-line tests run the `chains` executable, so build it first.
echo "== swift build"
swift build
echo "== swift test"
exec swift test "$@"
