/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* What anypin puts on the wire. */
#ifndef ANYPIN_WIRE_H
#define ANYPIN_WIRE_H

/* RFC 6994 shared experimental option carrying a 16-bit ExID. */
#define AP_OPT_KIND		253
#define AP_OPT_LEN		4
#define AP_EXID_DEFAULT		0xA7C1

#define AP_TCPOPT_EOL		0
#define AP_TCPOPT_NOP		1
#define AP_TCPOPT_MSS		2
#define AP_TCPOPT_MSS_LEN	4
#define AP_TCPOPT_TS		8
#define AP_TCPOPT_TS_LEN	10
#define AP_TCPOPT_MD5		19
#define AP_TCPOPT_AO		29

#define AP_TCP_FIN		0x01
#define AP_TCP_SYN		0x02
#define AP_TCP_RST		0x04
#define AP_TCP_PSH		0x08
#define AP_TCP_ACK		0x10

#define AP_IPPROTO_TCP		6
#define AP_IPPROTO_ICMP		1
#define AP_IPPROTO_ICMPV6	58

#define AP_TCP_HLEN_MIN		20
#define AP_TCP_HLEN_MAX		60
#define AP_IPV4_HLEN_MIN	20
#define AP_IPV6_HLEN		40

/* Bytes of IP header chain plus TCP header that the parser may need. */
#define AP_HDR_MAX		512

#endif
