/**
 * The engine part of the host-side scripts (observe, doctor): `e` runs the host's engine CLI with the
 * Man8S namespace and snapshotter (nerdctl) or plain (docker); `engine` prints present=, version=,
 * compose= (the flavour deploy will use) and compose_version=. Needs ENGINE, NS, SNAP and a temp dir T;
 * COMPOSE_CACHE, when set, is a file where the docker-compose v1 version is remembered.
 *
 * Why the cache: docker-compose v1 (Debian 12's) is Python and takes ~0.4 s just to print its version,
 * most of a no-op observe. The version only changes when the binary does, so it is kept keyed by the
 * binary's path, size, mtime and inode; a package upgrade changes the key and the next observe asks again.
 */
export const ENGINE_SH = String.raw`
compose_v1_version() {
  bin=$(command -v docker-compose 2>/dev/null) || return 1
  key=$(stat -Lc '%n %s %Y %i' "$bin" 2>/dev/null) || key=
  if [ -n "$COMPOSE_CACHE" ] && [ -n "$key" ] && [ -r "$COMPOSE_CACHE" ] && [ "$(sed -n 1p "$COMPOSE_CACHE")" = "$key" ]; then
    sed -n 2p "$COMPOSE_CACHE"
    return 0
  fi
  cv=$(docker-compose version --short 2>/dev/null) && [ -n "$cv" ] || return 1
  if [ -n "$COMPOSE_CACHE" ] && [ -n "$key" ] && mkdir -p "$(dirname "$COMPOSE_CACHE")" 2>/dev/null; then
    printf '%s\n%s\n' "$key" "$cv" >"$COMPOSE_CACHE.$$" 2>/dev/null && mv -f "$COMPOSE_CACHE.$$" "$COMPOSE_CACHE" 2>/dev/null
  fi
  printf '%s\n' "$cv"
}
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
    elif cv=$(compose_v1_version) && [ -n "$cv" ]; then
      printf 'compose=docker-compose-v1\ncompose_version=%s\n' "$cv"
    fi
  fi
}
`;
