/* proxy.h - the PROXY protocol receiver's shared parts (HAProxy's
 * proxy-protocol.txt): the pure header parser (proxy_parse.c), the trusted
 * sources (proxy_cidr.c) and the layer that reads a header before setup
 * (layer_proxy.c). Internal: nothing here is part of the API. */
#ifndef SS_PROXY_H
#define SS_PROXY_H

#include "internal.h"

/* Section 2.1: a v1 line is at most 107 bytes with its CRLF. */
#define SS__PROXY_V1_MAX 107
/* Section 2.2: a v2 header is 16 bytes and up to 65535 more; a receiver
 * may accept fewer. This one takes addresses and TLVs up to 2048 bytes:
 * anything longer is an oversized header, refused. */
#define SS__PROXY_V2_MAX (16 + 2048)
/* Trusted sources one server holds, at most. */
#define SS__PROXY_CIDRS_MAX 64
/* The trusted sources when none are given (the production contract). */
#define SS__PROXY_FROM_DEFAULT "127.0.0.0/8,::1"

/* The versions a listener accepts (ss_proxy_protocol_t as bits). */
enum { SS__PROXY_ACCEPT_V1 = 1u << 0, SS__PROXY_ACCEPT_V2 = 1u << 1 };

/* What a complete header says. */
typedef struct ss__proxy_hdr {
    int version; /* 1 or 2 */
    /* The connection's own addresses stand: a v2 LOCAL command, a v1
     * UNKNOWN line, a v2 UNSPEC or UNIX family (sections 2.1, 2.2). */
    int local;
    ss_addr_t src, dst; /* the client and the address it reached, else */
    /* PP2_TYPE_SSL (section 2.2.5): present, its client bits, and the
     * PP2_SUBTYPE_SSL_VERSION and PP2_SUBTYPE_SSL_CN sub-TLVs ("" if none
     * or too long to keep). */
    int ssl;
    unsigned ssl_client;
    uint32_t ssl_verify; /* 0: the client's certificate was verified */
    char ssl_version[32];
    char ssl_cn[128];
} ss__proxy_hdr;

/* Section 2.2.5: the client bits of PP2_TYPE_SSL. */
enum {
    SS__PP2_CLIENT_SSL = 0x01,
    SS__PP2_CLIENT_CERT_CONN = 0x02,
    SS__PP2_CLIENT_CERT_SESS = 0x04
};

/* Parses the header at the start of buf (n bytes), of a version that
 * accept allows. Returns its length (> 0) with *out filled; 0 when the n
 * bytes are a header's beginning and more are needed; -EPROTO for a
 * malformed header, or one of a version not accepted; -EMSGSIZE for one
 * longer than SS__PROXY_V1_MAX or SS__PROXY_V2_MAX. why (cap bytes) then
 * says what is wrong. Pure and bounds-checked: fuzz/fuzz_proxy.c drives it. */
int ss__proxy_parse(const unsigned char *buf, size_t n, unsigned accept, ss__proxy_hdr *out,
                    char *why, size_t cap);

/* A network: family AF_INET or AF_INET6, its bytes, and its prefix length. */
typedef struct ss__cidr {
    int family;
    int bits;
    unsigned char net[16];
} ss__cidr;

/* Parses "CIDR,CIDR,..." (an address alone is a host: /32 or /128) into
 * out. Returns the count (>= 1), or -EINVAL with why naming the entry. */
int ss__cidr_list_parse(const char *text, ss__cidr *out, int max, char *why, size_t cap);
/* 1 if a's address is in one of the n networks (an IPv4-mapped IPv6
 * address is matched as its IPv4 address), else 0. */
int ss__cidr_match(const ss__cidr *list, int n, const ss_addr_t *a);

/* A server's PROXY settings (ss_config_t.proxy_protocol, proxy_from). */
struct ss__proxy {
    unsigned accept;
    int ncidr;
    ss__cidr cidr[SS__PROXY_CIDRS_MAX];
};

#endif /* SS_PROXY_H */
