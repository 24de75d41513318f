/*
 * title: IP bytes received by host
 * group: network
 * description: Sums IP payload bytes received, by source address.
 */
ip:::receive
{
	@bytes[args[2]->ip_saddr] = sum(args[2]->ip_plength);
}
