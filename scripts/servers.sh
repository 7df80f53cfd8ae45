#!/usr/bin/env bash
# scripts/servers.sh — install, start, stop and describe the real servers that
# omnistorage's integration tests talk to. Everything listens on 127.0.0.1 only.
#
#   name   server                          default port   override
#   s3     moto server (S3 API)            26055          OMNI_S3_PORT
#   azure  Azurite 3.35.0 (Blob API only)  26010          OMNI_AZURE_PORT
#   gcs    gcp-storage-emulator            26023          OMNI_GCS_PORT
#   sftp   private OpenSSH sshd            26022          OMNI_SFTP_PORT
#   pg     PostgreSQL 15                   26032          OMNI_PG_PORT
#   http   private nginx (static files)    28080          OMNI_HTTP_PORT
#          … and its TLS listener          28443          OMNI_HTTPS_PORT
#
# The defaults lie below Linux's ephemeral port range (32768-60999 unless
# /proc/sys/net/ipv4/ip_local_port_range says otherwise), where any client
# socket may take a port first, and below Kubernetes' NodePorts (30000-32767).
# Before a server starts, the script checks that 127.0.0.1:PORT can be bound
# (as the server will, with SO_REUSEADDR); a port that is taken, by a listener
# or by another program's client socket, stops the start with an error naming
# the server, the port and the variable that moves it. A server that still
# fails to bind (it lost a race for the port) is reported the same way.
#
# Usage:
#   scripts/servers.sh install          apt/npm packages the servers need (idempotent)
#   scripts/servers.sh start  [NAME…]   start (or reuse) servers and wait until they answer
#   scripts/servers.sh stop   [NAME…]   stop servers by their recorded PIDs
#   scripts/servers.sh status [NAME…]   say which servers are up (exit 1 if any is not)
#   scripts/servers.sh env              print `export OMNI_TEST_…=…` lines; use with
#                                       eval "$(scripts/servers.sh env)"
#   scripts/servers.sh running          print the names of the servers that are up
#
# Other settings (environment):
#   VENV                 virtualenv holding moto_server / gcp-storage-emulator (.venv)
#   OMNI_SERVERS_DIR     state directory (.servers): logs/, pids/, node/, sftp/, pg/
#   OMNI_SERVER_TIMEOUT  seconds to wait for each server to answer (30)
#   OMNI_SFTP_USER       unprivileged user that runs sshd and owns the SFTP root (omnisftp)
#   OMNI_PG_PASSWORD     password of the postgres role (omnistorage); changing it
#                        re-initialises the (disposable) test cluster
#   OMNI_HTTP_USER       unprivileged user nginx runs as when started as root (nobody)
#   OMNI_HTTP_PASSWORD   basic-auth password of the user "omni" on /basic/ (omnistorage-http)
#   OMNI_HTTP_TOKEN      bearer token accepted on /bearer/ (omnistorage-http-token)
#
# nginx serves one document root (OMNI_TEST_HTTP_ROOT, which tests populate) under
# several locations: /files/ (no index), /listing/ (autoindex_format json),
# /basic/ (basic auth + listing) and /bearer/ (bearer token + listing), on plain
# HTTP and, with a self-signed certificate (OMNI_TEST_HTTP_CA_FILE), on TLS.
#
# Python packages (moto[server], gcp-storage-emulator, client libraries) are not
# installed here: scripts/test.sh installs them into the venv with `pip install -e '.[dev]'`.
#
# Each server's stdout/stderr goes to .servers/logs/NAME.log and its PID to
# .servers/pids/NAME.pid. Servers run detached (own session, stdin from
# /dev/null) so they never hold the caller's stdout open.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# ---------------------------------------------------------------- settings --
abspath() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$ROOT" "$1" ;; esac; }

VENV="$(abspath "${VENV:-.venv}")"
SERVERS_DIR="$(abspath "${OMNI_SERVERS_DIR:-.servers}")"
LOG_DIR="$SERVERS_DIR/logs"
PID_DIR="$SERVERS_DIR/pids"
NODE_DIR="$SERVERS_DIR/node"

S3_PORT="${OMNI_S3_PORT:-26055}"
AZURE_PORT="${OMNI_AZURE_PORT:-26010}"
GCS_PORT="${OMNI_GCS_PORT:-26023}"
SFTP_PORT="${OMNI_SFTP_PORT:-26022}"
PG_PORT="${OMNI_PG_PORT:-26032}"
HTTP_PORT="${OMNI_HTTP_PORT:-28080}"
HTTPS_PORT="${OMNI_HTTPS_PORT:-28443}"

TIMEOUT="${OMNI_SERVER_TIMEOUT:-30}"
SFTP_USER="${OMNI_SFTP_USER:-omnisftp}"
PG_PASSWORD="${OMNI_PG_PASSWORD:-omnistorage}"
HTTP_USER="${OMNI_HTTP_USER:-nobody}"
HTTP_PASSWORD="${OMNI_HTTP_PASSWORD:-omnistorage-http}"
HTTP_TOKEN="${OMNI_HTTP_TOKEN:-omnistorage-http-token}"

AZURITE_VERSION="3.35.0"
PG_BIN="/usr/lib/postgresql/15/bin"
APT_PACKAGES=(openssh-server postgresql-15 zstd gzip pigz rclone nginx openssl)
ALL_SERVERS=(s3 azure gcs sftp pg http)

# The well-known, publicly documented key of Azurite's development account.
AZURITE_ACCOUNT="devstoreaccount1"
AZURITE_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

# sshd and postgres run as unprivileged users, so their files must live in a
# directory those users can reach. If some parent of .servers is not
# world-traversable (e.g. a clone under /root), use a directory under /var/tmp.
world_traversable() {
    local dir="$1" mode
    while [[ -n "$dir" && "$dir" != "/" ]]; do
        if [[ -e "$dir" ]]; then
            mode="$(stat -c '%a' "$dir")"
            (( (8#$mode & 1) == 1 )) || return 1
        fi
        dir="$(dirname "$dir")"
    done
}
if world_traversable "$SERVERS_DIR"; then
    SHARED_DIR="$SERVERS_DIR"
else
    SHARED_DIR="/var/tmp/omnistorage-servers-$(printf '%s' "$SERVERS_DIR" | md5sum | cut -c1-8)"
fi
SFTP_DIR="$SHARED_DIR/sftp"
SFTP_ROOT="$SFTP_DIR/root"
SFTP_KEY="$SFTP_DIR/client_ed25519"
SFTP_KNOWN_HOSTS="$SFTP_DIR/known_hosts"
PG_DIR="$SHARED_DIR/pg"
PGDATA="$PG_DIR/data"
HTTP_DIR="$SHARED_DIR/http"
HTTP_ROOT="$HTTP_DIR/www"

# A python for the readiness probes: the venv's if it exists, else the system's.
if [[ -x "$VENV/bin/python" ]]; then PY="$VENV/bin/python"; else PY="python3"; fi

# ----------------------------------------------------------------- helpers --
log() { printf 'servers.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_root() { [[ "$(id -u)" == 0 ]] || die "$1 needs root"; }

# Run a command as an unprivileged user (postgres and sshd are never run as root).
as_user() { local user="$1"; shift; setpriv --reuid="$user" --regid="$user" --init-groups "$@"; }

pid_file() { printf '%s/%s.pid' "$PID_DIR" "$1"; }
log_file() { printf '%s/%s.log' "$LOG_DIR" "$1"; }

port_of() {
    case "$1" in
        s3) echo "$S3_PORT" ;;
        azure) echo "$AZURE_PORT" ;;
        gcs) echo "$GCS_PORT" ;;
        sftp) echo "$SFTP_PORT" ;;
        pg) echo "$PG_PORT" ;;
        http) echo "$HTTP_PORT" ;;
        *) die "unknown server '$1' (known: ${ALL_SERVERS[*]})" ;;
    esac
}

# Every port NAME listens on, as PORT:VARIABLE (the variable that moves it).
listen_ports() {
    case "$1" in
        http) echo "$HTTP_PORT:OMNI_HTTP_PORT $HTTPS_PORT:OMNI_HTTPS_PORT" ;;
        *) echo "$(port_of "$1"):OMNI_${1^^}_PORT" ;;
    esac
}

# A sentence on PORT when it lies in this machine's ephemeral range (or nothing).
ephemeral_note() {
    local low high
    read -r low high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || return 0
    if (($1 >= low && $1 <= high)); then
        printf '; it lies in the ephemeral port range %s-%s, where client sockets take ports' \
            "$low" "$high"
    fi
}

# bind_problem PORT: print why 127.0.0.1:PORT cannot be bound by a listening socket
# now (with SO_REUSEADDR, as the servers bind) and fail; succeed silently if it can.
# This catches what a connection probe cannot: a port held by a client socket.
bind_problem() {
    "$PY" - "$1" <<'PYTHON'
import socket
import sys

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    sock.listen(1)
except OSError as exc:
    print(exc.strerror or exc)
    sys.exit(1)
finally:
    sock.close()
PYTHON
}

# check_ports NAME: die, naming the server, the port and its variable, when NAME
# cannot listen on one of its ports.
check_ports() {
    local name="$1" entry port var why
    for entry in $(listen_ports "$name"); do
        port="${entry%%:*}"
        var="${entry#*:}"
        if probe tcp "$port"; then
            die "$name: port $port is already used by another process; choose another with $var"
        fi
        if ! why="$(bind_problem "$port")"; then
            die "$name cannot bind 127.0.0.1:$port: ${why:-refused}$(ephemeral_note "$port"); choose another port with $var"
        fi
    done
}

# bind_failure NAME: print "PORT VARIABLE" of the port NAME's log says it could not
# bind in its latest start, and succeed; fail when the log says no such thing.
bind_failure() {
    local name="$1" log entry port
    log="$(awk '/^==== /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$(log_file "$name")" 2>/dev/null)"
    grep -qiE 'address already in use|EADDRINUSE|errno 98|could not bind|bind\(\) to .* failed' \
        <<<"$log" || return 1
    for entry in $(listen_ports "$name"); do # the port the log names, else the first
        port="${entry%%:*}"
        if grep -qE "(^|[^0-9])$port([^0-9]|\$)" <<<"$log"; then
            echo "$port ${entry#*:}"
            return 0
        fi
    done
    entry="$(listen_ports "$name" | cut -d' ' -f1)"
    echo "${entry%%:*} ${entry#*:}"
}

# A string that must appear in the command line of the recorded PID, so a PID
# reused by an unrelated process is not mistaken for our server.
marker_of() {
    case "$1" in
        s3) echo "moto_server" ;;
        azure) echo "azurite-blob" ;;
        gcs) echo "gcs_emulator.py" ;;
        sftp) echo "sshd" ;;
        pg) echo "postgres" ;;
        http) echo "nginx" ;;
    esac
}

# Is PID alive (not a zombie) and running the server NAME?
pid_is_server() {
    local pid="$1" name="$2" cmdline
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
    [[ "$cmdline" == *"$(marker_of "$name")"* ]]
}

# Print the recorded PID of NAME if that process is alive and is our server.
live_pid() {
    local f pid
    f="$(pid_file "$1")"
    [[ -s "$f" ]] || return 1
    pid="$(<"$f")"
    pid_is_server "$pid" "$1" || return 1
    echo "$pid"
}

# probe KIND PORT: tcp = something accepts connections; http = an HTTP server
# answers (any status); ssh = an SSH server sends its banner.
probe() {
    "$PY" - "$@" <<'PYTHON'
import socket
import sys
import urllib.error
import urllib.request

kind, port = sys.argv[1], int(sys.argv[2])
try:
    if kind == "http":
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            opener.open(f"http://127.0.0.1:{port}/", timeout=2).close()
        except urllib.error.HTTPError:
            pass  # an error status is still an answer
    else:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            if kind == "ssh":
                sock.settimeout(5)
                if not sock.recv(64).startswith(b"SSH-"):
                    sys.exit(1)
except OSError:
    sys.exit(1)
PYTHON
}

# Does server NAME answer on its port?
answers() {
    local port
    port="$(port_of "$1")"
    case "$1" in
        pg) "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2 ;;
        sftp) probe ssh "$port" ;;
        *) probe http "$port" ;;
    esac
}

# wait_ready NAME PID [SECONDS]: poll until NAME answers; fail (setting
# WAIT_ERROR) if PID dies or after SECONDS (default $TIMEOUT).
wait_ready() {
    local name="$1" pid="$2" limit="${3:-$TIMEOUT}"
    local deadline=$((SECONDS + limit))
    until answers "$name"; do
        if ! pid_is_server "$pid" "$name"; then
            WAIT_ERROR="process $pid exited"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            WAIT_ERROR="no answer on 127.0.0.1:$(port_of "$name") after ${limit}s"
            return 1
        fi
        sleep 0.2
    done
}

# spawn NAME CMD…: run CMD detached in its own session with output to NAME's
# log, and record its PID (written by the process itself just before exec).
# fd 9 (the lock below) is closed so servers never hold it.
spawn() {
    local name="$1" pidf log i
    shift
    pidf="$(pid_file "$name")"
    log="$(log_file "$name")"
    rm -f "$pidf"
    printf '==== %s: starting %s\n' "$(date -Is)" "$*" >>"$log"
    # shellcheck disable=SC2016  # $$/$0/$@ are for the inner sh
    setsid sh -c 'echo "$$" >"$0"; exec "$@"' "$pidf" "$@" </dev/null >>"$log" 2>&1 9>&- &
    for ((i = 0; i < 50; i++)); do
        [[ -s "$pidf" ]] && return 0
        sleep 0.1
    done
    die "$name: no PID recorded in $pidf"
}

# Serialise start/stop between concurrent callers.
take_lock() {
    mkdir -p "$SERVERS_DIR"
    exec 9>"$SERVERS_DIR/.lock"
    flock 9
}

# ----------------------------------------------------------------- install --
cmd_install() {
    local missing=() pkg policy_created=0
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
    if ((${#missing[@]})); then
        need_root "installing ${missing[*]}"
        log "apt-get install ${missing[*]}"
        # Keep package scripts from starting system services (a system sshd on
        # :22, a cluster on :5432, nginx on :80); we run our own private instances.
        if [[ ! -e /usr/sbin/policy-rc.d ]]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
            chmod 755 /usr/sbin/policy-rc.d
            policy_created=1
        fi
        local rc=0
        {
            apt-get update -qq &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                    "${missing[@]}" >/dev/null
        } || rc=$?
        ((policy_created)) && rm -f /usr/sbin/policy-rc.d
        ((rc == 0)) || die "apt-get install ${missing[*]} failed (exit $rc)"
    fi

    # Azurite into a project-local node prefix (newer releases need Node >= 21).
    local pkg_json="$NODE_DIR/node_modules/azurite/package.json"
    if ! grep -q "\"version\": \"$AZURITE_VERSION\"" "$pkg_json" 2>/dev/null; then
        log "npm install azurite@$AZURITE_VERSION into $NODE_DIR"
        mkdir -p "$NODE_DIR"
        npm install --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error \
            "azurite@$AZURITE_VERSION" >/dev/null
    fi

    local bin
    for bin in moto_server gcp-storage-emulator; do
        [[ -x "$VENV/bin/$bin" ]] ||
            log "note: $VENV/bin/$bin is missing; run: $VENV/bin/pip install -e '.[dev]'"
    done
    log "install: ok"
}

# ------------------------------------------------------------- preparation --
prepare_sftp() {
    need_root "the SFTP server setup"
    # Dedicated unprivileged user; '*' unlocks it for key logins (a locked
    # '!' account is refused by sshd even with a valid key).
    if ! id -u "$SFTP_USER" >/dev/null 2>&1; then
        log "creating user $SFTP_USER"
        useradd --system --user-group --create-home --home-dir "/home/$SFTP_USER" \
            --shell /usr/sbin/nologin "$SFTP_USER"
    fi
    [[ "$(getent shadow "$SFTP_USER" | cut -d: -f2)" == "*" ]] || usermod -p '*' "$SFTP_USER"

    mkdir -p "$SFTP_DIR" "$SFTP_DIR/run" "$SFTP_ROOT"
    chmod 755 "$SHARED_DIR" "$SFTP_DIR"
    chown "$SFTP_USER:$SFTP_USER" "$SFTP_DIR/run" "$SFTP_ROOT"

    # Host key (owned by the user sshd runs as) and the test client's key pair.
    if [[ ! -s "$SFTP_DIR/ssh_host_ed25519_key" ]]; then
        ssh-keygen -q -t ed25519 -N '' -C omnistorage-sftp-host -f "$SFTP_DIR/ssh_host_ed25519_key"
    fi
    chown "$SFTP_USER:$SFTP_USER" "$SFTP_DIR/ssh_host_ed25519_key"
    chmod 600 "$SFTP_DIR/ssh_host_ed25519_key"
    if [[ ! -s "$SFTP_KEY" ]]; then
        ssh-keygen -q -t ed25519 -N '' -C omnistorage-sftp-client -f "$SFTP_KEY"
    fi
    cp "$SFTP_KEY.pub" "$SFTP_DIR/authorized_keys"
    chmod 644 "$SFTP_DIR/authorized_keys"

    # Regenerated on every start, as they depend on the port.
    printf '[127.0.0.1]:%s %s\n' "$SFTP_PORT" \
        "$(cut -d' ' -f1,2 "$SFTP_DIR/ssh_host_ed25519_key.pub")" >"$SFTP_KNOWN_HOSTS"
    cat >"$SFTP_DIR/sshd_config" <<EOF
# Private sshd for omnistorage's SFTP tests (generated by scripts/servers.sh).
Port $SFTP_PORT
ListenAddress 127.0.0.1
HostKey "$SFTP_DIR/ssh_host_ed25519_key"
PidFile "$SFTP_DIR/run/sshd.pid"
AuthorizedKeysFile "$SFTP_DIR/authorized_keys"
AllowUsers $SFTP_USER
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin no
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
MaxStartups 100:30:200
MaxSessions 100
LogLevel INFO
Subsystem sftp internal-sftp
EOF
}

prepare_pg() {
    need_root "the PostgreSQL setup"
    [[ -x "$PG_BIN/postgres" ]] || die "postgresql-15 is not installed; run: scripts/servers.sh install"
    # The cluster is disposable: re-initialise it if the password changed.
    if [[ -s "$PGDATA/PG_VERSION" && "$(cat "$PG_DIR/password" 2>/dev/null)" != "$PG_PASSWORD" ]]; then
        log "OMNI_PG_PASSWORD changed: re-initialising $PGDATA"
        rm -rf "$PGDATA"
    fi
    [[ -s "$PGDATA/PG_VERSION" ]] && return 0

    log "initdb $PGDATA"
    rm -rf "$PGDATA"
    mkdir -p "$PG_DIR"
    chmod 755 "$SHARED_DIR"
    chown postgres:postgres "$PG_DIR"
    chmod 700 "$PG_DIR"
    printf '%s\n' "$PG_PASSWORD" >"$PG_DIR/pwfile"
    chown postgres:postgres "$PG_DIR/pwfile"
    as_user postgres "$PG_BIN/initdb" --pgdata="$PGDATA" --username=postgres \
        --pwfile="$PG_DIR/pwfile" --auth-host=scram-sha-256 --auth-local=peer \
        --encoding=UTF8 --locale=C --no-sync >>"$(log_file pg)" 2>&1 ||
        { tail -n 20 "$(log_file pg)" >&2; die "initdb failed"; }
    rm -f "$PG_DIR/pwfile"
    printf '%s' "$PG_PASSWORD" >"$PG_DIR/password"
    # TCP on loopback only, no unix socket, no durability (test data only).
    cat >>"$PGDATA/postgresql.conf" <<'EOF'

# --- omnistorage test server (scripts/servers.sh) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

prepare_http() {
    [[ -x /usr/sbin/nginx ]] || die "nginx is not installed; run: scripts/servers.sh install"
    command -v openssl >/dev/null 2>&1 || die "openssl is not installed; run: scripts/servers.sh install"
    # As root, nginx runs as the unprivileged HTTP_USER (so file modes apply to it: a
    # file the tests make unreadable answers 403); otherwise as the caller.
    local owner
    if [[ "$(id -u)" == 0 ]]; then owner="$HTTP_USER"; else owner="$(id -un)"; fi
    mkdir -p "$HTTP_ROOT" "$HTTP_DIR/run" "$HTTP_DIR/tmp" "$HTTP_DIR/logs" "$HTTP_DIR/tls"
    chmod 755 "$SHARED_DIR" "$HTTP_DIR" "$HTTP_ROOT" "$HTTP_DIR/tls"
    rm -f "$HTTP_DIR/run/nginx.pid" # stale (start_one only launches a server that is not up)
    chown -R "$owner" "$HTTP_DIR/run" "$HTTP_DIR/tmp" "$HTTP_DIR/logs"
    if [[ ! -s "$HTTP_DIR/tls/cert.pem" || ! -s "$HTTP_DIR/tls/key.pem" ]]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=127.0.0.1" \
            -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
            -keyout "$HTTP_DIR/tls/key.pem" -out "$HTTP_DIR/tls/cert.pem" >/dev/null 2>&1 ||
            die "openssl could not make the test certificate"
    fi
    chown "$owner" "$HTTP_DIR/tls/key.pem"
    chmod 600 "$HTTP_DIR/tls/key.pem"
    chmod 644 "$HTTP_DIR/tls/cert.pem"
    # nginx reads "{PLAIN}" passwords from auth_basic_user_file (test credentials only).
    printf 'omni:{PLAIN}%s\n' "$HTTP_PASSWORD" >"$HTTP_DIR/htpasswd"
    chmod 644 "$HTTP_DIR/htpasswd"
    # Regenerated on every start, as it depends on the ports and credentials. Every
    # path nginx writes (pid, temp files, access log) is inside $HTTP_DIR; errors go
    # to stderr, the server's log under .servers/logs. One document root is served
    # under every location; the index name never exists, so a folder URL gives its
    # autoindex (or 403 where autoindex is off), never a page.
    local common="alias \"$HTTP_ROOT/\"; index .omnistorage-no-index;"
    cat >"$HTTP_DIR/nginx.conf" <<EOF
# Private nginx for omnistorage's HTTP tests (generated by scripts/servers.sh).
daemon off;
worker_processes 1;
pid "$HTTP_DIR/run/nginx.pid";
error_log stderr notice;
events { worker_connections 512; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log "$HTTP_DIR/logs/access.log";
    client_body_temp_path "$HTTP_DIR/tmp/body";
    proxy_temp_path "$HTTP_DIR/tmp/proxy";
    fastcgi_temp_path "$HTTP_DIR/tmp/fastcgi";
    uwsgi_temp_path "$HTTP_DIR/tmp/uwsgi";
    scgi_temp_path "$HTTP_DIR/tmp/scgi";
    sendfile on;
    etag on;
    server_tokens off;
    server {
        listen 127.0.0.1:$HTTP_PORT;
        listen 127.0.0.1:$HTTPS_PORT ssl;
        server_name localhost;
        ssl_certificate "$HTTP_DIR/tls/cert.pem";
        ssl_certificate_key "$HTTP_DIR/tls/key.pem";
        location / { return 404; }
        location /files/ { $common }
        location /listing/ { $common autoindex on; autoindex_format json; }
        location /basic/ {
            $common autoindex on; autoindex_format json;
            auth_basic "omnistorage"; auth_basic_user_file "$HTTP_DIR/htpasswd";
        }
        location /bearer/ {
            $common autoindex on; autoindex_format json;
            if (\$http_authorization != "Bearer $HTTP_TOKEN") { return 401; }
        }
    }
}
EOF
    chmod 644 "$HTTP_DIR/nginx.conf"
}

# ------------------------------------------------------------------- start --
# Launch NAME (without waiting); the caller waits with wait_ready.
launch() {
    local name="$1" bin
    case "$name" in
        s3)
            bin="$VENV/bin/moto_server"
            [[ -x "$bin" ]] || die "$bin missing; run: $VENV/bin/pip install -e '.[dev]'"
            # moto's application through our launcher: conditional writes applied one
            # at a time, as S3 does (moto alone lets two create-only PUTs both win).
            spawn s3 "$VENV/bin/python" "$ROOT/scripts/moto_server.py" -H 127.0.0.1 -p "$S3_PORT"
            ;;
        azure)
            bin="$NODE_DIR/node_modules/.bin/azurite-blob"
            [[ -x "$bin" ]] || die "$bin missing; run: scripts/servers.sh install"
            # In-memory only (Azurite refuses --location with --inMemoryPersistence).
            spawn azure "$bin" --blobHost 127.0.0.1 --blobPort "$AZURE_PORT" \
                --inMemoryPersistence --skipApiVersionCheck --disableTelemetry --silent
            ;;
        gcs)
            bin="$VENV/bin/gcp-storage-emulator"
            [[ -x "$bin" ]] || die "$bin missing; run: $VENV/bin/pip install -e '.[dev]'"
            # In memory, through our launcher: the same handler with a socket
            # timeout, so a client stalled mid-request cannot wedge the server.
            spawn gcs "$VENV/bin/python" "$ROOT/scripts/gcs_emulator.py" \
                --host 127.0.0.1 --port "$GCS_PORT"
            ;;
        sftp)
            prepare_sftp
            # sshd as the test user: no privilege separation needed, and every
            # SFTP session runs as that user.
            spawn sftp setpriv --reuid="$SFTP_USER" --regid="$SFTP_USER" --init-groups \
                /usr/sbin/sshd -D -e -f "$SFTP_DIR/sshd_config"
            ;;
        pg)
            prepare_pg
            # pg_ctl daemonises the postmaster (own session, stdin /dev/null);
            # its output goes to our log through the inherited descriptors.
            printf '==== %s: pg_ctl start (port %s)\n' "$(date -Is)" "$PG_PORT" >>"$(log_file pg)"
            as_user postgres "$PG_BIN/pg_ctl" --pgdata="$PGDATA" --wait --timeout="$TIMEOUT" \
                -o "-p $PG_PORT" start </dev/null >>"$(log_file pg)" 2>&1 9>&- || true
            if [[ -s "$PGDATA/postmaster.pid" ]]; then
                head -n 1 "$PGDATA/postmaster.pid" >"$(pid_file pg)"
            else
                rm -f "$(pid_file pg)"
            fi
            ;;
        http)
            prepare_http
            if [[ "$(id -u)" == 0 ]]; then
                spawn http setpriv --reuid="$HTTP_USER" --regid="$(id -gn "$HTTP_USER")" \
                    --init-groups /usr/sbin/nginx -e stderr -p "$HTTP_DIR" -c "$HTTP_DIR/nginx.conf"
            else
                spawn http /usr/sbin/nginx -e stderr -p "$HTTP_DIR" -c "$HTTP_DIR/nginx.conf"
            fi
            ;;
    esac
}

# Stop NAME's recorded process (TERM; SIGINT = fast shutdown for postgres).
stop_one() {
    local name="$1" pid sig=TERM i
    if ! pid="$(live_pid "$name")"; then
        rm -f "$(pid_file "$name")"
        return 0
    fi
    [[ "$name" == pg ]] && sig=INT
    kill -s "$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        pid_is_server "$pid" "$name" || break
        sleep 0.1
    done
    if pid_is_server "$pid" "$name"; then
        log "$name (pid $pid) ignored SIG$sig; killing"
        kill -s KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$(pid_file "$name")"
    log "$name stopped (pid $pid)"
}

start_one() {
    local name="$1" port pid t0=$SECONDS
    port="$(port_of "$name")"
    if pid="$(live_pid "$name")"; then
        # Reuse a server from an earlier start if it answers. Starts are
        # serialised by the lock, so a short grace period is enough.
        if wait_ready "$name" "$pid" 5; then
            log "$name already running on 127.0.0.1:$port (pid $pid), reused"
            return 0
        fi
        log "$name (pid $pid) is not answering ($WAIT_ERROR); restarting it"
        stop_one "$name"
    fi
    check_ports "$name"
    launch "$name"
    if ! pid="$(live_pid "$name")"; then
        WAIT_ERROR="it did not stay up"
    elif wait_ready "$name" "$pid"; then
        log "$name ready on 127.0.0.1:$port (pid $pid, $((SECONDS - t0))s)"
        return 0
    fi
    local failed
    if failed="$(bind_failure "$name")"; then
        WAIT_ERROR="it could not bind 127.0.0.1:${failed%% *} (address already in use$(ephemeral_note "${failed%% *}")); choose another port with ${failed#* }"
    fi
    log "ERROR: $name failed to start: $WAIT_ERROR. Last lines of $(log_file "$name"):"
    tail -n 40 "$(log_file "$name")" >&2 || true
    stop_one "$name" 2>/dev/null || true
    exit 1
}

# -------------------------------------------------------------- commands --
selected() { if (($#)); then printf '%s\n' "$@"; else printf '%s\n' "${ALL_SERVERS[@]}"; fi; }

cmd_start() {
    local name
    take_lock
    mkdir -p "$LOG_DIR" "$PID_DIR"
    for name in $(selected "$@"); do
        port_of "$name" >/dev/null
        start_one "$name"
    done
}

cmd_stop() {
    local name
    take_lock
    for name in $(selected "$@"); do
        port_of "$name" >/dev/null
        stop_one "$name"
    done
}

cmd_status() {
    local name pid rc=0
    for name in $(selected "$@"); do
        if pid="$(live_pid "$name")" && answers "$name"; then
            printf '%-6s up      127.0.0.1:%-6s pid %s\n' "$name" "$(port_of "$name")" "$pid"
        elif [[ -n "${pid:-}" ]]; then
            printf '%-6s no answer 127.0.0.1:%-6s pid %s\n' "$name" "$(port_of "$name")" "$pid"
            rc=1
        else
            printf '%-6s down    127.0.0.1:%s\n' "$name" "$(port_of "$name")"
            rc=1
        fi
        pid=""
    done
    return "$rc"
}

cmd_running() {
    local name
    for name in "${ALL_SERVERS[@]}"; do
        if live_pid "$name" >/dev/null && answers "$name"; then echo "$name"; fi
    done
}

# Print one shell-safe export line.
export_line() { printf "export %s='%s'\n" "$1" "${2//\'/\'\\\'\'}"; }

cmd_env() {
    export_line OMNI_TEST_S3_ENDPOINT "http://127.0.0.1:$S3_PORT"
    export_line OMNI_TEST_S3_REGION "us-east-1"
    export_line OMNI_TEST_AZURE_CONNECTION_STRING \
        "DefaultEndpointsProtocol=http;AccountName=$AZURITE_ACCOUNT;AccountKey=$AZURITE_KEY;BlobEndpoint=http://127.0.0.1:$AZURE_PORT/$AZURITE_ACCOUNT;"
    export_line OMNI_TEST_GCS_ENDPOINT "http://127.0.0.1:$GCS_PORT"
    export_line OMNI_TEST_SFTP_HOST "127.0.0.1"
    export_line OMNI_TEST_SFTP_PORT "$SFTP_PORT"
    export_line OMNI_TEST_SFTP_USER "$SFTP_USER"
    export_line OMNI_TEST_SFTP_KEY_FILE "$SFTP_KEY"
    export_line OMNI_TEST_SFTP_KNOWN_HOSTS "$SFTP_KNOWN_HOSTS"
    export_line OMNI_TEST_SFTP_ROOT "$SFTP_ROOT"
    export_line OMNI_TEST_POSTGRES_URL \
        "postgresql+psycopg://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres"
    export_line OMNI_TEST_HTTP_URL "http://127.0.0.1:$HTTP_PORT"
    export_line OMNI_TEST_HTTPS_URL "https://127.0.0.1:$HTTPS_PORT"
    export_line OMNI_TEST_HTTP_ROOT "$HTTP_ROOT"
    export_line OMNI_TEST_HTTP_CA_FILE "$HTTP_DIR/tls/cert.pem"
    export_line OMNI_TEST_HTTP_USER "omni"
    export_line OMNI_TEST_HTTP_PASSWORD "$HTTP_PASSWORD"
    export_line OMNI_TEST_HTTP_TOKEN "$HTTP_TOKEN"
    # If an HTTP proxy is configured, keep loopback traffic away from it.
    if [[ -n "${http_proxy:-}${HTTP_PROXY:-}${https_proxy:-}${HTTPS_PROXY:-}" ]]; then
        local np="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}${no_proxy:+,$no_proxy}"
        export_line NO_PROXY "$np"
        export_line no_proxy "$np"
    fi
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2; }

main() {
    local cmd="${1:-}"
    (($#)) && shift
    case "$cmd" in
        install) cmd_install ;;
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        status) cmd_status "$@" ;;
        running) cmd_running ;;
        env) cmd_env ;;
        -h | --help | help) usage ;;
        *) usage; exit 2 ;;
    esac
}

main "$@"
