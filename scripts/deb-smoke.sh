#!/usr/bin/env bash
# The Debian package, installed and run as its systemd unit would run it (usage: deb-smoke.sh
# BUILD_DIR; as root). The unit is checked with systemd-analyze; the server is started from the
# unit's own ExecStart, User and environment (systemd itself may not run here), called with the
# first operator key it writes and with the AWS SDK for Python, stopped with SIGTERM (exit 0);
# then the package is purged.
set -euo pipefail
# Installing a package and switching users take root.
[ "$(id -u)" -eq 0 ] || exec sudo "$0" "$@"
cd "$(dirname "$0")/.."
build=${1:?usage: deb-smoke.sh BUILD_DIR}
deb=$(ls -t "$build"/lambkin_*.deb | head -n 1)
echo "installing $deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$(realpath "$deb")" >/dev/null
trap 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq lambkin >/dev/null || true' EXIT
unit=/lib/systemd/system/lambkin.service
systemd-analyze verify --man=no "$unit"
test "$(stat -c %U /var/lib/lambkin)" = lambkin
test -x /usr/lib/lambkin/lambkin-init

# ExecStart with the unit's Environment= and EnvironmentFile= applied, as the unit's User.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cmd=$(/usr/bin/python3 - "$unit" "$port" <<'PY'
import re, shlex, sys
unit, port = sys.argv[1], sys.argv[2]
text = open(unit).read().replace("\\\n", " ")
env, user, exec_start = {}, None, None
for line in text.splitlines():
    key, _, value = line.partition("=")
    if key == "Environment":
        k, _, v = value.partition("=")
        env[k] = v
    elif key == "EnvironmentFile":
        path = value.lstrip("-")
        for l in open(path):
            l = l.strip()
            if l and not l.startswith("#"):
                k, _, v = l.partition("=")
                env[k] = v
    elif key == "User":
        user = value
    elif key == "ExecStart":
        exec_start = value
env["LAMBKIN_LISTEN"] = f"127.0.0.1:{port}"  # a free port for the test
words = []
for w in shlex.split(exec_start):
    m = re.fullmatch(r"\$\{?(\w+)\}?", w)
    if m:
        words += shlex.split(env.get(m.group(1), ""))
    else:
        words.append(re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), w))
print(user, shlex.join(words))
PY
)
user=${cmd%% *}
exec_start=${cmd#* }
echo "as $user: $exec_start"
log=$(mktemp)
# setpriv execs the server itself (runuser would stay between, and die of the SIGTERM below).
setpriv --reuid="$user" --regid="$user" --init-groups -- sh -c "exec $exec_start" >"$log" 2>&1 &
server=$!
# The first start unpacks the runtimes into the data directory (tens of seconds).
for _ in $(seq 1 1800); do grep -q "listening on" "$log" && break; kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
cat "$log"
endpoint="http://127.0.0.1:$port"
curl -fsS "$endpoint/lambkin/v1/health" >/dev/null
curl -fsS "$endpoint/console/" | grep -q "<title>Lambkin console</title>"
# --production: no development key; the first operator key is in the data directory.
creds=/var/lib/lambkin/operator-credentials
test -f "$creds"
AWS_SHARED_CREDENTIALS_FILE=$creds AWS_PROFILE=lambkin-operator LAMBKIN_ENDPOINT=$endpoint \
  /usr/bin/lambkin runtime list | grep -q "provided:al2023"
# A production server takes only execution roles of its directory: declare one.
role_file=$(mktemp)
echo '{ "accounts": { "123456789012": { "roles": { "smoke-exec": { "policies": {} } } } } }' > "$role_file"
AWS_SHARED_CREDENTIALS_FILE=$creds AWS_PROFILE=lambkin-operator LAMBKIN_ENDPOINT=$endpoint \
  /usr/bin/lambkin iam apply "$role_file"
AWS_SHARED_CREDENTIALS_FILE=$creds AWS_PROFILE=lambkin-operator /usr/bin/python3 - "$endpoint" <<'PY'
import io, sys, time, zipfile, boto3
lam = boto3.client("lambda", endpoint_url=sys.argv[1], region_name="us-east-1")
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("index.py", "def handler(event, context):\n    return {'packaged': True}\n")
lam.create_function(FunctionName="smoke", Runtime="python3.11", Handler="index.handler",
                    Role="arn:aws:iam::123456789012:role/smoke-exec", Code={"ZipFile": buf.getvalue()})
out = lam.invoke(FunctionName="smoke")
payload = out["Payload"].read()
assert out["StatusCode"] == 200 and payload == b'{"packaged": true}', payload
print("invoked:", payload.decode())
PY
kill -TERM "$server"
wait "$server"
echo "stopped with exit code 0"
