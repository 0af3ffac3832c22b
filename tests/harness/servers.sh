# Throwaway servers for make run, make test and make bench (sourced, not executed).
#
# PostgreSQL 15 clusters and Redis servers on free loopback ports, run as an
# unprivileged user, with every directory under one root that qr_servers_cleanup
# removes. Servers are named, so a suite can have a primary and a streaming
# replica (qr_pg_start_replica) side by side. Callers install the trap:
#     trap qr_servers_cleanup EXIT; trap 'exit 130' INT TERM

QR_PGBIN=${QR_PGBIN:-/usr/lib/postgresql/15/bin}
QR_ROOT=""                 # the folder holding every server's files
declare -a QR_PG_NAMES=()  # started clusters, stopped in reverse order
declare -a QR_REDIS_NAMES=()
declare -A QR_PG_PORT=() QR_PG_DATA=() QR_REDIS_PORT=() QR_REDIS_DIR=()

# The user servers run as: postgres when we are root, ourselves otherwise.
qr_server_user() {
    if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
}

# Runs a command as the server user.
qr_as_server_user() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Prints a TCP port on 127.0.0.1 that nothing listens on right now.
qr_free_port() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                      LocalPort => 0, Proto => "tcp", ReuseAddr => 0)
            or die "no free port: $!\n";
        print $s->sockport, "\n";'
}

# Creates the root folder of this run's servers: under $1 when the server user
# can reach it (make run keeps its data in the clone), else a fresh /tmp folder.
qr_servers_init() {
    local wanted=${1:-}
    if [ -n "$wanted" ]; then
        mkdir -p "$wanted"
        if [ "$(id -u)" -eq 0 ]; then chown "$(qr_server_user):" "$wanted"; fi
        if qr_as_server_user test -w "$wanted" -a -x "$wanted" 2>/dev/null; then
            QR_ROOT=$(cd "$wanted" && pwd)
        else
            echo "servers: $(qr_server_user) cannot use $wanted; keeping server data under /tmp" >&2
        fi
    fi
    if [ -z "$QR_ROOT" ]; then
        QR_ROOT=$(mktemp -d /tmp/qr_event.XXXXXX)
        chmod 755 "$QR_ROOT"
        if [ "$(id -u)" -eq 0 ]; then chown "$(qr_server_user):" "$QR_ROOT"; fi
    fi
    # Unix sockets are limited to 107 bytes: keep them in a short /tmp folder.
    QR_SOCKDIR=$(mktemp -d /tmp/qr_sock.XXXXXX)
    chmod 755 "$QR_SOCKDIR"
    if [ "$(id -u)" -eq 0 ]; then chown "$(qr_server_user):" "$QR_SOCKDIR"; fi
    export QR_ROOT QR_SOCKDIR
}

# Starts cluster $1 on a free port; extra arguments are `-c name=value` settings.
qr_pg_start() {
    local name=$1; shift
    local data="$QR_ROOT/pg-$name" port
    port=$(qr_free_port)
    rm -rf "$data"
    qr_as_server_user "$QR_PGBIN/initdb" -D "$data" -U postgres -A trust \
        -E UTF8 --locale=C.UTF-8 >"$QR_ROOT/pg-$name.initdb.log" 2>&1 \
        || { cat "$QR_ROOT/pg-$name.initdb.log" >&2; return 1; }
    cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$QR_SOCKDIR'
wal_level = replica
max_wal_senders = 4
shared_preload_libraries = ''
CONF
    echo "local replication all trust" >>"$data/pg_hba.conf"
    qr_pg_ctl_start "$name" "$data" "$port" "$@"
}

# Starts a hot standby $1 streaming from the running cluster $2; extra arguments
# are `-c name=value` settings.
qr_pg_start_replica() {
    local name=$1 primary=$2; shift 2
    local data="$QR_ROOT/pg-$name" port
    port=$(qr_free_port)
    rm -rf "$data"
    qr_as_server_user "$QR_PGBIN/pg_basebackup" -h "$QR_SOCKDIR" -p "${QR_PG_PORT[$primary]}" \
        -U postgres -D "$data" -R -X stream -c fast >"$QR_ROOT/pg-$name.basebackup.log" 2>&1 \
        || { cat "$QR_ROOT/pg-$name.basebackup.log" >&2; return 1; }
    echo "port = $port" >>"$data/postgresql.conf"
    echo "hot_standby = on" >>"$data/postgresql.conf"
    qr_pg_ctl_start "$name" "$data" "$port" "$@"
}

# Runs pg_ctl start for a prepared data directory and records the server.
qr_pg_ctl_start() {
    local name=$1 data=$2 port=$3; shift 3
    local opts=""
    for setting in "$@"; do opts="$opts $setting"; done
    if ! qr_as_server_user "$QR_PGBIN/pg_ctl" -D "$data" -l "$QR_ROOT/pg-$name.log" \
            -o "$opts" -w -t 60 start >/dev/null; then
        cat "$QR_ROOT/pg-$name.log" >&2
        return 1
    fi
    QR_PG_NAMES+=("$name")
    QR_PG_PORT[$name]=$port
    QR_PG_DATA[$name]=$data
}

# Prints the libpq connection string of cluster $1 and database $2.
qr_pg_conninfo() {
    echo "host=$QR_SOCKDIR port=${QR_PG_PORT[$1]} user=postgres dbname=$2"
}

# Stops cluster $1 (mode fast by default).
qr_pg_stop() {
    local name=$1 mode=${2:-fast}
    [ -n "${QR_PG_DATA[$name]:-}" ] || return 0
    qr_as_server_user "$QR_PGBIN/pg_ctl" -D "${QR_PG_DATA[$name]}" -m "$mode" -w -t 30 stop \
        >/dev/null 2>&1 || true
    unset 'QR_PG_DATA[$name]'
}

# Starts Redis $1 on a free loopback port, without persistence.
qr_redis_start() {
    local name=$1 dir="$QR_ROOT/redis-$1" port
    port=$(qr_free_port)
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown "$(qr_server_user):" "$dir"; fi
    qr_as_server_user redis-server --bind 127.0.0.1 --port "$port" --save '' \
        --appendonly no --daemonize yes --dir "$dir" --pidfile "$dir/redis.pid" \
        --logfile "$dir/redis.log" || return 1
    local i
    for i in $(seq 1 100); do
        if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
            QR_REDIS_NAMES+=("$name")
            QR_REDIS_PORT[$name]=$port
            QR_REDIS_DIR[$name]=$dir
            return 0
        fi
        sleep 0.05
    done
    echo "servers: redis $name did not start" >&2
    cat "$dir/redis.log" >&2
    return 1
}

# Stops Redis $1.
qr_redis_stop() {
    local name=$1 dir=${QR_REDIS_DIR[$1]:-} pid
    [ -n "$dir" ] || return 0
    if [ -f "$dir/redis.pid" ]; then
        pid=$(cat "$dir/redis.pid")
        kill -CONT "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    unset 'QR_REDIS_DIR[$name]'
}

# Stops every server this shell started and removes their files (idempotent).
qr_servers_cleanup() {
    local i
    for ((i = ${#QR_PG_NAMES[@]} - 1; i >= 0; i--)); do
        qr_pg_stop "${QR_PG_NAMES[$i]}" fast
    done
    for i in "${QR_REDIS_NAMES[@]}"; do qr_redis_stop "$i"; done
    if [ -n "${QR_SOCKDIR:-}" ]; then rm -rf "$QR_SOCKDIR"; fi
    if [ -n "${QR_ROOT:-}" ] && [ -z "${QR_KEEP_ROOT:-}" ]; then rm -rf "$QR_ROOT"; fi
    QR_ROOT=""
    QR_SOCKDIR=""
}
