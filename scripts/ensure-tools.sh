#!/usr/bin/env bash
# Installs the Debian packages the test suites need but npm cannot provide:
# the shellcheck linter (scripts/test/shellcheck.bats), chromium (browser tests)
# iptables (the local runtime's tenant network isolation, used as root only;
# without root it is only mentioned, never a failure) and the PostgreSQL server
# (tenant databases, in npm start and the tests).
# Safe to run repeatedly: it only installs what is missing.
#   scripts/ensure-tools.sh            install every missing tool
#   scripts/ensure-tools.sh shellcheck install only the named tools
set -euo pipefail

# tool name -> Debian package that provides it
package_for() {
  case "$1" in
    shellcheck) echo shellcheck ;;
    chromium) echo chromium ;;
    iptables) echo iptables ;;
    postgres) echo postgresql ;;
    *) echo "ensure-tools: unknown tool '$1' (known: shellcheck chromium iptables postgres)" >&2; return 2 ;;
  esac
}

main() {
  local tools=("$@") missing=() tool path
  if [[ ${#tools[@]} -eq 0 ]]; then tools=(shellcheck chromium iptables postgres); fi
  for tool in "${tools[@]}"; do
    package_for "$tool" >/dev/null || exit 2
    # iptables lives in sbin, which a non-root PATH often lacks
    # Debian keeps the PostgreSQL server out of PATH, under /usr/lib/postgresql/<version>/bin
    if path=$(PATH="$PATH:/usr/sbin:/sbin$(printf ':%s' /usr/lib/postgresql/*/bin)" command -v "$tool" 2>/dev/null); then
      echo "ensure-tools: $tool is installed ($path)"
    elif [[ $tool == iptables && $(id -u) -ne 0 ]]; then
      echo "ensure-tools: iptables is missing; only root uses it (tenant network isolation), so nothing to do"
    else
      missing+=("$(package_for "$tool")")
    fi
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0

  if [[ $(id -u) -ne 0 ]]; then
    echo "ensure-tools: missing ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}" >&2
    return 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-tools: missing ${missing[*]} and apt-get is not available; install them with your package manager" >&2
    return 1
  fi
  echo "ensure-tools: installing ${missing[*]} with apt-get"
  # update only when the package is unknown to the local index, to stay fast
  if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

main "$@"
