#!/usr/bin/env bash
# test/package/package.sh — tests the Debian package on this machine, as root:
#   1. scripts/build-deb builds pbx-ha_<version>_<arch>.deb (lintian: no errors), and a second
#      one with a higher version (<version>+test1) for the upgrade;
#   2. dpkg -i: files in place, `pbx-ha help` works, check-config reports this host's problem,
#      no agent is started or enabled (the shipped configuration is not valid here);
#   3. the installed /usr/bin/pbx-ha runs as the agent of pbx1 in the network lab and takes the
#      VIPs;
#   4. upgrade to the second .deb while that agent holds the VIPs; then the restart a systemd
#      host would do, by hand inside pbx1 (see "What cannot be tested here" below);
#   5. dpkg -r, then dpkg -P: what each removes and keeps, and that after the purge the file
#      system is as it was before the installation.
# Always cleans up (trap): the lab is taken down and the package purged. The last line of the
# output is "N passed, N failed" (", N skipped" when a check could not run).
#
# What cannot be tested here, and how it is checked instead. This machine has no systemd
# (no /run/systemd/system), so the maintainer scripts start, stop and restart nothing, and the
# lab's agent is not a systemd service: it runs in pbx1's network and mount namespaces with a
# private /run, so the host's maintainer scripts cannot reach its control socket. Therefore:
#   - "dpkg -i starts no agent": checked directly (no agent process, no socket, unit not
#     enabled); that postinst starts it with systemd when check-config passes is checked by
#     running the installed postinst inside pbx1, where the lab's configuration is valid: it must
#     enable the unit (deb-systemd-helper), which the purge must undo;
#   - "prerm upgrade tells the running agent to keep its VIPs": the old version's prerm (saved
#     before the upgrade) is run inside pbx1, where the agent's socket is, with the arguments dpkg
#     gives it (upgrade NEW-VERSION); then the agent is stopped with SIGTERM, as systemd would,
#     and must leave the VIPs in place; the new version's agent is started and must keep them,
#     with no deletion of a VIP seen by `ip monitor address` during the whole upgrade. A plain
#     SIGTERM afterwards must release them (so the keeping came from the request);
#   - on the host, dpkg -i of the new version must succeed and its prerm must not warn (the
#     host has no agent: `pbx-ha keep-vips-on-stop` succeeds without one).
# Environment: PBX_PKG_KEEP=1 keeps the built .debs and logs in $PBX_PKG_WORK (default
# /tmp/pbx-ha-pkg-test); PBX_PKG_WAIT seconds to wait for another lab that uses /etc/pbx-ha or
# /var/lib/pbx-ha (default 300; the package must not be installed or purged under it).
# Checks are written `check WHAT eval '...'`, expanded when the check runs, on purpose:
# shellcheck disable=SC2016,SC2034
set -uo pipefail

REPO="$(cd -- "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/../.." && pwd -P)"
WORK="${PBX_PKG_WORK:-/tmp/pbx-ha-pkg-test}"
LAB="$REPO/scripts/lab"
export PBX_LAB_PREFIX=pbxpkg PBX_LAB_DIR=/tmp/pbx-ha-lab-pkg
LAB_LOG="$PBX_LAB_DIR/pbx1/agent.log"
# The agent's process as the launcher starts it: node --no-memory-reducer /usr/lib/pbx-ha/bin/../dist/src/cli/main.js agent
AGENT_RE='^node (--no-memory-reducer )?/usr/lib/pbx-ha/(bin/\.\./)?dist/src/cli/main\.js agent'
# LAB_VOIP_VIP, LAB_DATA_VIP and the rest of the lab's layout.
# shellcheck source=../../lab/layout.env
source "$REPO/lab/layout.env"
VIPS=("$LAB_VOIP_VIP" "$LAB_DATA_VIP")
WAIT_OTHER_LABS="${PBX_PKG_WAIT:-300}"

PASSED=0 FAILED=0 SKIPPED=0
MONITOR_PID=''
LAB_UP=0

say() { printf '# %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); printf 'ok   %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$*"; }
skip() { SKIPPED=$((SKIPPED + 1)); printf 'skip %s\n' "$*"; }
# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
    local what="$1"
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
# A step whose failure makes the rest meaningless.
abort() {
    fail "$*"
    exit 1
}

# ---------------------------------------------------------------------------------------------
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    {
        if [[ -n "$MONITOR_PID" ]]; then kill "$MONITOR_PID" 2>/dev/null; wait "$MONITOR_PID" 2>/dev/null; fi
        if ((LAB_UP)); then
            "$LAB" stop pbx1 TERM || true
            "$LAB" down || true
        fi
        if [[ "$(package_status)" != not-installed ]]; then
            if wait_for_other_labs; then dpkg -P pbx-ha || true; else echo "another lab still runs: pbx-ha left installed"; fi
        fi
        if [[ "${PBX_PKG_KEEP:-}" != 1 ]]; then rm -rf --one-file-system -- "$WORK"; fi
    } >>"$WORK/cleanup.log" 2>&1
    if ((rc != 0 && FAILED == 0)); then FAILED=1; fi
    local summary="$PASSED passed, $FAILED failed"
    ((SKIPPED)) && summary+=", $SKIPPED skipped"
    echo "$summary"
    ((FAILED == 0))
    exit $?
}

# Another lab (scripts/lab with another prefix, on a machine shared with other sessions)
# bind-mounts private copies over /etc/pbx-ha and /var/lib/pbx-ha in its nodes: purging would
# remove directories that are mount points there, detaching them from its running nodes. The
# purge waits for such a lab to end. (Installing under them is harmless: the nodes see their own
# copies, and a lab's `down` leaves a mount point it made in place when it is not empty.)
other_lab_mounts() {
    { cat /proc/[0-9]*/mountinfo 2>/dev/null || true; } |
        awk '$5 == "/etc/pbx-ha" || $5 == "/var/lib/pbx-ha" { found = 1 } END { exit !found }'
}
wait_for_other_labs() {
    local i
    for ((i = 0; i < WAIT_OTHER_LABS; i += 5)); do
        other_lab_mounts || return 0
        ((i % 60 == 0)) && say "another network lab uses /etc/pbx-ha or /var/lib/pbx-ha; waiting for it to end"
        sleep 5
    done
    ! other_lab_mounts
}

# Files of the areas a package touches, to compare before the installation and after the purge.
# Left out: dpkg's and apt's own databases, caches, and the directories that scripts/lab makes
# as mount points and removes again (another lab may come and go meanwhile).
snapshot() {
    find /etc /usr/bin /usr/sbin /usr/lib /usr/share/man /usr/share/doc /usr/share/bash-completion \
        /lib/systemd /var/lib /root -xdev \
        \( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/lib/ucf -o -path /var/lib/man-db \
        -o -path /etc/ld.so.cache -o -path '*/__pycache__' -o -path /root/.npm -o -path /root/.cache \) -prune \
        -o -print 2>/dev/null | grep -vx -e /etc/pbx-ha -e /var/lib/pbx-ha -e /var/lib/asterisk \
        -e /var/spool/asterisk -e /root/.ssh | sort
}

# Does NODE hold ADDR (on any interface)?
holds() {
    "$LAB" exec "$1" ip -json addr 2>/dev/null |
        node -e '
            const want = process.argv[1];
            const ifaces = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
            process.exit(ifaces.some((i) => (i.addr_info ?? []).some((a) => a.local === want)) ? 0 : 1);
        ' "$2"
}
holds_all() {
    local a
    for a in "${VIPS[@]}"; do holds "$1" "$a" || return 1; done
}
holds_none() {
    local a
    for a in "${VIPS[@]}"; do ! holds "$1" "$a" || return 1; done
}
# wait_until SECONDS COMMAND...
wait_until() {
    local limit=$(($1 * 10)) i
    shift
    for ((i = 0; i < limit; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
agent_pid() { cat -- "$PBX_LAB_DIR/pbx1/agent.pid" 2>/dev/null; }
agent_alive() { local p; p="$(agent_pid)" && [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; }
# The state the agent of pbx1 reports (pbx-ha status --json, run inside pbx1).
agent_state() {
    "$LAB" exec pbx1 pbx-ha status --json 2>/dev/null |
        node -e '
            const s = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
            console.log(`${s.state} ${s.vips.filter((v) => v.held).length}/${s.vips.length}`);
        ' 2>/dev/null
}
agent_active_with_vips() { [[ "$(agent_state)" == "active ${#VIPS[@]}/${#VIPS[@]}" ]]; }
is_mode() { [[ "$(stat -c '%a %U' -- "$1" 2>/dev/null)" == "$2" ]]; }
is_conffile() { dpkg-query -W -f='${Conffiles}\n' pbx-ha | awk '{ print $1 }' | grep -qx -- "$1"; }
absent() { local p; for p in "$@"; do [[ ! -e "$p" && ! -L "$p" ]] || return 1; done; }
present() { local p; for p in "$@"; do [[ -e "$p" ]] || return 1; done; }
# installed, config-files, ... or not-installed (also when dpkg never heard of it).
package_status() {
    local s
    s="$(dpkg-query -W -f='${db:Status-Status}' pbx-ha 2>/dev/null)"
    echo "${s:-not-installed}"
}
status_is() { [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' pbx-ha 2>/dev/null | tr -d ' ')" == "$1" ]]; }
installed_agents() { pgrep -f -- "$AGENT_RE" || true; }

# ---------------------------------------------------------------------------------------------
[[ $EUID -eq 0 ]] || { echo "package.sh: run as root (dpkg, network namespaces)"; echo "0 passed, 1 failed"; exit 1; }
rm -rf --one-file-system -- "$WORK"
mkdir -p -- "$WORK"
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. Build -------------------------------------------------------------------------------
VERSION="$(node -p 'require(process.argv[1]).version' "$REPO/package.json")"
NEXT="$VERSION+test1"
ARCH="$(dpkg --print-architecture)"
say "building pbx-ha $VERSION and $NEXT with scripts/build-deb (a few minutes each)"
DEB1="$("$REPO/scripts/build-deb" --out "$WORK/deb1" 2>"$WORK/build1.log" | tail -n 1)" ||
    { tail -n 30 "$WORK/build1.log"; abort "scripts/build-deb builds the package"; }
check "scripts/build-deb builds pbx-ha_${VERSION}_${ARCH}.deb, lintian reports no error" \
    test "$DEB1" == "$WORK/deb1/pbx-ha_${VERSION}_${ARCH}.deb" -a -f "$DEB1"
DEB2="$("$REPO/scripts/build-deb" --no-apt --version "$NEXT" --out "$WORK/deb2" 2>"$WORK/build2.log" | tail -n 1)" ||
    { tail -n 30 "$WORK/build2.log"; abort "scripts/build-deb --version $NEXT builds the upgrade"; }
check "scripts/build-deb --version $NEXT builds pbx-ha_${NEXT}_${ARCH}.deb" \
    test "$DEB2" == "$WORK/deb2/pbx-ha_${NEXT}_${ARCH}.deb" -a -f "$DEB2"

field() { dpkg-deb -f "$DEB1" "$1"; }
check "control: Architecture $ARCH (native modules), Version $VERSION" \
    test "$(field Architecture) $(field Version)" == "$ARCH $VERSION"
deps_ok() {
    local d depends
    depends="$(field Depends)"
    # The Node.js major version the addons were built for: nodejs (>= X.Y.Z~), nodejs (<< X+1~).
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    for d in "nodejs (>= $major." "nodejs (<< $((major + 1))~)" iproute2 rsync python3 openssh-client postgresql-client inotify-tools 'libc6'; do
        [[ ", $depends," == *", $d"* ]] || { echo "  Depends lacks $d: $depends"; return 1; }
    done
    [[ "$(field Recommends)" == *openssh-server* ]]
}
check "control: Depends on every program the agent runs, Recommends openssh-server" deps_ok
# The content: the program, the production modules with their addons, nothing from the tests.
contents_ok() {
    dpkg-deb -c "$DEB1" | awk '{ print $6 }' | sed 's|^\./|/|' >"$WORK/contents.txt"
    local f
    for f in /usr/lib/pbx-ha/bin/pbx-ha /usr/lib/pbx-ha/package.json /usr/lib/pbx-ha/dist/src/cli/main.js \
        /usr/lib/pbx-ha/dist/native/pbx-ha-arp /usr/lib/pbx-ha/node_modules/better-sqlite3/build/Release/better_sqlite3.node \
        /usr/lib/pbx-ha/node_modules/raw-socket/build/Release/raw.node /usr/bin/pbx-ha /etc/pbx-ha/pbx-ha.conf \
        /etc/network/if-up.d/pbx-ha /lib/systemd/system/pbx-ha.service /usr/share/man/man8/pbx-ha.8.gz \
        /usr/share/man/man5/pbx-ha.conf.5.gz /usr/share/bash-completion/completions/pbx-ha /usr/share/doc/pbx-ha/copyright; do
        grep -qx -- "$f" "$WORK/contents.txt" || { echo "  missing from the .deb: $f"; return 1; }
    done
    ! grep -E '^/usr/lib/pbx-ha/(dist/(test|scripts)/|node_modules/(typescript|@types)/)|\.map$|package-lock\.json$' "$WORK/contents.txt"
}
check "the .deb holds the program, its modules and addons, the unit, man pages, completion; no tests, dev modules or lock files" contents_ok

# --- 2. Install -----------------------------------------------------------------------------
if [[ "$(package_status)" != not-installed ]]; then
    # A previous run that was killed before its clean-up; this test owns the package on this machine.
    say "pbx-ha is installed (a previous run?): purging it first"
    wait_for_other_labs || abort "another network lab still uses /etc/pbx-ha or /var/lib/pbx-ha after ${WAIT_OTHER_LABS}s"
    dpkg -P pbx-ha >>"$WORK/dpkg.log" 2>&1 || abort "dpkg -P of the pbx-ha already installed"
fi

# The dependencies come from Debian's archive (apt-get satisfy, without recommends: no SSH server
# installed, nor started, on this machine); the package itself is installed with dpkg -i.
say "apt-get satisfy the package's dependencies"
DEBIAN_FRONTEND=noninteractive apt-get satisfy -y -qq --no-install-recommends "$(field Depends)" >"$WORK/apt.log" 2>&1 ||
    { tail -n 20 "$WORK/apt.log"; abort "apt-get satisfy installs the dependencies"; }
snapshot >"$WORK/before.txt"
agents_before="$(installed_agents)"

dpkg -i "$DEB1" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; abort "dpkg -i installs pbx-ha $VERSION"; }
pass "dpkg -i installs pbx-ha $VERSION"
check "dpkg: pbx-ha $VERSION installed" test "$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' pbx-ha | tr -d ' ')" == "ii$VERSION"
check "postinst says what to do: the shipped configuration is not valid here" \
    grep -q "pbx-ha: not started: edit /etc/pbx-ha/pbx-ha.conf, check it with 'pbx-ha check-config', then run 'systemctl enable --now pbx-ha'" "$WORK/install.log"
sleep 1
check "no agent started by the installation (no process, no control socket)" \
    test -z "$(installed_agents)" -a -z "$agents_before" -a ! -e /run/pbx-ha/pbx-ha.sock
check "the unit is not enabled (check-config fails here)" \
    absent /etc/systemd/system/multi-user.target.wants/pbx-ha.service
check "/usr/bin/pbx-ha is a symbolic link to /usr/lib/pbx-ha/bin/pbx-ha" \
    test "$(readlink -f /usr/bin/pbx-ha)" == /usr/lib/pbx-ha/bin/pbx-ha -a -x /usr/lib/pbx-ha/bin/pbx-ha
check "/etc/pbx-ha/pbx-ha.conf is etc/pbx-ha.conf, a conffile" \
    eval 'cmp -s /etc/pbx-ha/pbx-ha.conf "$REPO/etc/pbx-ha.conf" && is_conffile /etc/pbx-ha/pbx-ha.conf'
check "/etc/network/if-up.d/pbx-ha is the ifupdown hook, executable, a conffile" \
    eval 'cmp -s /etc/network/if-up.d/pbx-ha "$REPO/etc/network/if-up.d/pbx-ha" && test -x /etc/network/if-up.d/pbx-ha && is_conffile /etc/network/if-up.d/pbx-ha'
check "the systemd unit is etc/systemd/pbx-ha.service" cmp -s /lib/systemd/system/pbx-ha.service "$REPO/etc/systemd/pbx-ha.service"
check "/var/lib/pbx-ha is 0711 root, /etc/pbx-ha/ssh 0700 root" \
    eval 'is_mode /var/lib/pbx-ha "711 root" && is_mode /etc/pbx-ha/ssh "700 root"'
check "the native ARP helper is an executable ELF file" \
    eval 'test -x /usr/lib/pbx-ha/dist/native/pbx-ha-arp && head -c 4 /usr/lib/pbx-ha/dist/native/pbx-ha-arp | grep -q ELF'
check "the native modules load from the installed tree (better-sqlite3, raw-socket, ssh2)" \
    node -e '
        const r = (m) => require(`/usr/lib/pbx-ha/node_modules/${m}`);
        const db = new (r("better-sqlite3"))(":memory:");
        db.prepare("SELECT 1").get();
        r("raw-socket"); r("ssh2"); r("net-ping"); r("node-cron");
    '

pbx-ha help >"$WORK/help.txt" 2>&1
help_rc=$?
help_ok() {
    local c
    ((help_rc == 0)) && grep -q '^usage: pbx-ha COMMAND' "$WORK/help.txt" || return 1
    for c in agent status check-config sync failover failback ifup keep-vips-on-stop history pair; do grep -q "^  $c " "$WORK/help.txt" || return 1; done
}
check "pbx-ha help: exit 0, usage with every command" help_ok

pbx-ha check-config >"$WORK/check.txt" 2>&1
cc_rc=$?
if [[ "$(hostname)" == pbx1 || "$(hostname)" == pbx2 ]]; then
    check "pbx-ha check-config: exit 78 (EX_CONFIG), not valid on this host" \
        eval '((cc_rc == 78)) && grep -q "the configuration is not valid" "$WORK/check.txt"'
else
    check "pbx-ha check-config: exit 78, this host's name ($(hostname)) matches no [node.NAME] section" \
        eval '((cc_rc == 78)) && grep -q "hostname $(hostname) matches no \[node.NAME\] section" "$WORK/check.txt"'
fi
pbx-ha check-config --node pbx1 >"$WORK/check-node.txt" 2>&1
cc_rc=$?
check "pbx-ha check-config --node pbx1: exit 78, this host lacks pbx1's interfaces and addresses" \
    eval '((cc_rc == 78)) && grep -Eq "no interface eth[01] on this node|address not configured on this node|no subnet|not inside" "$WORK/check-node.txt"'

man_ok() {
    local page warnings
    for page in /usr/share/man/man8/pbx-ha.8.gz /usr/share/man/man5/pbx-ha.conf.5.gz; do
        warnings="$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)"
        [[ -z "$warnings" ]] || { echo "  $page: $warnings"; return 1; }
        lexgrog "$page" >/dev/null || return 1
    done
    man -w pbx-ha >/dev/null && man -w 5 pbx-ha.conf >/dev/null
}
if command -v man >/dev/null && command -v lexgrog >/dev/null; then
    check "man pages pbx-ha(8) and pbx-ha.conf(5): found by man, no warnings, whatis entries" man_ok
elif [[ -n "${CI:-}" ]]; then
    # man-db comes with lintian, which scripts/build-deb installs: in CI its absence is a failure.
    fail "man pages: man-db is not installed (CI is set, so this is a failure, not a skip)"
else
    skip "man pages (man-db is not installed)"
fi

# Completion: with bash-completion's helpers when installed, or minimal stand-ins for them.
complete_words() {
    bash -c '
        if [[ -r /usr/share/bash-completion/bash_completion ]]; then
            . /usr/share/bash-completion/bash_completion
        else
            _init_completion() { words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; cur=${words[cword]}; prev=${words[cword-1]}; }
            _filedir() { :; }
        fi
        . /usr/share/bash-completion/completions/pbx-ha
        COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
        _pbx_ha pbx-ha "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "
    ' completion "$@"
}
completion_ok() {
    local got
    got="$(complete_words pbx-ha ch)"; [[ "$got" == "check-config " ]] || { echo "  'pbx-ha ch': $got"; return 1; }
    got="$(complete_words pbx-ha sync '')"; [[ "$got" == "all astdb db files " ]] || { echo "  'pbx-ha sync': $got"; return 1; }
    got="$(complete_words pbx-ha history --)"; [[ "$got" == "--config --json --limit " ]] || { echo "  'pbx-ha history --': $got"; return 1; }
    got="$(complete_words pbx-ha agent --node '')"; [[ "$got" == "pbx1 pbx2 " ]] || { echo "  'pbx-ha agent --node': $got"; return 1; }
    got="$(complete_words pbx-ha failover --)"; [[ "$got" == "--config --force --to " ]] || { echo "  'pbx-ha failover --': $got"; return 1; }
}
check "bash completion: commands, sync's argument, options, node names from the configuration" completion_ok

# --- 3. The installed agent in the network lab ----------------------------------------------
say "network lab $PBX_LAB_PREFIX in $PBX_LAB_DIR"
LAB_UP=1
"$LAB" up >"$WORK/lab-up.log" 2>&1 || { tail -n 20 "$WORK/lab-up.log"; abort "scripts/lab up"; }
# `start NODE ARGS...` runs "$PBX_LAB_AGENT ARGS..." inside the node: the command is given here.
PBX_LAB_AGENT=/usr/bin/pbx-ha "$LAB" start pbx1 agent >/dev/null 2>"$WORK/lab-start.log" ||
    { cat "$WORK/lab-start.log"; abort "scripts/lab start pbx1 runs /usr/bin/pbx-ha agent"; }
check "the lab's agent on pbx1 is the installed program (/usr/lib/pbx-ha)" \
    eval 'tr "\0" " " <"/proc/$(agent_pid)/cmdline" | grep -Eq -- "$AGENT_RE"'
if wait_until 30 holds_all pbx1; then
    pass "the installed agent on pbx1 (master) takes ${VIPS[*]}"
else
    tail -n 30 "$LAB_LOG"
    abort "the installed agent on pbx1 (master) takes ${VIPS[*]}"
fi
check "pbx-ha status inside pbx1: active, every VIP held" wait_until 10 agent_active_with_vips

# --- 4. Upgrade while the agent holds the VIPs ----------------------------------------------
# Any deletion of a VIP in pbx1 from now on, until the new agent runs, is a flap.
ip -n "$PBX_LAB_PREFIX-pbx1" monitor address >"$WORK/addr-monitor.log" 2>&1 &
MONITOR_PID=$!
cp -- /var/lib/dpkg/info/pbx-ha.prerm "$WORK/prerm-$VERSION"

dpkg -i "$DEB2" >"$WORK/upgrade.log" 2>&1 || { cat "$WORK/upgrade.log"; abort "dpkg -i upgrades to $NEXT"; }
pass "dpkg -i upgrades $VERSION to $NEXT while the agent holds the VIPs"
check "dpkg: pbx-ha $NEXT installed" test "$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' pbx-ha | tr -d ' ')" == "ii$NEXT"
check "prerm upgrade ran 'pbx-ha keep-vips-on-stop' without a warning (no agent on the host)" \
    eval '! grep -q "could not tell the running agent" "$WORK/upgrade.log"'
check "the running agent survives the replacement of its files and still holds the VIPs" \
    eval 'agent_alive && holds_all pbx1'

# What systemd's try-restart would do, by hand in pbx1: the old prerm's request, SIGTERM, start.
"$LAB" exec pbx1 sh "$WORK/prerm-$VERSION" upgrade "$NEXT" >"$WORK/prerm-in-node.log" 2>&1
check "prerm upgrade, run inside pbx1, tells the running agent to keep its VIPs" \
    eval '! grep -q "could not tell the running agent" "$WORK/prerm-in-node.log" && wait_until 5 grep -qi "VIPs will be kept" "$LAB_LOG"'
"$LAB" stop pbx1 TERM >>"$WORK/lab-stop.log" 2>&1
check "after SIGTERM the old agent is gone and the VIPs are still on pbx1" eval '! agent_alive && holds_all pbx1'
PBX_LAB_AGENT=/usr/bin/pbx-ha "$LAB" start pbx1 agent >/dev/null 2>"$WORK/lab-start2.log" ||
    { cat "$WORK/lab-start2.log"; abort "scripts/lab start pbx1 runs the new version"; }
check "the new version's agent finds the VIPs held and is active with them" wait_until 30 agent_active_with_vips
sleep 2   # let a wrong release, if any, show in the monitor
kill "$MONITOR_PID" 2>/dev/null
wait "$MONITOR_PID" 2>/dev/null
MONITOR_PID=''
VIP_RE="$(IFS='|'; echo "${VIPS[*]//./\\.}")"
check "no VIP was deleted during the upgrade and the restart (ip monitor address)" \
    eval '! grep -E "^Deleted .*inet ($VIP_RE)/" "$WORK/addr-monitor.log"'
# pbx2's host answers but runs no agent: a stopping active master keeps its VIPs then (nobody
# could take them over). With pbx2 silent (its cables pulled, past the 3 s detection), nobody is
# left without a PBX, and a plain SIGTERM releases them.
"$LAB" cut pbx2 >>"$WORK/lab-stop.log" 2>&1
sleep 5
"$LAB" stop pbx1 TERM >>"$WORK/lab-stop.log" 2>&1
check "a plain SIGTERM, the peer silent, releases the VIPs (so they were kept above by the request)" \
    eval '! agent_alive && wait_until 5 holds_none pbx1'
"$LAB" restore pbx2 >>"$WORK/lab-stop.log" 2>&1

# postinst of a first installation where the configuration is valid: pbx1 in the lab. First the
# unit's enablement state is reset to that of a machine where pbx-ha was never installed (the
# real installation above recorded it). With dpkg's environment: deb-systemd-helper refuses to
# run outside a maintainer script.
DPKG_MAINTSCRIPT_PACKAGE=pbx-ha DPKG_MAINTSCRIPT_NAME=postrm deb-systemd-helper purge pbx-ha.service >/dev/null 2>&1
DPKG_MAINTSCRIPT_PACKAGE=pbx-ha DPKG_MAINTSCRIPT_NAME=postinst \
    "$LAB" exec pbx1 sh /var/lib/dpkg/info/pbx-ha.postinst configure >"$WORK/postinst-in-node.log" 2>&1
check "postinst configure where check-config passes (inside pbx1) enables the unit" \
    eval 'grep -q "is valid on this node: pbx-ha enabled" "$WORK/postinst-in-node.log" &&
        test -L /etc/systemd/system/multi-user.target.wants/pbx-ha.service'

LAB_UP=0
"$LAB" down >"$WORK/lab-down.log" 2>&1 || fail "scripts/lab down"

# --- 5. Remove, then purge ------------------------------------------------------------------
# What a paired node has: an edited configuration, state, pbx-ha's own key.
echo '; edited by the administrator' >>/etc/pbx-ha/pbx-ha.conf
echo state >/var/lib/pbx-ha/state.db
echo key >/etc/pbx-ha/ssh/id_ed25519
dpkg -r pbx-ha >"$WORK/remove.log" 2>&1 || { cat "$WORK/remove.log"; abort "dpkg -r pbx-ha"; }
pass "dpkg -r pbx-ha"
check "after dpkg -r: the program, unit, man pages and completion are gone" \
    absent /usr/bin/pbx-ha /usr/lib/pbx-ha /lib/systemd/system/pbx-ha.service /usr/share/man/man8/pbx-ha.8.gz \
    /usr/share/man/man5/pbx-ha.conf.5.gz /usr/share/bash-completion/completions/pbx-ha
check "after dpkg -r: the edited configuration, the hook, the state and pbx-ha's key are kept" \
    eval 'grep -q "edited by the administrator" /etc/pbx-ha/pbx-ha.conf && present /etc/network/if-up.d/pbx-ha /var/lib/pbx-ha/state.db /etc/pbx-ha/ssh/id_ed25519 && status_is rc'
wait_for_other_labs || abort "another network lab still uses /etc/pbx-ha or /var/lib/pbx-ha after ${WAIT_OTHER_LABS}s"
dpkg -P pbx-ha >"$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log"; abort "dpkg -P pbx-ha"; }
pass "dpkg -P pbx-ha"
check "after dpkg -P: configuration, hook, /etc/pbx-ha (with ssh/), /var/lib/pbx-ha and the unit's enablement are gone" \
    absent /etc/pbx-ha /etc/network/if-up.d/pbx-ha /var/lib/pbx-ha /etc/systemd/system/multi-user.target.wants/pbx-ha.service
check "dpkg: pbx-ha is not installed any more" test "$(package_status)" == not-installed
snapshot >"$WORK/after.txt"
# Nothing that was there before is missing, and nothing of pbx-ha's is left. (Files that appeared
# meanwhile for other reasons, such as another session's apt-get on a shared machine, are not
# this package's doing.)
snapshot_ok() {
    diff "$WORK/before.txt" "$WORK/after.txt" >"$WORK/snapshot.diff" && return 0
    local removed left
    removed="$(grep '^< ' "$WORK/snapshot.diff")"
    left="$(grep '^> ' "$WORK/snapshot.diff" | grep -i 'pbx-ha\|pbx_ha')"
    [[ -z "$removed" && -z "$left" ]] && return 0
    printf '%s\n' "$removed" "$left" | head -n 20
    return 1
}
check "after the purge, nothing that was there before the installation is missing, nothing of pbx-ha is left" snapshot_ok
