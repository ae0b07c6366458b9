#!/usr/bin/env bash
# Runs shellcheck on every shell script in the repository (tracked, or new and not
# ignored): the *.sh files and the files without an extension whose first
# line is a sh or bash shebang (.ci/run). Installs Debian's shellcheck with apt-get when it
# is missing and we are root.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v shellcheck >/dev/null && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
	echo "shellcheck: installing shellcheck with apt-get" >&2
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck; } >&2 ||
		echo "shellcheck: apt-get could not install shellcheck" >&2
fi
command -v shellcheck >/dev/null || { echo "shellcheck: shellcheck is not installed (apt-get install shellcheck)" >&2; exit 1; }

files=()
while IFS= read -r -d '' f; do
	[[ -f "$f" ]] || continue
	name=${f##*/}
	case "$name" in
	*.sh) files+=("$f") ;;
	*.*) ;;
	*) if head -n 1 "$f" | grep -Eq '^#!.*(/|env )(ba)?sh([[:space:]]|$)'; then files+=("$f"); fi ;;
	esac
done < <(git ls-files -z --cached --others --exclude-standard)

if ((${#files[@]} == 0)); then
	echo "shellcheck: no shell scripts found" >&2
	exit 1
fi
shellcheck --external-sources --source-path=SCRIPTDIR "${files[@]}"
echo "shellcheck: ${#files[@]} scripts clean ($(shellcheck --version | sed -n 's/^version: //p'))"
