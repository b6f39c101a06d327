#!/usr/bin/env bash
# Install (or remove) edge-hub as a systemd service on a Raspberry Pi. Run it again from a
# newer checkout to upgrade in place: the new code goes into a venv of its own, must pass
# check-config on the installed hub.toml, and only then replaces the running version (the
# service is restarted); hub.toml and the data in /var/lib/edge-hub are kept as they are.
#
#   sudo systemd/install.sh                  install or upgrade from this checkout
#   sudo systemd/install.sh --uninstall      remove unit, rules and venvs; keep config/data
#   sudo systemd/install.sh --uninstall --purge   ... and /etc/edge-hub, /var/lib/edge-hub
#   systemd/install.sh --root DIR            install into DIR (a test tree): no users,
#                                            systemctl or udevadm; no venv unless --with-venv
set -euo pipefail
umask 022

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE=$(dirname "$SCRIPT_DIR")
ROOT=""
UNINSTALL=0
PURGE=0
WITH_VENV=0
PYTHON=${PYTHON:-python3}
USER_NAME=edge-hub
# The service manager; under --root nothing is called unless a stand-in is named here.
SYSTEMCTL=${EDGE_HUB_SYSTEMCTL:-}
DEVICE_GROUPS=(bluetooth dialout gpio)

say() { printf 'edge-hub install: %s\n' "$*"; }
die() { printf 'edge-hub install: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    echo "Options: --source DIR (the checkout; default $SOURCE), --root DIR, --with-venv,"
    echo "         --uninstall, --purge, -h/--help"
}

parse_args() {
    while (($#)); do
        case "$1" in
            --root) [[ $# -ge 2 ]] || die "--root needs a directory"; ROOT=$2; shift ;;
            --source) [[ $# -ge 2 ]] || die "--source needs a directory"; SOURCE=$2; shift ;;
            --uninstall) UNINSTALL=1 ;;
            --purge) PURGE=1 ;;
            --with-venv) WITH_VENV=1 ;;
            -h|--help) usage; exit 0 ;;
            *) usage >&2; die "unknown option: $1" ;;
        esac
        shift
    done
    ((PURGE == 0 || UNINSTALL == 1)) || die "--purge only goes with --uninstall"
    if [[ -n $ROOT ]]; then
        mkdir -p "$ROOT"
        ROOT=$(cd "$ROOT" && pwd)
        [[ $ROOT != / ]] || die "--root / would be the real system: run without --root, as root"
    elif [[ $(id -u) -ne 0 ]]; then
        die "installing a system service needs root; run: sudo $0 $*
(or try it in a scratch tree: $0 --root /tmp/edge-hub-root)"
    fi
}

# Where things go, under ROOT ("" on the real system).
set_paths() {
    VENV=$ROOT/opt/edge-hub/venv  # a link to the release in use
    RELEASES=$ROOT/opt/edge-hub/releases
    CONF_DIR=$ROOT/etc/edge-hub
    STATE_DIR=$ROOT/var/lib/edge-hub
    UNIT=$ROOT/etc/systemd/system/edge-hub.service
    RULES=$ROOT/etc/udev/rules.d/99-edge-hub-modem.rules
}

real() { [[ -z $ROOT ]]; }

# Copy a file with a mode, saying whether it was new, changed or already up to date.
put() {
    local from=$1 to=$2 mode=$3
    mkdir -p "$(dirname "$to")"
    if [[ -f $to ]] && cmp -s "$from" "$to"; then
        chmod "$mode" "$to"
        say "up to date: $to"
    else
        local verb=installed
        if [[ -f $to ]]; then verb=updated; fi
        install -m "$mode" "$from" "$to"
        say "$verb: $to"
    fi
}

ensure_user() {
    if ! real; then
        add_line "$ROOT/etc/group" "$USER_NAME" "$USER_NAME:x:999:"
        add_line "$ROOT/etc/passwd" "$USER_NAME" \
            "$USER_NAME:x:999:999:edge-hub SOS hub:/var/lib/edge-hub:/usr/sbin/nologin"
        say "--root: recorded user $USER_NAME in $ROOT/etc/passwd (no real user created)"
        return
    fi
    # The unit's SupplementaryGroups= fails every start if a group is missing (gpio exists
    # only on Raspberry Pi OS; bluetooth comes with bluez): create what is missing.
    local group
    for group in "${DEVICE_GROUPS[@]}"; do
        if ! getent group "$group" >/dev/null; then
            groupadd --system "$group"
            say "created missing system group $group"
        fi
    done
    if id "$USER_NAME" >/dev/null 2>&1; then
        say "user $USER_NAME exists"
    else
        useradd --system --user-group --home-dir /var/lib/edge-hub --no-create-home \
            --shell /usr/sbin/nologin --comment "edge-hub SOS hub" "$USER_NAME"
        say "created system user $USER_NAME"
    fi
    # Also for running `edge-hub sms send` or `modem status` as the hub's user by hand.
    usermod --append --groups "$(IFS=,; echo "${DEVICE_GROUPS[*]}")" "$USER_NAME"
}

# Append LINE to FILE unless a line for NAME is already there (keeps --root idempotent).
add_line() {
    local file=$1 name=$2 line=$3
    mkdir -p "$(dirname "$file")"
    touch "$file"
    grep -q "^$name:" "$file" || printf '%s\n' "$line" >>"$file"
}

install_venv() {
    if ! real && ((WITH_VENV == 0)); then
        say "--root: skipped the virtual environment ($VENV; add --with-venv to build it)"
        return
    fi
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "edge-hub needs Python 3.11 or newer as $PYTHON; run: apt-get install python3"
    local name release
    name=$(date -u +%Y%m%d-%H%M%S-%N)  # sorts in the order installed
    release=$RELEASES/$name
    mkdir -p "$RELEASES"
    # --system-site-packages: gpiozero finds apt's python3-lgpio (its pin factory on
    # Raspberry Pi OS), which pip cannot build without liblgpio's headers.
    "$PYTHON" -m venv --system-site-packages "$release" ||
        die "cannot create $release; run: apt-get install python3-venv"
    say "installing edge-hub from $SOURCE into $release (pip)"
    if ! "$release/bin/pip" install --quiet --disable-pip-version-check "$SOURCE"; then
        rm -rf "$release"
        die "pip could not install edge-hub from $SOURCE; the installed hub is unchanged"
    fi
    check_release "$release"
    switch_to "$name"
}

# Run a command as the hub's user (on the real system), as the service would run it.
as_hub_user() {
    if real; then runuser -u "$USER_NAME" -- "$@"; else "$@"; fi
}

# The new code must accept the installed hub.toml before it may replace the running one.
check_release() {
    local release=$1 output
    if ((CONFIG_IS_NEW)); then
        say "not checking $CONF_DIR/hub.toml: it is the example, to be edited first"
        return
    fi
    if output=$(as_hub_user "$release/bin/edge-hub" check-config --config "$CONF_DIR/hub.toml" 2>&1); then
        say "the new version accepts $CONF_DIR/hub.toml: $output"
        return
    fi
    rm -rf "$release"
    die "the new version does not accept $CONF_DIR/hub.toml, so the hub keeps the version it
has (not restarted):
$output
Fix hub.toml for the new version (edge-hub check-config says what), then run this again."
}

# Point the venv link at the new release in one rename; keep the one before for a rollback.
switch_to() {
    local name=$1 old
    if [[ -d $VENV && ! -L $VENV ]]; then
        rm -rf "$VENV"  # a venv from before releases: its code is what this replaces
    fi
    ln -sfn "releases/$name" "$VENV.new"
    mv -T "$VENV.new" "$VENV"
    say "switched $VENV to release $name"
    for old in $(ls -1 "$RELEASES" | sort | head -n -2); do
        rm -rf "${RELEASES:?}/$old"
        say "removed old release $old"
    done
}

install_config() {
    mkdir -p "$CONF_DIR" "$STATE_DIR"
    chmod 0750 "$CONF_DIR" "$STATE_DIR"
    if real; then
        chown "root:$USER_NAME" "$CONF_DIR"
        chown "$USER_NAME:$USER_NAME" "$STATE_DIR"
    fi
    CONFIG_IS_NEW=0
    if [[ -e $CONF_DIR/hub.toml ]]; then
        say "kept existing $CONF_DIR/hub.toml"
    else
        install -m 0640 "$SOURCE/config/hub.example.toml" "$CONF_DIR/hub.toml"
        if real; then chown "root:$USER_NAME" "$CONF_DIR/hub.toml"; fi
        CONFIG_IS_NEW=1
        say "installed $CONF_DIR/hub.toml from the example: edit it for this building"
    fi
}

install_units() {
    put "$SCRIPT_DIR/edge-hub.service" "$UNIT" 0644
    put "$SCRIPT_DIR/99-edge-hub-modem.rules" "$RULES" 0644
    if real; then
        SYSTEMCTL=systemctl
        if command -v udevadm >/dev/null; then
            udevadm control --reload
            udevadm trigger --subsystem-match=tty --action=change  # a modem already plugged in
        fi
    elif [[ -z $SYSTEMCTL ]]; then
        say "--root: skipped udevadm and systemctl"
        return
    fi
    $SYSTEMCTL daemon-reload
    if ((CONFIG_IS_NEW)); then
        $SYSTEMCTL enable edge-hub
        say "enabled, not started: edit /etc/edge-hub/hub.toml, check it with"
        say "  sudo -u $USER_NAME $VENV/bin/edge-hub check-config"
        say "then: sudo systemctl start edge-hub"
    elif $SYSTEMCTL is-active --quiet edge-hub; then
        $SYSTEMCTL enable edge-hub
        $SYSTEMCTL restart edge-hub
        say "restarted edge-hub on the new code; follow it with: journalctl -fu edge-hub"
    else
        $SYSTEMCTL enable --now edge-hub
        say "started edge-hub; follow it with: journalctl -fu edge-hub"
    fi
}

uninstall() {
    if real && systemctl list-unit-files edge-hub.service >/dev/null 2>&1; then
        systemctl disable --now edge-hub || true
    fi
    local path
    for path in "$UNIT" "$RULES"; do
        if [[ -e $path ]]; then rm -f "$path"; say "removed $path"; fi
    done
    if real; then
        systemctl daemon-reload
        if command -v udevadm >/dev/null; then udevadm control --reload; fi
    fi
    if [[ -e $VENV || -L $VENV ]]; then rm -rf "$VENV"; say "removed $VENV"; fi
    if [[ -d $RELEASES ]]; then rm -rf "$RELEASES"; say "removed $RELEASES"; fi
    rmdir "$ROOT/opt/edge-hub" 2>/dev/null || true  # only if nothing else (e.g. src) is there
    if ((PURGE == 0)); then
        say "kept $CONF_DIR and $STATE_DIR (alerts, counters); --purge removes them"
        return
    fi
    rm -rf "$CONF_DIR" "$STATE_DIR"
    say "purged $CONF_DIR and $STATE_DIR"
    if real; then
        if id "$USER_NAME" >/dev/null 2>&1; then userdel "$USER_NAME"; say "removed user $USER_NAME"; fi
    else
        local file
        for file in "$ROOT/etc/passwd" "$ROOT/etc/group"; do
            if [[ -f $file ]]; then sed -i "/^$USER_NAME:/d" "$file"; fi
        done
    fi
}

main() {
    parse_args "$@"
    set_paths
    if ((UNINSTALL)); then
        uninstall
        say "uninstalled"
        return
    fi
    SOURCE=$(cd "$SOURCE" && pwd)
    [[ -f $SOURCE/pyproject.toml && -f $SOURCE/config/hub.example.toml ]] ||
        die "$SOURCE is not an edge-hub checkout (no pyproject.toml / config/hub.example.toml); use --source DIR"
    ensure_user
    install_config
    install_venv
    install_units
    say "done${ROOT:+ (into $ROOT)}"
}

main "$@"
