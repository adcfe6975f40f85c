/*
 * `netstat -s`: per-protocol statistics in the wording of FreeBSD's usr.bin/netstat
 * (inet.c, inet6.c, if.c), read from the protocols' stats nodes:
 *
 *   tcp    net.inet.tcp.stats     (struct tcpstat: tcps_* fields)
 *   udp    net.inet.udp.stats     (struct udpstat)
 *   ip     net.inet.ip.stats      (struct ipstat)
 *   icmp   net.inet.icmp.stats    (struct icmpstat, icps_outhist/icps_inhist arrays)
 *   arp    net.link.ether.arp.stats
 *   ip6    net.inet6.ip6.stats    (ip6s_nxthist array)
 *   icmp6  net.inet6.icmp6.stats  (icp6s_outhist/icp6s_inhist arrays)
 *   rip6   net.inet6.ip6.rip6stats
 *
 * A line template names its counters {0}, {1}; {s0} is "s" when counter 0 is not 1, {es0}
 * "es", {ies0} "y"/"ies". A line whose counters are all zero is suppressed when -s is given
 * twice (or with -z), as BSD's `p()` macro does; lines whose counters the node lacks are
 * skipped; a counter of the node that no line names is printed under its own name, so
 * nothing a protocol counts is hidden.
 */

import type { SysctlJson } from '../kern/kern_sysctl.js';

type Line = [fields: string[], template: string];

/** A histogram: an array field printed as "name: count" per non-zero entry under a heading. */
interface Hist {
  field: string;
  heading: string;
  names: Record<number, string>;
  fallback: (i: number) => string;
}

export interface ProtoStats {
  proto: string;
  node: string;
  lines: (Line | Hist)[];
  /** Derived values computed from the raw counters (udp "delivered"). */
  derive?: (s: Record<string, number>) => Record<string, number>;
}

const ICMP_NAMES: Record<number, string> = {
  0: 'echo reply',
  3: 'destination unreachable',
  4: 'source quench',
  5: 'routing redirect',
  8: 'echo',
  9: 'router advertisement',
  10: 'router solicitation',
  11: 'time exceeded',
  12: 'parameter problem',
  13: 'time stamp',
  14: 'time stamp reply',
  15: 'information request',
  16: 'information request reply',
  17: 'address mask request',
  18: 'address mask reply',
};

const ICMP6_NAMES: Record<number, string> = {
  1: 'unreach',
  2: 'packet too big',
  3: 'time exceed',
  4: 'parameter problem',
  128: 'echo',
  129: 'echo reply',
  130: 'multicast listener query',
  131: 'MLDv1 listener report',
  132: 'multicast listener done',
  133: 'router solicitation',
  134: 'router advertisement',
  135: 'neighbor solicitation',
  136: 'neighbor advertisement',
  137: 'redirect',
  138: 'router renumbering',
  139: 'node information request',
  140: 'node information reply',
  141: 'inverse neighbor solicitation',
  142: 'inverse neighbor advertisement',
  143: 'MLDv2 listener report',
};

const IP6_NH_NAMES: Record<number, string> = {
  0: 'hop by hop',
  1: 'ICMP',
  2: 'IGMP',
  4: 'IP',
  6: 'TCP',
  17: 'UDP',
  41: 'IP6',
  43: 'routing',
  44: 'fragment',
  50: 'ESP',
  51: 'AH',
  58: 'ICMP6',
  59: 'no next header',
  60: 'destination option',
  103: 'PIM',
  132: 'SCTP',
};

export const STATS: ProtoStats[] = [
  {
    proto: 'tcp',
    node: 'net.inet.tcp.stats',
    lines: [
      [['tcps_sndtotal'], '\t{0} packet{s0} sent'],
      [['tcps_sndpack', 'tcps_sndbyte'], '\t\t{0} data packet{s0} ({1} byte{s1})'],
      [['tcps_sndrexmitpack', 'tcps_sndrexmitbyte'], '\t\t{0} data packet{s0} ({1} byte{s1}) retransmitted'],
      [['tcps_sndrexmitbad'], '\t\t{0} data packet{s0} unnecessarily retransmitted'],
      [['tcps_mturesent'], '\t\t{0} resend{s0} initiated by MTU discovery'],
      [['tcps_sndacks', 'tcps_delack'], '\t\t{0} ack-only packet{s0} ({1} delayed)'],
      [['tcps_sndurg'], '\t\t{0} URG only packet{s0}'],
      [['tcps_sndprobe'], '\t\t{0} window probe packet{s0}'],
      [['tcps_sndwinup'], '\t\t{0} window update packet{s0}'],
      [['tcps_sndctrl'], '\t\t{0} control packet{s0}'],
      [['tcps_tlpresends', 'tcps_tlpresend_bytes'], '\t\t{0} data packet{s0} ({1} byte{s1}) sent as tail loss probes'],
      [['tcps_rcvtotal'], '\t{0} packet{s0} received'],
      [['tcps_rcvackpack', 'tcps_rcvackbyte'], '\t\t{0} ack{s0} (for {1} byte{s1})'],
      [['tcps_rcvdupack'], '\t\t{0} duplicate ack{s0}'],
      [['tcps_tunneled_pkts'], '\t\t{0} UDP tunneled pkt{s0}'],
      [['tcps_tunneled_errs'], '\t\t{0} UDP tunneled pkt cnt with error{s0}'],
      [['tcps_rcvacktoomuch'], '\t\t{0} ack{s0} for unsent data'],
      [['tcps_rcvghostack'], '\t\t{0} ack{s0} for data never been sent (ghost acks)'],
      [['tcps_rcvacktooold'], '\t\t{0} ack{s0} for data too old'],
      [['tcps_challenge_ack'], '\t\t{0} challenge ACK{s0} sent (RFC 5961)'],
      [['tcps_ack_war_drops'], '\t\t{0} challenge ACK{s0} suppressed by the rate limit'],
      [['tcps_rcvpack', 'tcps_rcvbyte'], '\t\t{0} packet{s0} ({1} byte{s1}) received in-sequence'],
      [['tcps_rcvduppack', 'tcps_rcvdupbyte'], '\t\t{0} completely duplicate packet{s0} ({1} byte{s1})'],
      [['tcps_pawsdrop'], '\t\t{0} old duplicate packet{s0}'],
      [['tcps_rcvpartduppack', 'tcps_rcvpartdupbyte'], '\t\t{0} packet{s0} with some dup. data ({1} byte{s1} duped)'],
      [['tcps_rcvoopack', 'tcps_rcvoobyte'], '\t\t{0} out-of-order packet{s0} ({1} byte{s1})'],
      [['tcps_rcvpackafterwin', 'tcps_rcvbyteafterwin'], '\t\t{0} packet{s0} ({1} byte{s1}) of data after window'],
      [['tcps_rcvwinprobe'], '\t\t{0} window probe{s0}'],
      [['tcps_rcvwinupd'], '\t\t{0} window update packet{s0}'],
      [['tcps_dsack_count'], '\t\t{0} packet{s0} received with dsack'],
      [['tcps_dsack_bytes'], '\t\t{0} dsack byte{s0} received (no TLP)'],
      [['tcps_dsack_tlp_bytes'], '\t\t{0} dsack byte{s0} received (TLP)'],
      [['tcps_rcvafterclose'], '\t\t{0} packet{s0} received after close'],
      [['tcps_rcvbadsum'], '\t\t{0} discarded for bad checksum{s0}'],
      [['tcps_rcvbadoff'], '\t\t{0} discarded for bad header offset field{s0}'],
      [['tcps_rcvshort'], '\t\t{0} discarded because packet too short'],
      [['tcps_rcvreassfull'], '\t\t{0} discarded due to full reassembly queue'],
      [['tcps_rcvmemdrop'], '\t\t{0} discarded due to memory problems'],
      [['tcps_reass_overflow'], '\t\t{0} discarded due to reassembly queue overflow'],
      [['tcps_minmssdrops'], '\t\t{0} discarded for an MSS below net.inet.tcp.minmss'],
      [['tcps_connattempt'], '\t{0} connection request{s0}'],
      [['tcps_accepts'], '\t{0} connection accept{s0}'],
      [['tcps_badsyn'], '\t{0} bad connection attempt{s0}'],
      [['tcps_listendrop'], '\t{0} listen queue overflow{s0}'],
      [['tcps_badrst'], '\t{0} ignored RSTs in the window{s0}'],
      [['tcps_connects'], '\t{0} connection{s0} established (including accepts)'],
      [['tcps_usedrtt'], '\t\t{0} time{s0} used RTT from hostcache'],
      [['tcps_usedrttvar'], '\t\t{0} time{s0} used RTT variance from hostcache'],
      [['tcps_usedssthresh'], '\t\t{0} time{s0} used slow-start threshold from hostcache'],
      [['tcps_closed', 'tcps_drops'], '\t{0} connection{s0} closed (including {1} drop{s1})'],
      [['tcps_cachedrtt'], '\t\t{0} connection{s0} updated cached RTT on close'],
      [['tcps_cachedrttvar'], '\t\t{0} connection{s0} updated cached RTT variance on close'],
      [['tcps_cachedssthresh'], '\t\t{0} connection{s0} updated cached ssthresh on close'],
      [['tcps_conndrops'], '\t{0} embryonic connection{s0} dropped'],
      [['tcps_rttupdated', 'tcps_segstimed'], '\t{0} segment{s0} updated rtt (of {1} attempt{s1})'],
      [['tcps_rexmttimeo'], '\t{0} retransmit timeout{s0}'],
      [['tcps_timeoutdrop'], '\t\t{0} connection{s0} dropped by rexmit timeout'],
      [['tcps_persisttimeo'], '\t{0} persist timeout{s0}'],
      [['tcps_persistdrop'], '\t\t{0} connection{s0} dropped by persist timeout'],
      [['tcps_finwait2_drops'], '\t{0} Connection{s0} (fin_wait_2) dropped because of timeout'],
      [['tcps_keeptimeo'], '\t{0} keepalive timeout{s0}'],
      [['tcps_keepprobe'], '\t\t{0} keepalive probe{s0} sent'],
      [['tcps_keepdrops'], '\t\t{0} connection{s0} dropped by keepalive'],
      [['tcps_predack'], '\t{0} correct ACK header prediction{s0}'],
      [['tcps_preddat'], '\t{0} correct data packet header prediction{s0}'],
      [['tcps_sc_added'], '\t{0} syncache entr{ies0} added'],
      [['tcps_sc_retransmitted'], '\t\t{0} retransmitted'],
      [['tcps_sc_dupsyn'], '\t\t{0} dupsyn'],
      [['tcps_sc_dropped'], '\t\t{0} dropped'],
      [['tcps_sc_completed'], '\t\t{0} completed'],
      [['tcps_sc_bucketoverflow'], '\t\t{0} bucket overflow'],
      [['tcps_sc_cacheoverflow'], '\t\t{0} cache overflow'],
      [['tcps_sc_reset'], '\t\t{0} reset'],
      [['tcps_sc_stale'], '\t\t{0} stale'],
      [['tcps_sc_aborted'], '\t\t{0} aborted'],
      [['tcps_sc_badack'], '\t\t{0} badack'],
      [['tcps_sc_unreach'], '\t\t{0} unreach'],
      [['tcps_sc_zonefail'], '\t\t{0} zone failures'],
      [['tcps_sc_sendcookie'], '\t{0} cookie{s0} sent'],
      [['tcps_sc_recvcookie'], '\t{0} cookie{s0} received'],
      [['tcps_sc_spurcookie'], '\t{0} spurious cookie{s0} rejected'],
      [['tcps_sc_failcookie'], '\t{0} failed cookie{s0} rejected'],
      [['tcps_hc_added'], '\t{0} hostcache entr{ies0} added'],
      [['tcps_hc_bucketoverflow'], '\t\t{0} bucket overflow'],
      [['tcps_sack_recovery_episode'], '\t{0} SACK recovery episode{s0}'],
      [['tcps_sack_rexmits'], '\t{0} segment rexmit{s0} in SACK recovery episodes'],
      [['tcps_sack_rexmit_bytes'], '\t{0} byte rexmit{s0} in SACK recovery episodes'],
      [['tcps_sack_rcv_blocks'], '\t{0} SACK option{s0} (SACK blocks) received'],
      [['tcps_sack_send_blocks'], '\t{0} SACK option{s0} (SACK blocks) sent'],
      [['tcps_sack_lostrexmt'], '\t{0} SACK retransmission{s0} lost'],
      [['tcps_sack_sboverflow'], '\t{0} SACK scoreboard overflow'],
      [['tcps_ecn_ce'], '\t{0} packet{s0} with ECN CE bit set'],
      [['tcps_ecn_ect0'], '\t{0} packet{s0} with ECN ECT(0) bit set'],
      [['tcps_ecn_ect1'], '\t{0} packet{s0} with ECN ECT(1) bit set'],
      [['tcps_ecn_rcvce'], '\t{0} packet{s0} received with ECN CE bit set'],
      [['tcps_ecn_rcvect0'], '\t{0} packet{s0} received with ECN ECT(0) bit set'],
      [['tcps_ecn_rcvect1'], '\t{0} packet{s0} received with ECN ECT(1) bit set'],
      [['tcps_ecn_sndect0'], '\t{0} packet{s0} sent with ECN ECT(0) bit set'],
      [['tcps_ecn_sndect1'], '\t{0} packet{s0} sent with ECN ECT(1) bit set'],
      [['tcps_ecn_shs'], '\t{0} successful ECN handshake{s0}'],
      [['tcps_ecn_rcwnd'], '\t{0} time{s0} ECN reduced the congestion window'],
      [['tcps_sig_rcvgoodsig'], '\t{0} packet{s0} with matching signature received'],
      [['tcps_sig_rcvbadsig'], '\t{0} packet{s0} with bad signature received'],
      [['tcps_sig_err_buildsig'], '\t{0} time{s0} failed to make signature due to no SA'],
      [['tcps_sig_err_sigopt'], '\t{0} time{s0} unexpected signature received'],
      [['tcps_sig_err_nosigopt'], '\t{0} time{s0} no signature provided by segment'],
      [['tcps_pmtud_blackhole_activated'], '\t{0} Path MTU discovery black hole detection activation{s0}'],
      [['tcps_pmtud_blackhole_activated_min_mss'], '\t{0} Path MTU discovery black hole detection min MSS activation{s0}'],
      [['tcps_pmtud_blackhole_failed'], '\t{0} Path MTU discovery black hole detection failure{s0}'],
      [['tcps_tw_recycles'], '\t{0} time{s0} connection in TIME-WAIT state was recycled'],
      [['tcps_tw_resets'], '\t{0} time{s0} connection in TIME-WAIT state received a RST'],
      [['tcps_tw_responds'], '\t{0} time{s0} connection in TIME-WAIT state responded'],
      [['tcps_progdrops'], '\t{0} connection{s0} dropped for lack of progress'],
      [['tcps_pcbcachemiss'], '\t{0} PCB cache miss{es0}'],
      [['tcps_delayed_free'], '\t{0} control block{s0} freed late by a pending timer'],
    ],
  },
  {
    proto: 'udp',
    node: 'net.inet.udp.stats',
    derive: (s) => ({
      'udps_noportbcast+udps_noportmcast': (s.udps_noportbcast ?? 0) + (s.udps_noportmcast ?? 0),
      delivered:
        (s.udps_ipackets ?? 0) -
        (s.udps_hdrops ?? 0) -
        (s.udps_badlen ?? 0) -
        (s.udps_badsum ?? 0) -
        (s.udps_noport ?? 0) -
        (s.udps_noportbcast ?? 0) -
        (s.udps_noportmcast ?? 0) -
        (s.udps_fullsock ?? 0),
    }),
    lines: [
      [['udps_ipackets'], '\t{0} datagram{s0} received'],
      [['udps_hdrops'], '\t{0} with incomplete header'],
      [['udps_badlen'], '\t{0} with bad data length field'],
      [['udps_badsum'], '\t{0} with bad checksum'],
      [['udps_nosum'], '\t{0} with no checksum'],
      [['udps_noport'], '\t{0} dropped due to no socket'],
      [['udps_noportbcast+udps_noportmcast'], '\t{0} broadcast/multicast datagram{s0} undelivered'],
      [['udps_fullsock'], '\t{0} dropped due to full socket buffers'],
      [['udpps_pcbhashmiss'], '\t{0} not for hashed pcb'],
      [['delivered'], '\t{0} delivered'],
      [['udps_opackets'], '\t{0} datagram{s0} output'],
      [['udps_filtermcast'], '\t{0} time{s0} multicast source filter matched'],
    ],
  },
  {
    proto: 'ip',
    node: 'net.inet.ip.stats',
    lines: [
      [['ips_total'], '\t{0} total packet{s0} received'],
      [['ips_badsum'], '\t{0} bad header checksum{s0}'],
      [['ips_toosmall'], '\t{0} with size smaller than minimum'],
      [['ips_tooshort'], '\t{0} with data size < data length'],
      [['ips_toolong'], '\t{0} with ip length > max ip packet size'],
      [['ips_badhlen'], '\t{0} with header length < data size'],
      [['ips_badlen'], '\t{0} with data length < header length'],
      [['ips_badoptions'], '\t{0} with bad options'],
      [['ips_badvers'], '\t{0} with incorrect version number'],
      [['ips_fragments'], '\t{0} fragment{s0} received'],
      [['ips_fragdropped'], '\t{0} fragment{s0} dropped (dup or out of space)'],
      [['ips_fragtimeout'], '\t{0} fragment{s0} dropped after timeout'],
      [['ips_reassembled'], '\t{0} packet{s0} reassembled ok'],
      [['ips_delivered'], '\t{0} packet{s0} for this host'],
      [['ips_noproto'], '\t{0} packet{s0} for unknown/unsupported protocol'],
      [['ips_forward', 'ips_fastforward'], '\t{0} packet{s0} forwarded ({1} packet{s1} fast forwarded)'],
      [['ips_cantforward'], '\t{0} packet{s0} not forwardable'],
      [['ips_notmember'], '\t{0} packet{s0} received for unknown multicast group'],
      [['ips_redirectsent'], '\t{0} redirect{s0} sent'],
      [['ips_localout'], '\t{0} packet{s0} sent from this host'],
      [['ips_rawout'], '\t{0} packet{s0} sent with fabricated ip header'],
      [['ips_odropped'], '\t{0} output packet{s0} dropped due to no bufs, etc.'],
      [['ips_noroute'], '\t{0} output packet{s0} discarded due to no route'],
      [['ips_fragmented'], '\t{0} output datagram{s0} fragmented'],
      [['ips_ofragments'], '\t{0} fragment{s0} created'],
      [['ips_cantfrag'], "\t{0} datagram{s0} that can't be fragmented"],
      [['ips_nogif'], "\t{0} tunneling packet{s0} that can't find gif"],
      [['ips_badaddr'], '\t{0} datagram{s0} with bad address in header'],
    ],
  },
  {
    proto: 'icmp',
    node: 'net.inet.icmp.stats',
    lines: [
      [['icps_error'], '\t{0} call{s0} to icmp_error'],
      [['icps_oldicmp'], '\t{0} error{s0} not generated in response to an icmp message'],
      [['icps_oldshort'], '\t{0} error{s0} not generated because old message was too short'],
      [['icps_ratelimited'], '\t{0} error{s0} not generated because of rate limitation'],
      { field: 'icps_outhist', heading: '\tOutput histogram:', names: ICMP_NAMES, fallback: (i) => `unknown ICMP #${i}` },
      [['icps_badcode'], '\t{0} message{s0} with bad code fields'],
      [['icps_tooshort'], '\t{0} message{s0} less than the minimum length'],
      [['icps_checksum'], '\t{0} message{s0} with bad checksum'],
      [['icps_badlen'], '\t{0} message{s0} with bad length'],
      [['icps_bmcastecho'], '\t{0} multicast echo requests ignored'],
      [['icps_bmcasttstamp'], '\t{0} multicast timestamp requests ignored'],
      { field: 'icps_inhist', heading: '\tInput histogram:', names: ICMP_NAMES, fallback: (i) => `unknown ICMP #${i}` },
      [['icps_reflect'], '\t{0} message response{s0} generated'],
      [['icps_badaddr'], '\t{0} invalid return address{es0}'],
      [['icps_noroute'], '\t{0} no return route{s0}'],
    ],
  },
  {
    proto: 'arp',
    node: 'net.link.ether.arp.stats',
    lines: [
      [['txrequests'], '\t{0} ARP request{s0} sent'],
      [['txerrors'], '\t{0} ARP request{s0} failed to sent'],
      [['txreplies'], '\t{0} ARP repl{ies0} sent'],
      [['rxrequests'], '\t{0} ARP request{s0} received'],
      [['rxreplies'], '\t{0} ARP repl{ies0} received'],
      [['received'], '\t{0} ARP packet{s0} received'],
      [['dropped'], '\t{0} total packet{s0} dropped due to no ARP entry'],
      [['timeouts'], '\t{0} ARP entr{ies0} timed out'],
      [['dupips'], '\t{0} Duplicate IP{s0} seen'],
      [['badlen'], '\t{0} ARP packet{s0} with bad length'],
      [['badformat'], '\t{0} ARP packet{s0} with bad format'],
    ],
  },
  {
    proto: 'ip6',
    node: 'net.inet6.ip6.stats',
    lines: [
      [['ip6s_total'], '\t{0} total packet{s0} received'],
      [['ip6s_toosmall'], '\t{0} with size smaller than minimum'],
      [['ip6s_tooshort'], '\t{0} with data size < data length'],
      [['ip6s_badoptions'], '\t{0} with bad options'],
      [['ip6s_badvers'], '\t{0} with incorrect version number'],
      [['ip6s_fragments'], '\t{0} fragment{s0} received'],
      [['ip6s_fragdropped'], '\t{0} fragment{s0} dropped (dup or out of space)'],
      [['ip6s_fragtimeout'], '\t{0} fragment{s0} dropped after timeout'],
      [['ip6s_fragoverflow'], '\t{0} fragment{s0} that exceeded limit'],
      [['ip6s_atomicfrags'], '\t{0} atomic fragment{s0}'],
      [['ip6s_reassembled'], '\t{0} packet{s0} reassembled ok'],
      [['ip6s_delivered'], '\t{0} packet{s0} for this host'],
      [['ip6s_noproto'], '\t{0} packet{s0} for unknown/unsupported protocol'],
      [['ip6s_forward'], '\t{0} packet{s0} forwarded'],
      [['ip6s_cantforward'], '\t{0} packet{s0} not forwardable'],
      [['ip6s_redirectsent'], '\t{0} redirect{s0} sent'],
      [['ip6s_localout'], '\t{0} packet{s0} sent from this host'],
      [['ip6s_rawout'], '\t{0} packet{s0} sent with fabricated ip header'],
      [['ip6s_odropped'], '\t{0} output packet{s0} dropped due to no bufs, etc.'],
      [['ip6s_noroute'], '\t{0} output packet{s0} discarded due to no route'],
      [['ip6s_fragmented'], '\t{0} output datagram{s0} fragmented'],
      [['ip6s_ofragments'], '\t{0} fragment{s0} created'],
      [['ip6s_cantfrag'], "\t{0} datagram{s0} that can't be fragmented"],
      [['ip6s_badscope'], '\t{0} packet{s0} that violated scope rules'],
      [['ip6s_notmember'], "\t{0} multicast packet{s0} which we don't join"],
      [['ip6s_badaddr'], '\t{0} packet{s0} with bad address in header'],
      [['ip6s_rthdr0'], '\t{0} packet{s0} with type 0 routing header dropped'],
      { field: 'ip6s_nxthist', heading: '\tInput histogram:', names: IP6_NH_NAMES, fallback: (i) => `#${i}` },
      [['ip6s_m1'], '\tMbuf statistics:\n\t\t{0} one mbuf'],
      [['ip6s_mext1'], '\t\t{0} one ext mbuf'],
      [['ip6s_mext2m'], '\t\t{0} two or more ext mbuf'],
      [['ip6s_exthdrtoolong'], '\t{0} packet{s0} whose headers are not continuous'],
      [['ip6s_nogif'], "\t{0} tunneling packet{s0} that can't find gif"],
      [['ip6s_toomanyhdr'], '\t{0} packet{s0} discarded because of too many headers'],
      [['ip6s_sources_none'], '\t{0} failure{s0} of source address selection'],
      [['ip6s_forward_cachehit'], '\t{0} forward cache hit'],
      [['ip6s_forward_cachemiss'], '\t{0} forward cache miss'],
    ],
  },
  {
    proto: 'icmp6',
    node: 'net.inet6.icmp6.stats',
    lines: [
      [['icp6s_error'], '\t{0} call{s0} to icmp6_error'],
      [['icp6s_canterror'], '\t{0} error{s0} not generated in response to an icmp6 message'],
      [['icp6s_toofreq'], '\t{0} error{s0} not generated because of rate limitation'],
      { field: 'icp6s_outhist', heading: '\tOutput histogram:', names: ICMP6_NAMES, fallback: (i) => `#${i}` },
      [['icp6s_badcode'], '\t{0} message{s0} with bad code fields'],
      [['icp6s_tooshort'], '\t{0} message{s0} < minimum length'],
      [['icp6s_checksum'], '\t{0} bad checksum{s0}'],
      [['icp6s_badlen'], '\t{0} message{s0} with bad length'],
      [['icp6s_dropped'], '\t{0} total packet{s0} dropped due to failed NDP resolution'],
      { field: 'icp6s_inhist', heading: '\tInput histogram:', names: ICMP6_NAMES, fallback: (i) => `#${i}` },
      [['icp6s_odst_unreach_noroute'], '\tHistogram of error messages to be generated:\n\t\t{0} no route'],
      [['icp6s_odst_unreach_admin'], '\t\t{0} administratively prohibited'],
      [['icp6s_odst_unreach_beyondscope'], '\t\t{0} beyond scope'],
      [['icp6s_odst_unreach_addr'], '\t\t{0} address unreachable'],
      [['icp6s_odst_unreach_noport'], '\t\t{0} port unreachable'],
      [['icp6s_opacket_too_big'], '\t\t{0} packet too big'],
      [['icp6s_otime_exceed_transit'], '\t\t{0} time exceed transit'],
      [['icp6s_otime_exceed_reassembly'], '\t\t{0} time exceed reassembly'],
      [['icp6s_oparamprob_header'], '\t\t{0} erroneous header field'],
      [['icp6s_oparamprob_nextheader'], '\t\t{0} unrecognized next header'],
      [['icp6s_oparamprob_option'], '\t\t{0} unrecognized option'],
      [['icp6s_oredirect'], '\t\t{0} redirect'],
      [['icp6s_ounknown'], '\t\t{0} unknown'],
      [['icp6s_reflect'], '\t{0} message response{s0} generated'],
      [['icp6s_nd_toomanyopt'], '\t{0} message{s0} with too many ND options'],
      [['icp6s_nd_badopt'], '\t{0} message{s0} with bad ND options'],
      [['icp6s_badns'], '\t{0} bad neighbor solicitation message{s0}'],
      [['icp6s_badna'], '\t{0} bad neighbor advertisement message{s0}'],
      [['icp6s_badrs'], '\t{0} bad router solicitation message{s0}'],
      [['icp6s_badra'], '\t{0} bad router advertisement message{s0}'],
      [['icp6s_badredirect'], '\t{0} bad redirect message{s0}'],
      [['icp6s_overflowdefrtr'], '\t{0} default routers overflow{s0}'],
      [['icp6s_overflowprfx'], '\t{0} prefix overflow{s0}'],
      [['icp6s_overflownndp'], '\t{0} neighbour entries overflow{s0}'],
      [['icp6s_overflowredirect'], '\t{0} redirect overflow{s0}'],
      [['icp6s_invlhlim'], '\t{0} message{s0} with invalid hop limit'],
      [['icp6s_pmtuchg'], '\t{0} path MTU change{s0}'],
      [['icp6s_pmtuignored'], '\t{0} path MTU update{s0} ignored'],
      [['icp6s_dad_duplicated'], '\t{0} duplicate address{es0} detected by DAD'],
      [['icp6s_dupaddr_defended'], '\t{0} duplicate address{es0} defended'],
    ],
  },
  {
    proto: 'rip6',
    node: 'net.inet6.ip6.rip6stats',
    lines: [
      [['rip6s_ipackets'], '\t{0} message{s0} received'],
      [['rip6s_isum'], '\t{0} checksum calculation{s0} on inbound'],
      [['rip6s_badsum'], '\t{0} message{s0} with bad checksum'],
      [['rip6s_nosock'], '\t{0} message{s0} dropped due to no socket'],
      [['rip6s_nosockmcast'], '\t{0} multicast message{s0} dropped due to no socket'],
      [['rip6s_fullsock'], '\t{0} message{s0} dropped due to full socket buffers'],
      [['rip6s_opackets'], '\t{0} message{s0} sent'],
    ],
  },
];

function fill(template: string, vals: number[]): string {
  return template.replace(/\{(s|es|ies)?(\d)\}/g, (_m, plural: string | undefined, idx: string) => {
    const v = vals[Number(idx)] ?? 0;
    if (plural === undefined) return String(v);
    if (plural === 'ies') return v === 1 ? 'y' : 'ies';
    return v === 1 ? '' : plural;
  });
}

/**
 * Format one protocol's statistics (`stats` is the node's value). `suppressZero` drops lines
 * whose counters are all zero (-ss / -z). Returns the text, heading included.
 */
export function formatStats(p: ProtoStats, stats: { [k: string]: SysctlJson }, suppressZero: boolean): string {
  const num: Record<string, number> = {};
  const arrays: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(stats)) {
    if (typeof v === 'number') num[k] = v;
    else if (Array.isArray(v)) arrays[k] = v.map((x) => (typeof x === 'number' ? x : 0));
  }
  const derived = p.derive ? p.derive(num) : {};
  const all: Record<string, number> = { ...num, ...derived };
  const used = new Set<string>();
  let out = `${p.proto}:\n`;
  for (const l of p.lines) {
    if (!Array.isArray(l)) {
      const h = arrays[l.field];
      if (h === undefined) continue;
      used.add(l.field);
      let body = '';
      h.forEach((n, i) => {
        if (n !== 0) body += `\t\t${l.names[i] ?? l.fallback(i)}: ${n}\n`;
      });
      if (body !== '') out += `${l.heading}\n${body}`;
      continue;
    }
    const [fields, template] = l;
    if (!fields.every((f) => all[f] !== undefined)) continue;
    for (const f of fields) for (const part of f.split('+')) used.add(part);
    for (const f of fields) used.add(f);
    const vals = fields.map((f) => all[f] as number);
    if (suppressZero && vals.every((v) => v === 0)) continue;
    out += `${fill(template, vals)}\n`;
  }
  // Counters no line names: shown under their own names, so nothing is hidden.
  for (const [k, v] of Object.entries(num)) {
    if (used.has(k) || (suppressZero && v === 0)) continue;
    out += `\t${v} ${k}\n`;
  }
  for (const [k, h] of Object.entries(arrays)) {
    if (used.has(k)) continue;
    h.forEach((n, i) => {
      if (n !== 0 || !suppressZero) out += `\t${n} ${k}[${i}]\n`;
    });
  }
  return out;
}
