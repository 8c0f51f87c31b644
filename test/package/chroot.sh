#!/usr/bin/env bash
# test/package/chroot.sh — installs each release's package in a clean chroot of that release, as
# a user of that Debian would, and checks it there with the release's own Node.js, as root:
#   bookworm (Debian 12, Node.js 18) pbx-ha_<version>~deb12u1_<arch>.deb
#   trixie   (Debian 13, Node.js 20) pbx-ha_<version>~deb13u1_<arch>.deb
# For each release, in a fresh chroot unpacked from scripts/debian-chroot's cached minimal system:
#   1. the control file depends on the release's Node.js major version and its libnodeNNN;
#   2. `apt-get install ./pbx-ha_….deb`: the dependencies come from Debian's archive only;
#   3. `pbx-ha --version` runs on the release's Node.js (same version and ABI as its `node`),
#      every `COMMAND --help` answers, `check-config` refuses the shipped file (exit 78, this
#      host's name matches no node), `status` exits 3 (no agent);
#   4. the native modules load under that Node.js: better-sqlite3 writes and reads a database
#      file, the agent's ICMP prober (net-ping over raw-socket) opens its raw socket and gets an
#      answer from the loopback of a network namespace of its own, ssh2 loads, the ARP helper runs;
#   5. an upgrade with apt to a later build (the same files repacked with a higher version, so
#      that dpkg runs the old prerm and the new postinst) keeps the edited configuration;
#   6. apt-get remove, then purge, then autoremove --purge: nothing of pbx-ha is left and
#      nothing that was in the clean system is missing.
# The upgrade of a node whose agent holds the VIPs, in a network lab, is test/package/package.sh's
# (on this machine, with the package built for its Node.js).
#
# Usage: test/package/chroot.sh [--debs DIR] [RELEASE...]
#   --debs DIR   take the .debs from DIR instead of building them with scripts/build-debs
#   RELEASE      bookworm, trixie (default: both)
# The last line is "N passed, N failed".
# shellcheck disable=SC2016
set -uo pipefail

REPO="$(cd -- "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/../.." && pwd -P)"
CHROOT="$REPO/scripts/debian-chroot"
DEBS=''
RELEASES=()
while (($#)); do
    case "$1" in
        --debs) DEBS="${2:?--debs needs a directory}"; shift 2 ;;
        bookworm | trixie) RELEASES+=("$1"); shift ;;
        *) echo "chroot.sh: unknown argument '$1'" >&2; echo "0 passed, 1 failed"; exit 1 ;;
    esac
done
((${#RELEASES[@]})) || RELEASES=(bookworm trixie)

PASSED=0 FAILED=0
WORK=''
pass() { PASSED=$((PASSED + 1)); printf 'ok   %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$*"; }
check() {
    local what="$1"
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
say() { printf '# %s\n' "$*"; }

cleanup() {
    trap - EXIT INT TERM
    [[ -n "$WORK" ]] && rm -rf --one-file-system -- "$WORK"
    echo "$PASSED passed, $FAILED failed"
    ((FAILED == 0))
    exit $?
}
[[ $EUID -eq 0 ]] || { echo "chroot.sh: run as root (chroots)"; echo "0 passed, 1 failed"; exit 1; }
WORK="$(mktemp -d /var/tmp/pbx-ha-chroot-test.XXXXXX)"
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "$DEBS" ]]; then
    DEBS="$WORK/debs"
    say "building the packages with scripts/build-debs"
    args=()
    for r in "${RELEASES[@]}"; do args+=(--release "$r"); done
    "$REPO/scripts/build-debs" --out "$DEBS" "${args[@]}" >"$WORK/build.out" 2>"$WORK/build.log" ||
        { tail -n 40 "$WORK/build.log"; fail "scripts/build-debs builds the packages"; exit 1; }
    pass "scripts/build-debs builds ${RELEASES[*]} (lintian: no errors)"
fi

VERSION="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$REPO/package.json" | head -n 1)"
ARCH="$(dpkg --print-architecture)"

# Files of a chroot, to compare the clean system with the one after the purge. Left out: dpkg's
# and apt's databases and caches, logs, what the dependencies' own scripts regenerate, and empty
# directories (dpkg tidies those away, such as /usr/share/man when the documentation is not
# installed; pbx-ha's own directories are checked by name).
snapshot() {
    (cd "$1" && find etc usr var root -xdev \( -path var/lib/dpkg -o -path var/lib/apt -o -path var/cache \
        -o -path var/log -o -path var/lib/ucf -o -path etc/ld.so.cache -o -name __pycache__ \) -prune \
        -o ! \( -type d -empty \) -print) | sort
}

for release in "${RELEASES[@]}"; do
    case "$release" in
        bookworm) suffix='~deb12u1' major=18 abi=108 ;;
        trixie) suffix='~deb13u1' major=20 abi=115 ;;
    esac
    started=$SECONDS
    deb="$DEBS/pbx-ha_$VERSION${suffix}_$ARCH.deb"
    say "$release: $deb"
    [[ -f "$deb" ]] || { fail "$release: $(basename -- "$deb") exists"; continue; }
    root="$WORK/$release"
    "$CHROOT" unpack "$release" base "$root" 2>"$WORK/unpack-$release.log" ||
        { cat "$WORK/unpack-$release.log"; fail "$release: a clean chroot"; continue; }
    in_root() { "$CHROOT" run "$root" "$@"; }
    # Inside the chroot, with a shell: the arguments of these scripts are this test's own.
    sh_in_root() { "$CHROOT" run "$root" sh -c "$1"; }

    # 1. The control file.
    depends="$(dpkg-deb -f "$deb" Depends)"
    check "$release: Depends on nodejs (>= $major…), nodejs (<< $((major + 1))~) and libnode$abi" \
        eval '[[ ", $depends," == *", nodejs (>= $major."* && ", $depends," == *", nodejs (<< $((major + 1))~),"* && ", $depends," == *", libnode$abi"[\ ,]* ]]'

    # 2. Install from the file, dependencies from the archive.
    mkdir -p -- "$root/root/debs"
    cp -- "$deb" "$root/root/debs/"
    cp -- "$REPO/debian/runtime-modules.js" "$root/root/"
    cp -- "$REPO/test/package/fixtures/spool-watch-check.js" "$root/root/"
    snapshot "$root" >"$WORK/before-$release.txt"
    base="$(basename -- "$deb")"
    if ! sh_in_root "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ./root/debs/$base" \
        >"$WORK/install-$release.log" 2>&1; then
        tail -n 30 "$WORK/install-$release.log"
        fail "$release: apt-get install ./$base"
        continue
    fi
    pass "$release: apt-get install ./$base (dependencies from Debian's archive)"
    check "$release: postinst says what to do (the shipped configuration is not valid here)" \
        grep -q "pbx-ha: not started: edit /etc/pbx-ha/pbx-ha.conf" "$WORK/install-$release.log"

    # 3. The command line under the release's Node.js.
    node_version="$(in_root node --version 2>/dev/null)"
    check "$release: its own Node.js $major ($node_version) is the one installed" eval '[[ "$node_version" == "v$major."* ]]'
    got="$(in_root pbx-ha --version 2>&1)"
    check "$release: pbx-ha --version: $got" test "$got" == "pbx-ha $VERSION (Node.js $node_version, ABI $abi)"
    helps_ok() {
        local c out
        for c in agent status check-config sync failover failback ifup keep-vips-on-stop history pair; do
            out="$(in_root pbx-ha "$c" --help 2>&1)" && [[ "$out" == "usage: pbx-ha $c"* ]] || { echo "  pbx-ha $c --help: $out"; return 1; }
        done
    }
    check "$release: pbx-ha COMMAND --help for every command" helps_ok
    in_root pbx-ha check-config >"$WORK/check-$release.txt" 2>&1
    rc=$?
    check "$release: pbx-ha check-config: exit 78, the shipped file's nodes are not this host" \
        eval '((rc == 78)) && grep -q "matches no \[node.NAME\] section" "$WORK/check-$release.txt"'
    in_root pbx-ha status >"$WORK/status-$release.txt" 2>&1
    rc=$?
    check "$release: pbx-ha status: exit 3, one line, no agent" \
        eval '((rc == 3)) && [[ "$(wc -l <"$WORK/status-$release.txt")" == 1 ]] && grep -q "not running" "$WORK/status-$release.txt"'

    # 4. The native modules, loaded by the release's node from the installed tree.
    sh_in_root 'cd /tmp && node -e "
        const Database = require(\"/usr/lib/pbx-ha/node_modules/better-sqlite3\");
        const db = new Database(\"/tmp/t.db\");
        db.exec(\"CREATE TABLE t (v TEXT)\");
        db.prepare(\"INSERT INTO t VALUES (?)\").run(\"kept\");
        db.close();
        const again = new Database(\"/tmp/t.db\", { readonly: true });
        if (again.prepare(\"SELECT v FROM t\").get().v !== \"kept\") process.exit(1);
        console.log(\"sqlite \" + again.prepare(\"SELECT sqlite_version() AS v\").get().v);
    "' >"$WORK/sqlite-$release.txt" 2>&1
    check "$release: better-sqlite3 writes and reads back a database file ($(head -c 60 "$WORK/sqlite-$release.txt"))" \
        grep -q '^sqlite ' "$WORK/sqlite-$release.txt"
    # The prober as the agent builds it; its own network namespace, whose loopback answers.
    sh_in_root 'unshare --net sh -c "ip link set lo up && node -e \"
        const { IcmpProber } = require(\\\"/usr/lib/pbx-ha/dist/src/adapters/icmp-prober.js\\\");
        const errors = [];
        const p = new IcmpProber({ log: (level, message) => errors.push(message) });
        p.ping(\\\"127.0.0.1\\\", 2000).then((r) => {
            p.close();
            console.log(JSON.stringify({ ...r, errors }));
            process.exit(r.answered && errors.length === 0 ? 0 : 1);
        });
    \""' >"$WORK/icmp-$release.txt" 2>&1
    check "$release: the ICMP prober opens its raw socket and gets an answer ($(head -c 80 "$WORK/icmp-$release.txt"))" \
        eval 'grep -q "\"answered\":true" "$WORK/icmp-$release.txt"'
    check "$release: ssh2 (with its optional cpu-features if built), net-ping, node-cron, prom-client load" \
        in_root node -e 'for (const m of ["ssh2", "net-ping", "node-cron", "prom-client"]) require(`/usr/lib/pbx-ha/node_modules/${m}`)'
    # Shipped = loaded: each npm package under /usr/lib/pbx-ha/node_modules is one the program
    # loads (debian/runtime-modules.js, run by the release's node), and each it loads is there.
    in_root node /root/runtime-modules.js /usr/lib/pbx-ha >"$WORK/loaded-$release.txt" 2>&1
    (cd "$root/usr/lib/pbx-ha" && find node_modules -mindepth 1 -type d -regextype posix-extended \
        -regex '(.*/)?node_modules/([^/@.][^/]*|@[^/]+/[^/]+)' -print | sort) >"$WORK/shipped-$release.txt"
    check "$release: the $(wc -l <"$WORK/shipped-$release.txt") npm packages shipped are exactly those the program loads" \
        diff "$WORK/shipped-$release.txt" "$WORK/loaded-$release.txt"
    # The ARP helper answers a request on its standard input (loopback is not Ethernet: an error
    # answer, which shows that it runs and parses).
    sh_in_root 'echo "mac 1 lo" | unshare --net /usr/lib/pbx-ha/dist/native/pbx-ha-arp' >"$WORK/arp-$release.txt" 2>&1
    check "$release: the native ARP helper runs and answers ($(head -c 60 "$WORK/arp-$release.txt"))" \
        grep -qx 'err 1 lo is not an Ethernet interface' "$WORK/arp-$release.txt"

    # The spool watcher with the release's own inotifywait: NUL-ended events (--no-newline, %0).
    spool_ok=no
    if in_root node /root/spool-watch-check.js >"$WORK/spool-$release.txt" 2>&1; then spool_ok=yes; fi
    check "$release: the spool watcher reads a name with a newline as one event ($(head -c 100 "$WORK/spool-$release.txt"))" \
        test "$spool_ok" == yes

    # 5. Upgrade to a later build: the same files with a higher version.
    next="$VERSION${suffix}+test1"
    rm -rf -- "$WORK/repack"
    dpkg-deb -R "$deb" "$WORK/repack"
    sed -i "s/^Version: .*/Version: $next/" "$WORK/repack/DEBIAN/control"
    dpkg-deb --root-owner-group -b "$WORK/repack" "$root/var/cache/pbx-ha_${next}_$ARCH.deb" >/dev/null
    echo '; edited by the administrator' >>"$root/etc/pbx-ha/pbx-ha.conf"
    if sh_in_root "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ./var/cache/pbx-ha_${next}_$ARCH.deb" \
        >"$WORK/upgrade-$release.log" 2>&1; then
        pass "$release: apt-get install upgrades to $next"
    else
        tail -n 20 "$WORK/upgrade-$release.log"
        fail "$release: apt-get install upgrades to $next"
    fi
    check "$release: after the upgrade: $next installed, the edited configuration kept, prerm did not warn" \
        eval '[[ "$(in_root dpkg-query -W -f="\${Version}" pbx-ha)" == "$next" ]] &&
            grep -q "edited by the administrator" "$root/etc/pbx-ha/pbx-ha.conf" &&
            ! grep -q "could not tell the running agent" "$WORK/upgrade-$release.log"'

    # 6. Remove, purge, and the dependencies apt installed for it.
    echo state >"$root/var/lib/pbx-ha/state.db"
    sh_in_root 'DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq pbx-ha' >"$WORK/remove-$release.log" 2>&1
    check "$release: apt-get remove: program gone; configuration and state kept" \
        eval '[[ ! -e "$root/usr/lib/pbx-ha" && ! -L "$root/usr/bin/pbx-ha" && ! -e "$root/lib/systemd/system/pbx-ha.service" ]] &&
            grep -q "edited by the administrator" "$root/etc/pbx-ha/pbx-ha.conf" && [[ -f "$root/var/lib/pbx-ha/state.db" ]]'
    sh_in_root 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq pbx-ha && DEBIAN_FRONTEND=noninteractive apt-get autoremove --purge -y -qq' \
        >"$WORK/purge-$release.log" 2>&1
    check "$release: apt-get purge: /etc/pbx-ha, /var/lib/pbx-ha and the hook are gone, dpkg forgot pbx-ha" \
        eval '[[ ! -e "$root/etc/pbx-ha" && ! -e "$root/var/lib/pbx-ha" && ! -e "$root/etc/network/if-up.d/pbx-ha" ]] &&
            ! in_root dpkg-query -W pbx-ha >/dev/null 2>&1'
    snapshot "$root" >"$WORK/after-$release.txt"
    # Fails on a file of the clean system that is missing, or anything of pbx-ha's left. What the
    # dependencies' own scripts leave (netbase's /etc/services, a group's gshadow- backup, apt
    # keeping packages of priority important) is listed, not pbx-ha's doing.
    purge_clean() {
        local removed left ours
        removed="$(comm -23 "$WORK/before-$release.txt" "$WORK/after-$release.txt")"
        left="$(comm -13 "$WORK/before-$release.txt" "$WORK/after-$release.txt")"
        ours="$(grep -i 'pbx-ha\|pbx_ha' <<<"$left")"
        [[ -n "$left" && -z "$ours" ]] && printf '# left by the dependencies: %s\n' "$(tr '\n' ' ' <<<"$left" | head -c 600)"
        [[ -z "$removed" && -z "$ours" ]] && return 0
        [[ -n "$removed" ]] && printf '  missing after the purge: %s\n' $removed | head -n 20
        [[ -n "$ours" ]] && printf '  left after the purge: %s\n' $ours | head -n 20
        return 1
    }
    check "$release: after purge and autoremove nothing of pbx-ha is left, nothing of the clean system is missing" purge_clean
    rm -rf --one-file-system -- "$root"
    say "$release: $((SECONDS - started)) s"
done
