#!/usr/bin/env bash
# Replays deploy/Dockerfile outside Docker, on a machine with Node 20 and
# npm but no Docker daemon or image registry:
#
#   build stage    the COPY lines copy from this checkout into a fresh folder
#                  (standing for /app) and the `RUN npm …` lines run there,
#                  verbatim (minus BuildKit's --mount flags);
#   runtime stage  the COPY --from=build lines assemble a second folder, the
#                  ENV lines give the environment (/data becomes a temp
#                  folder owned by uid 10001, mode 0700), and the ENTRYPOINT +
#                  CMD start the server as USER 10001 (setpriv);
#   then           /-/health and /-/ready are probed, the HEALTHCHECK command
#                  runs as that user, and SIGTERM stops the server.
#
# Not replayed (printed as such): the base image, `RUN apt-get …` lines
# (this host's packages are used; their presence is checked), tini, the
# useradd. ANVIL_LISTEN's 0.0.0.0:9000 becomes 127.0.0.1 and a free port.
#
# Usage: sudo deploy/smoke.sh        (root: it switches to uid 10001)
#   SMOKE_KEEP=1  keep the work folder (printed) for a look afterwards.
# Exit status 0 only if every replayed step passed and /-/health answered 200.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
dockerfile="$repo/deploy/Dockerfile"
work="$(mktemp -d "${TMPDIR:-/tmp}/anvil-smoke.XXXXXX")"
build="$work/build"
runtime="$work/runtime"
data="$work/data"
mkdir -p "$build" "$runtime"
chmod 0755 "$work"

server_pid=""
failures=0
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  if [ "${SMOKE_KEEP:-0}" = 1 ]; then echo "smoke: work folder kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

say() { printf '\n==> %s\n' "$*"; }
ok() { printf '    ok    %s\n' "$*"; }
bad() {
  printf '    FAIL  %s\n' "$*"
  failures=$((failures + 1))
}
skip() { printf '    not replayed: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "smoke: run as root (it starts the server as uid 10001, as the image does)" >&2
  exit 2
fi

# The Dockerfile as one instruction per line: continuations joined, comments dropped.
instructions() {
  awk '
    /^[[:space:]]*#/ { next }
    /^[[:space:]]*$/ { if (buf == "") next }
    {
      line = $0
      sub(/^[[:space:]]+/, "", line)
      if (line ~ /\\$/) { sub(/\\$/, "", line); buf = buf line " "; next }
      print buf line
      buf = ""
    }' "$dockerfile"
}

# Substitutions of the image's paths by the work folders.
app_in() { sed -e "s#/app/#$1/#g" -e "s#^/app\$#$1#"; }

stage=""
declare -a env_names=() env_values=()
entrypoint="" cmd="" user="" healthcheck="" node_image=""

say "Dockerfile: $dockerfile"
while IFS= read -r ins; do
  op="${ins%% *}"
  args="${ins#* }"
  case "$op" in
    ARG) [[ "$args" == NODE_IMAGE=* ]] && node_image="${args#NODE_IMAGE=}" ;;
    FROM)
      stage="${args##* AS }"
      image="${args%% *}"
      [ "$image" = '${NODE_IMAGE}' ] && image="$node_image"
      say "stage $stage"
      skip "base image $image (this host instead: node $(node --version), npm $(npm --version))"
      ;;
    WORKDIR)
      [ "$args" = /app ] || bad "WORKDIR $args: this script maps only /app"
      ;;
    RUN)
      cmdline="$(sed -E 's/^(--[^ ]+ +)+//' <<<"$args")"
      if [[ "$cmdline" == npm\ * ]]; then
        [ "$stage" = build ] || bad "npm in stage $stage: not replayed"
        echo "    \$ $cmdline"
        start=$SECONDS
        if (cd "$build" && nice -n 10 bash -c "$cmdline") >"$work/npm.log" 2>&1; then
          ok "$cmdline ($((SECONDS - start)) s)"
        else
          bad "$cmdline (exit $?; last lines below)"
          tail -n 30 "$work/npm.log" | sed 's/^/          /'
          exit 1
        fi
      elif [[ "$cmdline" == apt-get\ * ]]; then
        pkgs="$(grep -oE 'install -y( --no-install-recommends)? [^&]+' <<<"$cmdline" | sed -E 's/install -y( --no-install-recommends)? //')"
        skip "apt-get install $pkgs"
        for p in $pkgs; do
          if dpkg -s "$p" >/dev/null 2>&1; then echo "          $p: installed on this host"; else echo "          $p: NOT installed on this host"; fi
        done
        if grep -q useradd <<<"$cmdline"; then skip "useradd anvil (uid 10001); setpriv runs the server under the bare uid"; fi
      else
        bad "RUN $cmdline: this script does not know how to replay it"
      fi
      ;;
    COPY)
      from="$(grep -oE -- '--from=[^ ]+' <<<"$args" | cut -d= -f2 || true)"
      words=()
      for w in $args; do [[ "$w" == --* ]] || words+=("$w"); done
      dest="${words[-1]}"
      unset 'words[-1]'
      if [ -n "$from" ]; then
        [ "$from" = build ] || bad "COPY --from=$from: only the build stage is known"
        for src in "${words[@]}"; do
          s="$(app_in "$build" <<<"$src")"
          d="$(cd "$runtime" && realpath -m "$dest")"
          cp -a "$s" "$d"
        done
        ok "COPY --from=build ${words[*]} -> $dest"
      else
        target="$build"
        [ "$stage" = runtime ] && target="$runtime"
        for src in "${words[@]}"; do
          case "$dest" in
            */) mkdir -p "$target/$dest" && cp -a "$repo/$src" "$target/$dest" ;;
            *) cp -a "$repo/$src" "$(cd "$target" && realpath -m "$dest")" ;;
          esac
        done
        ok "COPY ${words[*]} -> $dest (from this checkout's working tree)"
      fi
      ;;
    ENV)
      # ENV A=1 B=2 (values without spaces, as in our Dockerfile)
      for kv in $args; do
        env_names+=("${kv%%=*}")
        env_values+=("${kv#*=}")
      done
      ;;
    USER) user="$args" ;;
    VOLUME)
      [ "$args" = /data ] || bad "VOLUME $args: this script maps only /data"
      install -d -o 10001 -g 10001 -m 0700 "$data"
      ok "VOLUME /data -> $data (uid 10001, mode 0700)"
      ;;
    EXPOSE | STOPSIGNAL) ;;
    HEALTHCHECK) healthcheck="$(sed -E 's/^(--[^ ]+ +)*CMD +//' <<<"$args")" ;;
    ENTRYPOINT) entrypoint="$args" ;;
    CMD) cmd="$args" ;;
    *) bad "$op: unknown instruction" ;;
  esac
done < <(instructions)

say "runtime tree"
for devdep in typescript vitest eslint; do
  if [ -e "$runtime/node_modules/$devdep" ]; then bad "dev dependency $devdep is in the runtime tree"; else ok "no $devdep (pruned)"; fi
done
[ -f "$runtime/dist/cli/main.js" ] && ok "dist/cli/main.js built" || bad "dist/cli/main.js missing"
echo "    size: $(du -sh "$runtime" | cut -f1) (node_modules $(du -sh "$runtime/node_modules" | cut -f1))"

# The environment: the image's ENV with its paths mapped, on a free loopback port.
port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
declare -a envs=(HOME=/nonexistent PATH="$PATH")
for i in "${!env_names[@]}"; do
  name="${env_names[$i]}"
  value="${env_values[$i]}"
  case "$name" in
    ANVIL_DATA_DIR) value="$data" ;;
    ANVIL_LISTEN) echo "    ANVIL_LISTEN=$value -> 127.0.0.1:$port" && value="127.0.0.1:$port" ;;
  esac
  envs+=("$name=$value")
done
echo "    environment: ${envs[*]:2}"

# ENTRYPOINT + CMD (exec form), tini left out, /app mapped.
mapfile -t argv < <(node -e '
  const [entry, cmd, app] = process.argv.slice(1);
  let a = [...JSON.parse(entry), ...JSON.parse(cmd)];
  if (a[0].endsWith("/tini")) a = a.slice(a.indexOf("--") + 1);
  for (const x of a) console.log(x.replace(/^\/app\//, app + "/"));
' "$entrypoint" "$cmd" "$runtime")
[ "$user" = 10001:10001 ] || bad "USER is '$user', expected 10001:10001"
skip "tini as PID 1 (the server is started directly)"

say "start: setpriv --reuid 10001 --regid 10001 ${argv[*]}"
(cd "$runtime" && exec setpriv --reuid 10001 --regid 10001 --clear-groups env -i "${envs[@]}" "${argv[@]}") >"$work/server.log" 2>&1 &
server_pid=$!
up=""
for _ in $(seq 1 120); do
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  if node -e "fetch('http://127.0.0.1:$port/-/metrics').then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))" 2>/dev/null; then
    up=1
    break
  fi
  sleep 0.5
done
if [ -z "$up" ]; then
  bad "the server did not come up; its output:"
  sed 's/^/          /' "$work/server.log"
  exit 1
fi
ok "listening on 127.0.0.1:$port (pid $server_pid)"
# (setpriv and env exec in turn: the pid is the server's.)
uid="$(awk '/^Uid:/ { print $2 }' "/proc/$server_pid/status")"
[ "$uid" = 10001 ] && ok "runs as uid $uid" || bad "runs as uid $uid"
mode="$(stat -c '%a %u' "$data")"
[ "$mode" = "700 10001" ] && ok "data folder mode/owner: $mode" || bad "data folder mode/owner: $mode"
echo "    data folder: $(cd "$data" && ls | tr '\n' ' ')"

say "probes"
status() { node -e "fetch('http://127.0.0.1:$port$1').then(async (r)=>{console.log(r.status+' '+(await r.text()).slice(0,200).replace(/\s+/g,' '))},(e)=>console.log('error '+e.message))"; }
health="$(status /-/health)"
ready="$(status /-/ready)"
metrics="$(status /-/metrics | cut -c1-3)"
s3="$(status / | cut -c1-3)"
[ "${health%% *}" = 200 ] && ok "GET /-/health: $health" || bad "GET /-/health: $health"
echo "    GET /-/ready: $ready"
[ "$metrics" = 200 ] && ok "GET /-/metrics: $metrics" || bad "GET /-/metrics: $metrics"
[ "$s3" = 403 ] && ok "GET / without credentials: $s3 (S3 answers, refuses anonymous)" || bad "GET / without credentials: $s3"

mapfile -t hc < <(node -e 'for (const x of JSON.parse(process.argv[1])) console.log(x)' "$healthcheck")
if (cd "$runtime" && setpriv --reuid 10001 --regid 10001 --clear-groups env -i "${envs[@]}" "${hc[@]}"); then
  ok "HEALTHCHECK command (as uid 10001): exit 0"
else
  hc_status=$?
  if [ "${ready%% *}" = 200 ]; then bad "HEALTHCHECK command: exit $hc_status while /-/ready is 200"; else echo "    HEALTHCHECK command: exit $hc_status (as /-/ready answered: ${ready%% *})"; fi
fi

say "stop: SIGTERM"
start=$SECONDS
kill -TERM "$server_pid"
for _ in $(seq 1 90); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$server_pid" 2>/dev/null; then
  bad "still running 45 s after SIGTERM (compose's stop_grace_period)"
else
  wait "$server_pid" && rc=0 || rc=$?
  server_pid=""
  [ "$rc" = 0 ] && ok "exited with status 0 after $((SECONDS - start)) s" || bad "exited with status $rc"
fi
echo "    server log (last lines):"
tail -n 8 "$work/server.log" | cut -c1-240 | sed 's/^/      /'

say "result"
if [ "$failures" -eq 0 ]; then
  echo "smoke: every replayed step passed"
else
  echo "smoke: $failures step(s) failed"
  exit 1
fi
