#!/usr/bin/env bash
# The newcomer demo (`npm run demo`, as root on Linux): a sandbox with the demo fleet's hosts (real sshd,
# docker and yggdrasil in network namespaces), the whole fleet planned and deployed into it, then a page
# fetched from relink-nginx (on relink) by lothric, over yggdrasil. Offline: images the sandbox lacks are
# replaced by local stand-ins (busybox httpd naming the image). `man8s sandbox down` removes it all.
set -euo pipefail
cd "$(dirname "$0")/.."
man8s() { node dist/cli.js "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "build"
npm run build --silent

step "sandbox: one host per folder in hosts/"
man8s sandbox up --from-fleet --install

step "stand-in images for the fleet's images (no registry here)"
mapfile -t images < <(man8s ls --offline --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log([...new Set(JSON.parse(s).map(c=>c.image))].join("\n")))')
man8s sandbox images "${images[@]}"

step "deploy the whole fleet into the sandbox"
man8s deploy --all --sandbox --yes

step "the fleet, live"
man8s ls --sandbox

step "lothric fetches relink-nginx's page over yggdrasil"
addr=$(man8s ls --offline --sandbox --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).find(c=>c.name==="relink-nginx").yggaddr))')
echo "lothric \$ curl http://[$addr]/"
ssh -F .man8s/sandbox/ssh_config man8s-sandbox-lothric curl -sS --max-time 10 "http://[$addr]/"

step "done: try 'node dist/cli.js plan --sandbox', change a file under hosts/, 'node dist/cli.js deploy relink --sandbox'; 'node dist/cli.js sandbox down' removes everything"
