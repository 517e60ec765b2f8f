/**
 * The engine part of the host-side scripts (observe, doctor): `e` runs the host's engine CLI with the
 * Man8S namespace and snapshotter (nerdctl) or plain (docker); `engine` prints present=, version=,
 * compose= (the flavour deploy will use) and compose_version=. Needs ENGINE, NS, SNAP and a temp dir T.
 */
export const ENGINE_SH = String.raw`
e() {
  if [ "$ENGINE" = nerdctl ]; then nerdctl --namespace "$NS" --snapshotter "$SNAP" "$@"; else docker "$@"; fi
}
engine() {
  if [ "$ENGINE" = nerdctl ]; then
    command -v nerdctl >/dev/null 2>&1 || { echo present=0; return 0; }
    echo present=1
    v=$(e version --format '{{.Client.Version}}' 2>"$T/ve") || printf 'error=%s\n' "$(head -c 300 "$T/ve" | tr '\n' ' ')"
    printf 'version=%s\n' "$v"
    if cv=$(e compose version --short 2>/dev/null) && [ -n "$cv" ]; then printf 'compose=nerdctl\ncompose_version=%s\n' "$cv"; fi
  else
    command -v docker >/dev/null 2>&1 || { echo present=0; return 0; }
    echo present=1
    v=$(docker version --format '{{.Server.Version}}' 2>"$T/ve") || printf 'error=%s\n' "$(head -c 300 "$T/ve" | tr '\n' ' ')"
    printf 'version=%s\n' "$v"
    if cv=$(docker compose version --short 2>/dev/null) && [ -n "$cv" ]; then
      printf 'compose=docker-compose-v2\ncompose_version=%s\n' "$cv"
    elif cv=$(docker-compose version --short 2>/dev/null) && [ -n "$cv" ]; then
      printf 'compose=docker-compose-v1\ncompose_version=%s\n' "$cv"
    fi
  fi
}
`;
