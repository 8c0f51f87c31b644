/*
 * pbx-ha-arp — raw ARP helper for the pbx-ha agent (src/adapters/raw-arp.ts).
 *
 * Why it exists: the agent must announce a virtual IP with gratuitous ARP within milliseconds
 * of taking over, in bursts of sub-second spacing, and check with sub-second timeouts whether
 * somebody else answers ARP for an address. iputils arping only takes whole seconds for -i/-w,
 * lingers after sending, and costs a process start per use. This helper is started once and
 * serves the agent for its whole life over a line protocol on stdin/stdout:
 *
 *   send  ID IFNAME HEXFRAME        -> ok ID | ok ID reopened | err ID MESSAGE
 *   probe ID IFNAME IPV4 TIMEOUT_MS -> free ID | taken ID MAC[,MAC...] | err ID MESSAGE
 *   mac   ID IFNAME                 -> mac ID aa:bb:cc:dd:ee:ff | err ID MESSAGE
 *   garp  ID IFNAME IPV4            -> ok ID MAC | ok ID MAC reopened | err ID MESSAGE
 *
 * "garp" sends one gratuitous ARP request for IPV4 (RFC 5227 section 3 "ARP Announcement":
 * broadcast, sender and target IP both IPV4, target MAC zero) with the MAC the interface has at
 * that moment (SIOCGIFHWADDR, read for every frame, never cached), and answers with that MAC.
 * One line, one frame: the frame leaves as soon as the line is read, with no round trip to the
 * agent between reading the MAC and sending (a takeover's first frame waits for nothing the
 * agent does after writing the line).
 * "ok ID reopened": sent, but only after reopening the socket because the interface had been
 * deleted (and maybe created again, with a new index and perhaps a new MAC).
 * ID is 1..32 characters of [A-Za-z0-9._-]; every answer repeats it, because answers to probes
 * come back later than answers to commands sent after them. A line that cannot be understood
 * gets "err ID bad command: ..." (or "err - bad command: ..." when it has no usable ID).
 * Lines are limited to MAX_LINE bytes. On end of input the helper answers the probes still
 * pending (each is bounded by its own timeout) and exits 0.
 *
 * Design: one thread, one poll() loop over stdin and the sockets of the pending probes, each
 * probe with its own deadline. A `send` is therefore answered as soon as its line is read,
 * never after a probe's timeout, and several probes (on the same or different interfaces)
 * can run at once. All memory is static and bounded (MAX_LINE, MAX_PROBES, MAX_SEND_SOCKETS,
 * MAX_MACS); nothing is ever allocated.
 *
 * Needs CAP_NET_RAW (the agent runs as root). Build: scripts/build-native.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE 4096          /* bytes per input line, newline excluded */
#define MAX_ID 32              /* characters of a request id */
#define MAX_FRAME 1514         /* Ethernet header + 1500 bytes of payload, no FCS */
#define MIN_FRAME 14           /* an Ethernet header */
#define MAX_PROBES 64          /* probes pending at once */
#define MAX_SEND_SOCKETS 32    /* interfaces with a cached send socket */
#define MAX_MACS 16            /* distinct MACs reported by one probe */
#define MAX_TIMEOUT_MS 60000   /* longest probe */
#define MAX_TOKENS 6           /* more tokens than any command has: detects extra arguments */

/* ---------------------------------------------------------------------------------------- */
/* Output: one whole line per write(), so that the agent never sees half an answer.           */

static void answer(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void answer(const char *fmt, ...)
{
    char line[MAX_LINE];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof line - 2)
        n = (int)(sizeof line - 2); /* truncated; still one line */
    line[n++] = '\n';
    for (int off = 0; off < n;) {
        ssize_t w = write(STDOUT_FILENO, line + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(1); /* the agent is gone (EPIPE): nobody left to serve */
        off += (int)w;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Small helpers                                                                              */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void format_mac(const uint8_t mac[6], char out[18])
{
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MAX_ID)
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Interface names: 1..IFNAMSIZ-1 bytes, printable, no '/' or ':' tricks needed by the kernel. */
static bool valid_ifname(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= IFNAMSIZ)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f || *s == '/')
            return false;
    return true;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decimal 1..MAX_TIMEOUT_MS, digits only. */
static bool parse_timeout(const char *s, int *out)
{
    long v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (*s - '0');
        if (v > MAX_TIMEOUT_MS)
            return false;
    }
    if (v < 1)
        return false;
    *out = (int)v;
    return true;
}

/* MAC of an interface (SIOCGIFHWADDR); returns 0 or an errno value (ENOTSUP: not Ethernet). */
static int interface_mac(const char *ifname, uint8_t mac[6])
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, ifname, strlen(ifname)); /* valid_ifname(): shorter than IFNAMSIZ */
    int rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
    int err = errno;
    close(fd);
    if (rc < 0)
        return err;
    if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
        return ENOTSUP;
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    return 0;
}

/*
 * A packet socket bound to one interface. Created with protocol 0, which receives nothing, and
 * only then bound with `protocol`: a socket created with ETH_P_ARP directly would receive ARP
 * from every interface until bind() narrows it down.
 */
static int bound_packet_socket(int ifindex, uint16_t protocol)
{
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = ifindex;
    sll.sll_protocol = htons(protocol);
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* sendto() on an interface; the frame's destination and ethertype go in the address. */
static int send_frame(int fd, int ifindex, const uint8_t *frame, size_t len)
{
    struct sockaddr_ll to;
    memset(&to, 0, sizeof to);
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex;
    memcpy(&to.sll_protocol, frame + 12, 2); /* already in network order */
    to.sll_halen = 6;
    memcpy(to.sll_addr, frame, 6);
    for (;;) {
        ssize_t n = sendto(fd, frame, len, 0, (struct sockaddr *)&to, sizeof to);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        if ((size_t)n != len)
            return EMSGSIZE;
        return 0;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* send: one socket per interface, cached, least recently used evicted when the cache is full. */

struct send_socket {
    char ifname[IFNAMSIZ];
    int fd;          /* -1: free slot */
    int ifindex;
    uint64_t used;   /* for LRU eviction */
};

static struct send_socket send_sockets[MAX_SEND_SOCKETS];
static uint64_t use_counter;

static void drop_send_socket(struct send_socket *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->ifname[0] = '\0';
}

/* Returns the cached socket for `ifname`, opening it if needed; NULL with errno on failure. */
static struct send_socket *send_socket_for(const char *ifname)
{
    struct send_socket *lru = &send_sockets[0];
    for (int i = 0; i < MAX_SEND_SOCKETS; i++) {
        struct send_socket *s = &send_sockets[i];
        if (s->fd >= 0 && strcmp(s->ifname, ifname) == 0) {
            s->used = ++use_counter;
            return s;
        }
        if (s->fd < 0 || (lru->fd >= 0 && s->used < lru->used))
            lru = s;
    }
    unsigned idx = if_nametoindex(ifname);
    if (idx == 0)
        return NULL;
    int fd = bound_packet_socket((int)idx, 0); /* protocol 0: a send-only socket, never queues input */
    if (fd < 0)
        return NULL;
    drop_send_socket(lru);
    snprintf(lru->ifname, sizeof lru->ifname, "%s", ifname);
    lru->fd = fd;
    lru->ifindex = (int)idx;
    lru->used = ++use_counter;
    return lru;
}

static void cmd_send(const char *id, const char *ifname, const char *hex)
{
    size_t hexlen = strlen(hex);
    if (hexlen % 2 != 0 || hexlen / 2 < MIN_FRAME || hexlen / 2 > MAX_FRAME) {
        answer("err %s bad command: frame must be %d to %d bytes of hex digits", id, MIN_FRAME, MAX_FRAME);
        return;
    }
    uint8_t frame[MAX_FRAME];
    size_t len = hexlen / 2;
    for (size_t i = 0; i < len; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            answer("err %s bad command: frame is not hex", id);
            return;
        }
        frame[i] = (uint8_t)(hi << 4 | lo);
    }

    struct send_socket *s = send_socket_for(ifname);
    if (!s) {
        answer("err %s cannot open a packet socket on %s: %s", id, ifname, strerror(errno));
        return;
    }
    int err = send_frame(s->fd, s->ifindex, frame, len);
    bool reopened = false;
    if (err == ENXIO || err == ENODEV) {
        /* The interface went away, or was deleted and created again with a new index. */
        reopened = true;
        drop_send_socket(s);
        s = send_socket_for(ifname);
        if (!s) {
            answer("err %s cannot open a packet socket on %s: %s", id, ifname, strerror(errno));
            return;
        }
        err = send_frame(s->fd, s->ifindex, frame, len);
    }
    if (err)
        answer("err %s send on %s: %s", id, ifname, strerror(err));
    else if (reopened)
        answer("ok %s reopened", id); /* a new interface may have a new MAC: the caller refreshes its copy */
    else
        answer("ok %s", id);
}

/*
 * garp: the gratuitous ARP request announcing `ipv4` at the interface's current MAC (the same
 * 42 bytes as src/adapters/arp-packet.ts gratuitousArpRequest builds), sent like `send`.
 */
static void cmd_garp(const char *id, const char *ifname, const char *ipv4)
{
    struct in_addr addr;
    if (inet_pton(AF_INET, ipv4, &addr) != 1) {
        answer("err %s bad command: not an IPv4 address (dotted quad)", id);
        return;
    }
    uint8_t mac[6];
    int err = interface_mac(ifname, mac);
    if (err == ENOTSUP) {
        answer("err %s %s is not an Ethernet interface", id, ifname);
        return;
    }
    if (err) {
        answer("err %s cannot read the MAC address of %s: %s", id, ifname, strerror(err));
        return;
    }
    uint8_t f[42];
    memset(f, 0, sizeof f);
    memset(f, 0xff, 6);            /* destination: broadcast */
    memcpy(f + 6, mac, 6);         /* source */
    f[12] = 0x08, f[13] = 0x06;    /* ethertype ARP */
    f[14] = 0x00, f[15] = 0x01;    /* htype Ethernet */
    f[16] = 0x08, f[17] = 0x00;    /* ptype IPv4 */
    f[18] = 6, f[19] = 4;          /* hlen, plen */
    f[20] = 0x00, f[21] = 0x01;    /* oper: request */
    memcpy(f + 22, mac, 6);        /* sender MAC */
    memcpy(f + 28, &addr.s_addr, 4); /* sender IP */
    memcpy(f + 38, &addr.s_addr, 4); /* target MAC f[32..37] zero; target IP */

    struct send_socket *s = send_socket_for(ifname);
    if (!s) {
        answer("err %s cannot open a packet socket on %s: %s", id, ifname, strerror(errno));
        return;
    }
    err = send_frame(s->fd, s->ifindex, f, sizeof f);
    bool reopened = false;
    if (err == ENXIO || err == ENODEV) {
        reopened = true; /* deleted and created again: a new index (the MAC was read just now) */
        drop_send_socket(s);
        s = send_socket_for(ifname);
        if (!s) {
            answer("err %s cannot open a packet socket on %s: %s", id, ifname, strerror(errno));
            return;
        }
        err = send_frame(s->fd, s->ifindex, f, sizeof f);
    }
    char text[18];
    format_mac(mac, text);
    if (err)
        answer("err %s send on %s: %s", id, ifname, strerror(err));
    else
        answer("ok %s %s%s", id, text, reopened ? " reopened" : "");
}

/* ---------------------------------------------------------------------------------------- */
/* mac                                                                                        */

static void cmd_mac(const char *id, const char *ifname)
{
    uint8_t mac[6];
    int err = interface_mac(ifname, mac);
    if (err == ENOTSUP) {
        answer("err %s %s is not an Ethernet interface", id, ifname);
    } else if (err) {
        answer("err %s cannot read the MAC address of %s: %s", id, ifname, strerror(err));
    } else {
        char text[18];
        format_mac(mac, text);
        answer("mac %s %s", id, text);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* probe: RFC 5227 ARP probe, then listen until the deadline                                  */

struct probe {
    bool active;
    char id[MAX_ID + 1];
    char ifname[IFNAMSIZ];
    int fd;                     /* ETH_P_ARP socket bound to the interface */
    int ifindex;
    uint8_t own_mac[6];
    uint8_t ip[4];              /* the address probed, network order */
    int64_t deadline;           /* CLOCK_MONOTONIC, ms */
    int nmacs;                  /* distinct answering MACs; beyond MAX_MACS, the first are kept */
    uint8_t macs[MAX_MACS][6];
};

static struct probe probes[MAX_PROBES];

static void finish_probe(struct probe *p)
{
    if (p->nmacs == 0) {
        answer("free %s", p->id);
    } else {
        char list[MAX_MACS * 18 + 1];
        size_t off = 0;
        for (int i = 0; i < p->nmacs; i++) {
            if (i)
                list[off++] = ',';
            format_mac(p->macs[i], list + off);
            off += 17;
        }
        list[off] = '\0';
        answer("taken %s %s", p->id, list);
    }
    close(p->fd);
    p->active = false;
}

/*
 * The probe frame (RFC 826 layout, RFC 5227 section 2.1.1 "ARP Probe"): broadcast, ARP request,
 * sender hardware address = our MAC, sender IP 0.0.0.0 (so that nobody's ARP cache learns
 * anything from it), target hardware address zero, target IP = the address probed.
 */
static size_t build_probe(const struct probe *p, uint8_t f[42])
{
    memset(f, 0, 42);
    memset(f, 0xff, 6);                    /* destination: broadcast */
    memcpy(f + 6, p->own_mac, 6);          /* source */
    f[12] = 0x08, f[13] = 0x06;            /* ethertype ARP */
    f[14] = 0x00, f[15] = 0x01;            /* htype Ethernet */
    f[16] = 0x08, f[17] = 0x00;            /* ptype IPv4 */
    f[18] = 6, f[19] = 4;                  /* hlen, plen */
    f[20] = 0x00, f[21] = 0x01;            /* oper: request */
    memcpy(f + 22, p->own_mac, 6);         /* sender MAC; sender IP f[28..31] stays 0.0.0.0 */
    memcpy(f + 38, p->ip, 4);              /* target MAC f[32..37] zero; target IP */
    return 42;
}

static void cmd_probe(const char *id, const char *ifname, const char *ipv4, const char *timeout)
{
    struct probe *p = NULL;
    int ms;
    struct in_addr addr;
    if (inet_pton(AF_INET, ipv4, &addr) != 1) {
        answer("err %s bad command: not an IPv4 address (dotted quad)", id);
        return;
    }
    if (!parse_timeout(timeout, &ms)) {
        answer("err %s bad command: timeout must be 1 to %d ms", id, MAX_TIMEOUT_MS);
        return;
    }
    for (int i = 0; i < MAX_PROBES && !p; i++)
        if (!probes[i].active)
            p = &probes[i];
    if (!p) {
        answer("err %s too many probes pending (at most %d)", id, MAX_PROBES);
        return;
    }
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    snprintf(p->ifname, sizeof p->ifname, "%s", ifname);
    memcpy(p->ip, &addr.s_addr, 4);

    int err = interface_mac(ifname, p->own_mac);
    if (err == ENOTSUP) {
        answer("err %s %s is not an Ethernet interface", id, ifname);
        return;
    }
    if (err) {
        answer("err %s cannot read the MAC address of %s: %s", id, ifname, strerror(err));
        return;
    }
    unsigned idx = if_nametoindex(ifname);
    if (idx == 0) {
        answer("err %s no interface %s: %s", id, ifname, strerror(errno));
        return;
    }
    p->ifindex = (int)idx;
    /* Listen first, then send: an answer cannot arrive before the socket exists. */
    p->fd = bound_packet_socket(p->ifindex, ETH_P_ARP);
    if (p->fd < 0) {
        answer("err %s cannot open a packet socket on %s: %s", id, ifname, strerror(errno));
        return;
    }
    uint8_t frame[42];
    size_t len = build_probe(p, frame);
    err = send_frame(p->fd, p->ifindex, frame, len);
    if (err) {
        answer("err %s send on %s: %s", id, ifname, strerror(err));
        close(p->fd);
        return;
    }
    p->deadline = now_ms() + ms;
    p->active = true;
}

/*
 * Reads every frame queued on a probe's socket. A frame counts as an answer when it is a
 * well-formed Ethernet/IPv4 ARP request or reply whose *sender IP* is the probed address, from
 * a sender MAC that is not ours: a reply to our probe, a holder's announcement, or a holder's
 * own ARP request for another host (RFC 5227 section 2.1.1). Frames we sent ourselves
 * (PACKET_OUTGOING, e.g. our gratuitous ARP seen by a probe socket) and frames with our MAC as
 * sender are ignored, so a node checking an address it holds itself sees "free".
 */
static void drain_probe(struct probe *p)
{
    for (;;) {
        uint8_t buf[1600];
        struct sockaddr_ll from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(p->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            /* e.g. ENETDOWN: the interface went down; what was heard so far still counts. */
            return;
        }
        if (n < 42 || from.sll_pkttype == PACKET_OUTGOING || from.sll_ifindex != p->ifindex)
            continue;
        const uint8_t *a = buf + 14; /* the ARP packet after the Ethernet header */
        if (buf[12] != 0x08 || buf[13] != 0x06)
            continue;
        if (a[0] != 0x00 || a[1] != 0x01 || a[2] != 0x08 || a[3] != 0x00 || a[4] != 6 || a[5] != 4)
            continue;
        if (a[6] != 0x00 || (a[7] != 1 && a[7] != 2))
            continue;
        const uint8_t *sha = a + 8, *spa = a + 14;
        if (memcmp(spa, p->ip, 4) != 0 || memcmp(sha, p->own_mac, 6) == 0)
            continue;
        bool known = false;
        for (int i = 0; i < p->nmacs && !known; i++)
            known = memcmp(p->macs[i], sha, 6) == 0;
        if (known)
            continue;
        if (p->nmacs < MAX_MACS)
            memcpy(p->macs[p->nmacs++], sha, 6);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Input                                                                                      */

/* Splits on blanks into at most MAX_TOKENS tokens; returns the count (MAX_TOKENS: too many). */
static int tokenize(char *line, char *tok[MAX_TOKENS])
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (n == MAX_TOKENS)
            return MAX_TOKENS;
        tok[n++] = t;
    }
    return n;
}

static void handle_line(char *line)
{
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r')
        line[--len] = '\0';
    char *tok[MAX_TOKENS];
    int n = tokenize(line, tok);
    if (n == 0)
        return; /* a blank line is not a command */
    const char *id = n >= 2 && valid_id(tok[1]) ? tok[1] : "-";
    const char *cmd = tok[0];

    if (strcmp(id, "-") == 0) {
        answer("err - bad command: missing or invalid id");
    } else if (strcmp(cmd, "send") == 0) {
        if (n != 4 || !valid_ifname(tok[2]))
            answer("err %s bad command: usage: send ID IFNAME HEXFRAME", id);
        else
            cmd_send(id, tok[2], tok[3]);
    } else if (strcmp(cmd, "probe") == 0) {
        if (n != 5 || !valid_ifname(tok[2]))
            answer("err %s bad command: usage: probe ID IFNAME IPV4 TIMEOUT_MS", id);
        else
            cmd_probe(id, tok[2], tok[3], tok[4]);
    } else if (strcmp(cmd, "garp") == 0) {
        if (n != 4 || !valid_ifname(tok[2]))
            answer("err %s bad command: usage: garp ID IFNAME IPV4", id);
        else
            cmd_garp(id, tok[2], tok[3]);
    } else if (strcmp(cmd, "mac") == 0) {
        if (n != 3 || !valid_ifname(tok[2]))
            answer("err %s bad command: usage: mac ID IFNAME", id);
        else
            cmd_mac(id, tok[2]);
    } else {
        answer("err %s bad command: unknown command (send, garp, probe, mac)", id);
    }
}

/* For an over-long line: the id, if the first MAX_LINE bytes have one, so the error reaches its caller. */
static void answer_too_long(char *start)
{
    char *tok[MAX_TOKENS];
    int n = tokenize(start, tok);
    const char *id = n >= 2 && valid_id(tok[1]) ? tok[1] : "-";
    answer("err %s bad command: line longer than %d bytes", id, MAX_LINE);
}

static char inbuf[MAX_LINE + 1]; /* +1: room for the terminating NUL */
static size_t inlen;
static bool discarding; /* inside an over-long line, dropping bytes up to its newline */

/* Reads what stdin has; returns false on end of input (or a read error, treated alike). */
static bool read_input(void)
{
    ssize_t n = read(STDIN_FILENO, inbuf + inlen, MAX_LINE - inlen);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN;
    if (n == 0) {
        /* End of input: a last line without its newline is still a command. */
        if (inlen > 0 && !discarding) {
            inbuf[inlen] = '\0';
            handle_line(inbuf);
        }
        inlen = 0;
        return false;
    }
    inlen += (size_t)n;

    size_t start = 0;
    for (size_t i = 0; i < inlen; i++) {
        if (inbuf[i] != '\n')
            continue;
        inbuf[i] = '\0';
        if (!discarding)
            handle_line(inbuf + start);
        discarding = false;
        start = i + 1;
    }
    memmove(inbuf, inbuf + start, inlen - start);
    inlen -= start;
    if (inlen == MAX_LINE) { /* full and no newline: the line is too long */
        if (!discarding) {
            inbuf[inlen] = '\0';
            answer_too_long(inbuf);
        }
        discarding = true;
        inlen = 0;
    }
    return true;
}

/* ---------------------------------------------------------------------------------------- */

int main(void)
{
    /* A closed stdout must show up as a write error (then exit), not kill us silently mid-line. */
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < MAX_SEND_SOCKETS; i++)
        send_sockets[i].fd = -1;

    bool input_open = true;
    for (;;) {
        struct pollfd fds[1 + MAX_PROBES];
        struct probe *owner[1 + MAX_PROBES];
        int nfds = 0;
        int64_t now = now_ms();
        int64_t wait = -1; /* ms until the nearest deadline; -1: none */

        if (input_open) {
            fds[nfds] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
            owner[nfds++] = NULL;
        }
        for (int i = 0; i < MAX_PROBES; i++) {
            struct probe *p = &probes[i];
            if (!p->active)
                continue;
            int64_t left = p->deadline - now;
            if (left < 0)
                left = 0;
            if (wait < 0 || left < wait)
                wait = left;
            fds[nfds] = (struct pollfd){ .fd = p->fd, .events = POLLIN };
            owner[nfds++] = p;
        }
        if (nfds == 0)
            return 0; /* input closed and no probe pending */

        int rc = poll(fds, (nfds_t)nfds, wait < 0 ? -1 : (int)wait);
        if (rc < 0 && errno != EINTR) {
            fprintf(stderr, "pbx-ha-arp: poll: %s\n", strerror(errno));
            return 1;
        }
        if (rc > 0) {
            /* Sockets first: frames that arrived before a deadline count even if stdin is busy. */
            for (int i = 0; i < nfds; i++)
                if (owner[i] && (fds[i].revents & (POLLIN | POLLERR)))
                    drain_probe(owner[i]);
            if (input_open && fds[0].revents & POLLNVAL)
                input_open = false; /* no stdin at all */
            else if (input_open && fds[0].revents & (POLLIN | POLLHUP | POLLERR))
                input_open = read_input();
        }
        now = now_ms();
        for (int i = 0; i < MAX_PROBES; i++)
            if (probes[i].active && probes[i].deadline <= now) {
                drain_probe(&probes[i]); /* whatever came in the last instant */
                finish_probe(&probes[i]);
            }
    }
}
