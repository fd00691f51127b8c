#!/usr/bin/env bash
# Installs pinbot for the Action: the release binary for the runner's OS and
# architecture that matches the Action's ref, verified against the release's
# checksums.txt, into $PINBOT_BIN_DIR.
#
# A ref vX.Y.Z is that release; a major ref vX is its newest vX.Y.Z release.
# Exit 0: installed. Exit 3: the ref has no release (a branch, a commit, a
# fork without release assets): build from source instead. Exit 1: anything
# else, a checksum that does not match above all, which must fail the job.
set -euo pipefail

ref=${PINBOT_ACTION_REF:-}
repo=${PINBOT_ACTION_REPOSITORY:-pinbot/pinbot}
server=${PINBOT_SERVER_URL:-${GITHUB_SERVER_URL:-https://github.com}}
api=${PINBOT_API_URL:-${GITHUB_API_URL:-https://api.github.com}}
dest=${PINBOT_BIN_DIR:?PINBOT_BIN_DIR names where pinbot goes}

no_release() { echo "pinbot: $1; building from source"; exit 3; }
fail() { echo "::error title=pinbot::$1"; exit 1; }

case "${RUNNER_OS:-}" in
  Linux) os=linux ;;
  macOS) os=darwin ;;
  Windows) os=windows ;;
  *) no_release "no release binary for the runner's OS '${RUNNER_OS:-}'" ;;
esac
case "${RUNNER_ARCH:-}" in
  X64) arch=amd64 ;;
  ARM64) arch=arm64 ;;
  *) no_release "no release binary for the runner's architecture '${RUNNER_ARCH:-}'" ;;
esac
ext=""
if [[ $os == windows ]]; then ext=.exe; fi

# get URL FILE: 0 fetched, 3 not there (404), 1 otherwise.
get() {
  local code
  code=$(curl -sSL --retry 3 --connect-timeout 10 -o "$2" -w '%{http_code}' "$1") || return 1
  case "$code" in
    200) return 0 ;;
    404) return 3 ;;
    *) echo "pinbot: GET $1: HTTP $code"; return 1 ;;
  esac
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [[ $ref =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  version=$ref
elif [[ $ref =~ ^v[0-9]+$ ]]; then
  status=0
  get "$api/repos/$repo/releases?per_page=100" "$tmp/releases.json" || status=$?
  if ((status == 3)); then no_release "$repo has no releases"; fi
  if ((status != 0)); then fail "could not list the releases of $repo"; fi
  version=$(grep -oE "\"tag_name\": *\"$ref\\.[0-9]+\\.[0-9]+\"" "$tmp/releases.json" |
    grep -oE "$ref\\.[0-9]+\\.[0-9]+" | sort -t. -k2,2n -k3,3n | tail -n 1 || true)
  if [[ -z $version ]]; then no_release "no $ref.Y.Z release of $repo"; fi
else
  no_release "'$ref' names no release"
fi

asset="pinbot_${version}_${os}_${arch}${ext}"
base="$server/$repo/releases/download/$version"
status=0
get "$base/$asset" "$tmp/$asset" || status=$?
if ((status == 3)); then no_release "release $version of $repo has no $asset"; fi
if ((status != 0)); then fail "could not download $asset"; fi
status=0
get "$base/checksums.txt" "$tmp/checksums.txt" || status=$?
if ((status != 0)); then fail "release $version of $repo has no checksums.txt to verify $asset against"; fi

want=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1 }' "$tmp/checksums.txt")
if [[ -z $want ]]; then fail "checksums.txt of $version lists no $asset"; fi
if command -v sha256sum >/dev/null; then
  got=$(sha256sum "$tmp/$asset" | cut -d' ' -f1)
else
  got=$(shasum -a 256 "$tmp/$asset" | cut -d' ' -f1)
fi
if [[ $got != "$want" ]]; then
  fail "$asset does not match checksums.txt of $version (sha256 $got, want $want): not installed"
fi

mkdir -p "$dest"
install -m 0755 "$tmp/$asset" "$dest/pinbot$ext"
echo "pinbot: installed $asset, verified against checksums.txt"
