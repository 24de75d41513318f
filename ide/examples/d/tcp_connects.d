/*
 * title: TCP connections (trace)
 * group: network
 * description: Prints each outbound TCP connection request: process and remote address.
 * platform: illumos
 */
tcp:::connect-request
{
	printf("%-16s %-7d %s:%d\n", execname, pid, args[2]->ip_daddr, args[4]->tcp_dport);
}
